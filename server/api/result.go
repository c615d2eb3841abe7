package api

import (
	"strconv"
	"time"

	"github.com/loam-logs/loam/server/block"
	"github.com/loam-logs/loam/server/labels"
	"github.com/loam-logs/loam/server/store"
)

type response struct {
	Status string `json:"status"`
	Data   any    `json:"data"`
}

type streamsData struct {
	ResultType string         `json:"resultType"`
	Result     []*streamValue `json:"result"`
	Stats      any            `json:"stats"`
}

type streamValue struct {
	Stream map[string]string `json:"stream"`
	Values [][2]string       `json:"values"`
}

// streamsResult groups entries into result streams. Without the
// categorize-labels encoding, Loki folds structured metadata into the
// stream's labels, so entries with different metadata are different
// streams in the answer.
type streamsResult struct {
	byKey map[string]*streamValue
	order []*streamValue
	buf   []byte
}

func newStreamsResult() *streamsResult {
	return &streamsResult{byKey: map[string]*streamValue{}}
}

func (s *streamsResult) add(ls labels.Labels, e block.Entry) {
	key := ls
	if len(e.Meta) > 0 {
		merged := append(labels.Labels(nil), ls...)
		for _, m := range e.Meta {
			if !merged.Has(m.Name) {
				merged = append(merged, m)
			}
		}
		key = labels.New(merged...)
	}
	s.buf = key.AppendString(s.buf[:0])
	sv := s.byKey[string(s.buf)]
	if sv == nil {
		sv = &streamValue{Stream: key.Map()}
		s.byKey[string(s.buf)] = sv
		s.order = append(s.order, sv)
	}
	sv.Values = append(sv.Values, [2]string{strconv.FormatInt(e.T, 10), string(e.Line)})
}

func (s *streamsResult) data(stats any) streamsData {
	res := s.order
	if res == nil {
		res = []*streamValue{}
	}
	return streamsData{ResultType: "streams", Result: res, Stats: stats}
}

// summary builds the stats object in Loki's layout, with the figures this
// server measures.
func summary(st *store.Stats, returned int, took time.Duration) map[string]any {
	secs := took.Seconds()
	bytes, lines := st.BytesProcessed.Load(), st.LinesProcessed.Load()
	perSec := func(v int64) int64 {
		if secs <= 0 {
			return 0
		}
		return int64(float64(v) / secs)
	}
	return map[string]any{
		"summary": map[string]any{
			"bytesProcessedPerSecond": perSec(bytes),
			"linesProcessedPerSecond": perSec(lines),
			"totalBytesProcessed":     bytes,
			"totalLinesProcessed":     lines,
			"execTime":                secs,
			"queueTime":               0,
			"subqueries":              0,
			"totalEntriesReturned":    returned,
			"splits":                  0,
			"shards":                  0,
		},
		"querier": map[string]any{
			"store": map[string]any{
				"totalChunksRef":        st.ChunksRead.Load() + st.ChunksSkipped.Load(),
				"totalChunksDownloaded": st.ChunksRead.Load(),
				"chunk": map[string]any{
					"compressedBytes":   st.BytesRead.Load(),
					"decompressedBytes": bytes,
					"decompressedLines": lines,
				},
			},
		},
		"ingester": map[string]any{
			"totalLinesSent": st.HeadLines.Load(),
		},
	}
}
