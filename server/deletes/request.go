package deletes

import (
	"encoding/json"
	"fmt"
	"strconv"
)

// The statuses of a request, as Loki names them. A request split into
// parts, some of them purged, is "N% Complete".
const (
	StatusReceived  = "received"
	StatusProcessed = "processed"
)

// Request is a delete request as the API lists it. It is a copy: changing
// it changes nothing in the Manager.
type Request struct {
	ID         string
	Tenant     string
	Query      string // as sent
	Start, End int64  // Unix ms, both inclusive
	CreatedAt  int64  // Unix ms
	// The range is purged in Shards parts (Loki's max_interval), in order;
	// ShardsDone of them are off the disk.
	Shards, ShardsDone int64
}

// Status is Loki's status of the request: received, processed, or the
// share of its parts purged.
func (r Request) Status() string {
	switch {
	case r.ShardsDone == 0:
		return StatusReceived
	case r.ShardsDone >= r.Shards:
		return StatusProcessed
	}
	return fmt.Sprintf("%d%% Complete", int(float64(r.ShardsDone)/float64(r.Shards)*100))
}

// Processed reports whether every part of the request is purged.
func (r Request) Processed() bool { return r.ShardsDone >= r.Shards }

// MarshalJSON writes the request as Loki's GET /loki/api/v1/delete lists
// it: times in Unix seconds with millisecond decimals, and an empty
// user_id (Loki clears it before answering but keeps the field).
func (r Request) MarshalJSON() ([]byte, error) {
	return json.Marshal(struct {
		RequestID string      `json:"request_id"`
		StartTime json.Number `json:"start_time"`
		EndTime   json.Number `json:"end_time"`
		Query     string      `json:"query"`
		Status    string      `json:"status"`
		CreatedAt json.Number `json:"created_at"`
		UserID    string      `json:"user_id"`
	}{r.ID, seconds(r.Start), seconds(r.End), r.Query, r.Status(), seconds(r.CreatedAt), ""})
}

// seconds prints Unix ms as Prometheus' model.Time prints itself in JSON:
// the shortest decimal of the seconds.
func seconds(ms int64) json.Number {
	return json.Number(strconv.FormatFloat(float64(ms)/1000, 'f', -1, 64))
}
