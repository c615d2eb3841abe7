package api

import (
	"net/http"
	"slices"
	"strconv"
	"strings"

	jsoniter "github.com/json-iterator/go"

	"github.com/loam-logs/loam/server/labels"
	"github.com/loam-logs/loam/server/logql/engine"
)

// Loki's response encoding flags. A client lists them in a request header;
// the one Loki acts on, categorize-labels, returns the labels of each log
// entry apart from its stream's: the stream object holds the stream labels
// only, and each value gets a third element,
//
//	["<ns>", "<line>", {"structuredMetadata": {…}, "parsed": {…}}]
//
// with either key left out when the entry has no such labels ({} when it
// has neither). Entries are grouped by their stream labels alone, so a
// stream that `| json` would split by parsed labels stays one stream.
//
// Grafana reads data.encodingFlags, before data.result, to know which of the
// two shapes the values have; so the flags are listed exactly when the
// answer is streams (Loki's query frontend writes none for metric results),
// and every value of the answer has the shape they announce.
const (
	encodingFlagsHeader  = "X-Loki-Response-Encoding-Flags"
	flagCategorizeLabels = "categorize-labels"
)

// encodingFlags are the flags a request asks for, in the order given.
type encodingFlags []string

// requestEncodingFlags reads the flags as Loki does: the first value of the
// header (its name in any case), split at commas, each flag taken as is —
// case and spaces count, so " categorize-labels" is another flag. Unknown
// flags change nothing but are listed back, as Loki lists every flag it was
// sent.
func requestEncodingFlags(r *http.Request) encodingFlags {
	v := r.Header.Get(encodingFlagsHeader)
	if v == "" {
		return nil
	}
	var fs encodingFlags
	for _, f := range strings.Split(v, ",") {
		if !slices.Contains(fs, f) {
			fs = append(fs, f)
		}
	}
	return fs
}

// categorize reports whether the labels are to be returned by category.
func (fs encodingFlags) categorize() bool {
	return slices.Contains(fs, flagCategorizeLabels)
}

// categorizedStream is a stream of a log query answer under categorize-labels.
type categorizedStream struct {
	Stream map[string]string `json:"stream"`
	Values [][3]any          `json:"values"`
}

// entryLabels is the third element of a value under categorize-labels.
type entryLabels struct {
	StructuredMetadata map[string]string `json:"structuredMetadata,omitempty"`
	Parsed             map[string]string `json:"parsed,omitempty"`
}

// categorizedStreams renders the streams of a result the engine grouped by
// stream labels alone (engine.Params.Categorize).
func categorizedStreams(streams []*engine.Stream) []categorizedStream {
	out := make([]categorizedStream, 0, len(streams))
	for _, s := range streams {
		cs := categorizedStream{Stream: s.Labels.Stream.Map(), Values: make([][3]any, len(s.Entries))}
		for i, e := range s.Entries {
			cs.Values[i] = [3]any{strconv.FormatInt(e.T, 10), e.Line,
				entryLabels{StructuredMetadata: labelMap(e.Metadata), Parsed: labelMap(e.Parsed)}}
		}
		out = append(out, cs)
	}
	return out
}

// labelMap is ls as a map, nil when empty.
func labelMap(ls labels.Labels) map[string]string {
	if len(ls) == 0 {
		return nil
	}
	return ls.Map()
}

// writeEntryLabels writes the third element of a value under
// categorize-labels, for the tail, which writes its messages by hand.
func writeEntryLabels(s *jsoniter.Stream, meta, parsed labels.Labels) {
	s.WriteObjectStart()
	if len(meta) > 0 {
		s.WriteObjectField("structuredMetadata")
		writeLabels(s, meta)
	}
	if len(parsed) > 0 {
		if len(meta) > 0 {
			s.WriteMore()
		}
		s.WriteObjectField("parsed")
		writeLabels(s, parsed)
	}
	s.WriteObjectEnd()
}
