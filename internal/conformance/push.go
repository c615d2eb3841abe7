package conformance

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
)

// PushStats counts what a push sent.
type PushStats struct {
	Batches   int   // push requests
	Entries   int   // log lines
	LineBytes int64 // bytes of the lines themselves, the corpus' raw size
}

// PushFile pushes a corpus file (gzip-compressed or not) to t, shifted.
func PushFile(ctx context.Context, t Target, path string, shift Shift) (PushStats, error) {
	f, err := os.Open(path)
	if err != nil {
		return PushStats{}, err
	}
	defer f.Close()
	st, err := Push(ctx, t, f, shift)
	if err != nil {
		return st, fmt.Errorf("%s: %w", path, err)
	}
	return st, nil
}

// Push sends a corpus to t: one Loki JSON push body per line, each entry's
// timestamp moved by shift, in order, one request at a time. The corpus may
// be gzip-compressed. Every push must be answered 200 or 204.
func Push(ctx context.Context, t Target, corpus io.Reader, shift Shift) (PushStats, error) {
	br := bufio.NewReader(corpus)
	if magic, _ := br.Peek(2); bytes.Equal(magic, []byte{0x1f, 0x8b}) {
		zr, err := gzip.NewReader(br)
		if err != nil {
			return PushStats{}, err
		}
		defer zr.Close()
		br = bufio.NewReader(zr)
	}
	var st PushStats
	for n := 1; ; n++ {
		line, err := br.ReadBytes('\n')
		if len(bytes.TrimSpace(line)) > 0 {
			body, entries, lineBytes, err := shiftBody(line, shift)
			if err != nil {
				return st, fmt.Errorf("line %d: %w", n, err)
			}
			if err := t.push(ctx, body); err != nil {
				return st, fmt.Errorf("line %d: %w", n, err)
			}
			st.Batches++
			st.Entries += entries
			st.LineBytes += lineBytes
		}
		if err == io.EOF {
			return st, nil
		}
		if err != nil {
			return st, err
		}
	}
}

// shiftBody rewrites a JSON push body with every timestamp moved by shift;
// everything else is kept as it was written.
func shiftBody(b []byte, shift Shift) (out []byte, entries int, lineBytes int64, err error) {
	var body map[string]json.RawMessage
	if err := json.Unmarshal(b, &body); err != nil {
		return nil, 0, 0, fmt.Errorf("push body: %w", err)
	}
	var streams []map[string]json.RawMessage
	if err := json.Unmarshal(body["streams"], &streams); err != nil || streams == nil {
		return nil, 0, 0, errors.New("push body has no streams list")
	}
	for _, s := range streams {
		var values [][]json.RawMessage
		if err := json.Unmarshal(s["values"], &values); err != nil {
			return nil, 0, 0, fmt.Errorf("stream values: %w", err)
		}
		for _, v := range values {
			if len(v) < 2 {
				return nil, 0, 0, errors.New("a value is not [ts, line, …]")
			}
			var ts, line string
			if err := json.Unmarshal(v[0], &ts); err != nil {
				return nil, 0, 0, fmt.Errorf("timestamp %s is not a string", v[0])
			}
			n, err := strconv.ParseInt(ts, 10, 64)
			if err != nil {
				return nil, 0, 0, fmt.Errorf("timestamp %q is not integer nanoseconds", ts)
			}
			if err := json.Unmarshal(v[1], &line); err != nil {
				return nil, 0, 0, fmt.Errorf("line %s is not a string", v[1])
			}
			if n, err = shift.add(n); err != nil {
				return nil, 0, 0, err
			}
			v[0] = strconv.AppendQuote(nil, strconv.FormatInt(n, 10))
			entries++
			lineBytes += int64(len(line))
		}
		if s["values"], err = json.Marshal(values); err != nil {
			return nil, 0, 0, err
		}
	}
	if body["streams"], err = json.Marshal(streams); err != nil {
		return nil, 0, 0, err
	}
	out, err = json.Marshal(body)
	return out, entries, lineBytes, err
}

func (t Target) push(ctx context.Context, body []byte) error {
	req, err := t.request(ctx, http.MethodPost, "/loki/api/v1/push", bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := t.client().Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	msg, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	if resp.StatusCode != http.StatusOK && resp.StatusCode != http.StatusNoContent {
		return fmt.Errorf("push: HTTP %d: %s", resp.StatusCode, bytes.TrimSpace(msg))
	}
	return nil
}
