package api

import (
	"strconv"

	"github.com/loam-logs/loam/server/logql/engine"
)

type response struct {
	Status string `json:"status"`
	Data   any    `json:"data"`
}

// resultData renders an engine result in Loki's layout: resultType, then
// result, then stats. A streams result also lists the request's encoding
// flags between resultType and result, and under categorize-labels has the
// categorized shape (see encoding.go); a metric result is the same with
// flags or without.
func resultData(res *engine.Result, stats any, flags encodingFlags) any {
	switch res.Type {
	case "streams":
		if flags.categorize() {
			return queryData{ResultType: "streams", EncodingFlags: flags, Result: categorizedStreams(res.Streams), Stats: stats}
		}
		out := make([]streamValue, 0, len(res.Streams))
		for _, s := range res.Streams {
			sv := streamValue{Stream: s.Labels.All.Map(), Values: make([][2]string, len(s.Entries))}
			for i, e := range s.Entries {
				sv.Values[i] = [2]string{strconv.FormatInt(e.T, 10), e.Line}
			}
			out = append(out, sv)
		}
		return queryData{ResultType: "streams", EncodingFlags: flags, Result: out, Stats: stats}
	case "matrix":
		out := make([]matrixValue, 0, len(res.Matrix))
		for _, s := range res.Matrix {
			mv := matrixValue{Metric: s.Labels.Map(), Values: make([]samplePair, len(s.Points))}
			for i, p := range s.Points {
				mv.Values[i] = samplePair{p.T, p.V}
			}
			out = append(out, mv)
		}
		return queryData{ResultType: "matrix", Result: out, Stats: stats}
	case "vector":
		out := make([]vectorValue, 0, len(res.Vector))
		for _, s := range res.Vector {
			out = append(out, vectorValue{Metric: s.Labels.Map(), Value: samplePair{s.T, s.V}})
		}
		return queryData{ResultType: "vector", Result: out, Stats: stats}
	}
	// Loki's frontend writes the time of a scalar in milliseconds where
	// every other answer has seconds; clients see Loki's, so Loam's too.
	return queryData{ResultType: "scalar", Result: samplePair{res.Scalar.T * 1000, res.Scalar.V}, Stats: stats}
}

type queryData struct {
	ResultType    string        `json:"resultType"`
	EncodingFlags encodingFlags `json:"encodingFlags,omitempty"`
	Result        any           `json:"result"`
	Stats         any           `json:"stats,omitempty"`
}

type streamValue struct {
	Stream map[string]string `json:"stream"`
	Values [][2]string       `json:"values"`
}

type matrixValue struct {
	Metric map[string]string `json:"metric"`
	Values []samplePair      `json:"values"`
}

type vectorValue struct {
	Metric map[string]string `json:"metric"`
	Value  samplePair        `json:"value"`
}

// samplePair is [<seconds>, "<value>"]: the time a JSON number with up to
// millisecond precision, the value a string.
type samplePair struct {
	ms int64
	v  float64
}

func (p samplePair) MarshalJSON() ([]byte, error) {
	b := make([]byte, 0, 32)
	b = append(b, '[')
	b = strconv.AppendFloat(b, float64(p.ms)/1000, 'f', -1, 64)
	b = append(b, ',', '"')
	b = append(b, engine.FormatValue(p.v)...)
	b = append(b, '"', ']')
	return b, nil
}
