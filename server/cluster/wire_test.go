package cluster

import (
	"bytes"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/loam-logs/loam/server/block"
	"github.com/loam-logs/loam/server/fanout"
	"github.com/loam-logs/loam/server/labels"
	"github.com/loam-logs/loam/server/store"
)

var update = flag.Bool("update", false, "rewrite the golden files")

// golden compares data, as a hex dump, with testdata/name.golden.
func golden(t *testing.T, name string, data []byte) {
	t.Helper()
	path := filepath.Join("testdata", name+".golden")
	dump := hex.Dump(data)
	if *update {
		if err := os.WriteFile(path, []byte(dump), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if dump != string(want) {
		t.Errorf("%s changed (-update rewrites it):\n%s", path, dump)
	}
}

// answerBuf builds an answer in memory.
type answerBuf struct {
	bytes.Buffer
	fw *frameWriter
}

func newAnswerBuf() *answerBuf {
	a := &answerBuf{}
	a.WriteString(wireMagic)
	a.fw = newFrameWriter(&a.Buffer)
	return a
}

var (
	lsA = labels.FromMap(map[string]string{"app": "api", "env": "prod"})
	lsB = labels.FromMap(map[string]string{"app": "db"})
)

// goldenEntries are in backward order, streams interleaved, one without
// a line (NoLines), one with metadata.
var goldenEntries = []struct {
	ls labels.Labels
	e  block.Entry
}{
	{lsA, block.Entry{T: 1_700_000_000_000_000_300, Line: []byte("GET /a 200")}},
	{lsB, block.Entry{T: 1_700_000_000_000_000_200, Line: []byte("slow query"), Meta: labels.FromMap(map[string]string{"trace": "ab"})}},
	{lsA, block.Entry{T: 1_700_000_000_000_000_100, Line: []byte("GET /b 500")}},
	{lsB, block.Entry{T: 1_700_000_000_000_000_100}},
}

func goldenStats() *store.Stats {
	st := &store.Stats{}
	for i, f := range statFields(st) {
		f.Store(int64(i + 1))
	}
	return st
}

// entriesAnswer encodes entries, frames cut every `per` entries.
func entriesAnswer(per int) []byte {
	a := newAnswerBuf()
	var enc entryEncoder
	a.fw.begin(frameEntries)
	for i, x := range goldenEntries {
		if len(a.fw.buf) == 0 {
			enc.start()
		}
		a.fw.buf = enc.append(a.fw.buf, x.ls, &x.e)
		if (i+1)%per == 0 {
			a.fw.flush()
		}
	}
	if len(a.fw.buf) > 0 {
		a.fw.flush()
	}
	a.fw.frame(frameEnd, appendEnd(nil, goldenStats()))
	return a.Bytes()
}

// decodeEntries reads an entries answer back.
func decodeEntries(body []byte) ([]string, *store.Stats, error) {
	fr, err := newFrameReader(bytes.NewReader(body))
	if err != nil {
		return nil, nil, err
	}
	var dec entryDecoder
	var out []string
	for {
		typ, payload, err := fr.next()
		if err != nil {
			return nil, nil, err
		}
		switch typ {
		case frameEntries:
			dec.reset(payload)
			for dec.more() {
				var e block.Entry
				ls := dec.next(&e)
				if dec.d.err != nil {
					return nil, nil, dec.d.err
				}
				out = append(out, entryText(ls, e))
			}
		case frameEnd:
			st := &store.Stats{}
			return out, st, decodeEnd(payload, st)
		default:
			return nil, nil, unexpected(typ)
		}
	}
}

func TestEntriesGolden(t *testing.T) {
	var want []string
	for _, x := range goldenEntries {
		want = append(want, entryText(x.ls, x.e))
	}
	body := entriesAnswer(100)
	golden(t, "entries", body)
	for _, per := range []int{1, 2, 100} {
		got, st, err := decodeEntries(entriesAnswer(per))
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("frames of %d: %q, want %q", per, got, want)
		}
		for i, f := range statFields(st) {
			if want := int64(i + 1); i == 0 && f.Load() != 1 || i > 0 && f.Load() != want {
				t.Errorf("statistic %d: %d, want %d", i, f.Load(), want)
			}
		}
	}
}

func TestTimestampsGolden(t *testing.T) {
	type group struct {
		ls, meta labels.Labels
		ts       []int64
		hs       []uint64
	}
	groups := []group{
		{lsA, nil, []int64{1_700_000_000_000_000_000, 1_700_000_000_000_000_000, 1_700_000_000_001_000_000}, []uint64{fanout.LineHash([]byte("a")), fanout.LineHash([]byte("b")), 7}},
		{lsA, labels.FromMap(map[string]string{"trace": "ab"}), []int64{1_700_000_000_002_000_000}, []uint64{1 << 63}},
		{lsB, nil, []int64{5}, []uint64{0}},
	}
	// A group whose deltas do not fit 32 bits, with widths.
	groups = append(groups, group{lsB, nil, []int64{6, 6 + 1<<32, 6 + 1<<32}, []uint64{1, 2, 3}})
	for _, c := range []struct{ hashes, widths bool }{{false, false}, {true, false}, {false, true}, {true, true}} {
		hashes := c.hashes
		a := newAnswerBuf()
		enc := tsEncoder{hashes: hashes, widths: c.widths}
		a.fw.begin(frameTimestamps)
		a.fw.buf = enc.start(a.fw.buf)
		for _, g := range groups {
			a.fw.buf = enc.append(a.fw.buf, g.ls, g.meta, g.ts, g.hs)
		}
		a.fw.flush()
		a.fw.frame(frameEnd, appendEnd(nil, &store.Stats{}))
		name := "timestamps"
		if hashes {
			name += "-hashes"
		}
		if c.widths {
			name += "-widths"
		}
		golden(t, name, a.Bytes())

		fr, err := newFrameReader(bytes.NewReader(a.Bytes()))
		if err != nil {
			t.Fatal(err)
		}
		typ, payload, err := fr.next()
		if err != nil || typ != frameTimestamps {
			t.Fatal(typ, err)
		}
		var dec tsDecoder
		var got []group
		err = dec.frame(payload, func(ls, meta labels.Labels, ts []int64, hs []uint64) {
			got = append(got, group{ls, meta, append([]int64(nil), ts...), append([]uint64(nil), hs...)})
		})
		if err != nil {
			t.Fatal(err)
		}
		for i := range groups {
			w := groups[i]
			if !hashes {
				w.hs = []uint64(nil)
			}
			if i >= len(got) || !got[i].ls.Equal(w.ls) || !got[i].meta.Equal(w.meta) ||
				!reflect.DeepEqual(got[i].ts, w.ts) || !reflect.DeepEqual(got[i].hs, w.hs) {
				t.Fatalf("hashes %v: groups %v, want %v", hashes, got, groups)
			}
		}
	}
}

func TestOtherAnswersGolden(t *testing.T) {
	a := newAnswerBuf()
	a.fw.frame(frameSeries, appendSeries(appendSeries(nil, lsA), lsB))
	a.fw.frame(frameStrings, appendString(appendString(nil, "app"), "env"))
	var fe figuresEncoder
	figs := []store.Figures{{Entries: 3, Bytes: 30, Chunks: 1}, {}, {Entries: 1 << 40, Bytes: 1 << 50, Chunks: 2}}
	a.fw.frame(frameFigures, fe.append(fe.append(nil, lsA, figs), lsA, figs[:1]))
	var de dropsEncoder
	drops := []store.TailDrop{{Labels: lsB, T: 100}, {Labels: lsB, T: 90}, {Labels: lsA, T: 95}}
	a.fw.frame(frameDrops, de.append(nil, 1234, drops))
	a.fw.frame(frameReady, nil)
	a.fw.frame(frameBeat, nil)
	a.fw.frame(frameCount, appendUvarint(nil, 3))
	a.fw.frame(frameError, appendError(nil, 503, "store closing"))
	golden(t, "other", a.Bytes())

	fr, err := newFrameReader(bytes.NewReader(a.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	next := func(want byte) []byte {
		typ, payload, err := fr.next()
		if err != nil || typ != want {
			t.Fatalf("frame %q, %v; want %q", typ, err, want)
		}
		return payload
	}
	var series []string
	if err := decodeSeries(next(frameSeries), func(ls labels.Labels) { series = append(series, ls.String()) }); err != nil ||
		!reflect.DeepEqual(series, []string{lsA.String(), lsB.String()}) {
		t.Errorf("series %q, %v", series, err)
	}
	if names, err := decodeStrings(next(frameStrings), nil); err != nil || !reflect.DeepEqual(names, []string{"app", "env"}) {
		t.Errorf("strings %q, %v", names, err)
	}
	var fd figuresDecoder
	var gotFigs []string
	if err := fd.frame(next(frameFigures), func(ls labels.Labels, f []store.Figures) { gotFigs = append(gotFigs, fmt.Sprint(ls, f)) }); err != nil ||
		!reflect.DeepEqual(gotFigs, []string{fmt.Sprint(lsA, figs), fmt.Sprint(lsA, figs[:1])}) {
		t.Errorf("figures %q, %v", gotFigs, err)
	}
	var dd dropsDecoder
	total, gotDrops, err := dd.frame(next(frameDrops), nil)
	if err != nil || total != 1234 || fmt.Sprint(gotDrops) != fmt.Sprint(drops) {
		t.Errorf("drops %d %v, %v", total, gotDrops, err)
	}
	next(frameReady)
	next(frameBeat)
	if d := (decoder{b: next(frameCount)}); d.uvarint() != 3 {
		t.Error("count")
	}
	if status, msg, err := decodeError(next(frameError)); status != 503 || msg != "store closing" || err != nil {
		t.Errorf("error frame: %d %q %v", status, msg, err)
	}
	if _, _, err := fr.next(); !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Errorf("after the last frame: %v", err)
	}
}

// TestStatFieldsComplete: every figure of store.Stats travels.
func TestStatFieldsComplete(t *testing.T) {
	var st store.Stats
	listed := map[*atomic.Int64]bool{}
	for _, f := range statFields(&st) {
		listed[f] = true
	}
	v := reflect.ValueOf(&st).Elem()
	for i := range v.NumField() {
		f := v.Field(i)
		if p, ok := f.Addr().Interface().(*atomic.Int64); ok && !listed[p] {
			t.Errorf("store.Stats.%s is not in statFields", v.Type().Field(i).Name)
		}
	}
	if len(listed) != v.NumField() {
		t.Errorf("statFields lists %d figures, store.Stats has %d fields", len(listed), v.NumField())
	}
}

// TestFrameLimits: corrupt lengths and counts fail without allocating
// what they claim.
func TestFrameLimits(t *testing.T) {
	for _, c := range []struct {
		name string
		body []byte
		want string
	}{
		{"huge frame", append([]byte(wireMagic), frameEntries, 0xff, 0xff, 0xff, 0xff, 0x7f), "more than"},
		{"huge count", append([]byte(wireMagic), frameSeries, 3, 0xff, 0xff, 0x7f), "count beyond the payload"},
		{"huge string", append([]byte(wireMagic), frameStrings, 3, 0xff, 0xff, 0x7f), "length beyond the payload"},
		{"trailing", append([]byte(wireMagic), frameEnd, 2, 0, 0), "trailing bytes"},
		{"bad ref", append([]byte(wireMagic), frameEntries, 4, 5, 0, 0, 0), "unknown stream"},
		{"bad flags", append([]byte(wireMagic), frameTimestamps, 1, 6), "flags"},
		{"bad status", append([]byte(wireMagic), frameError, 2, 7, 0), "bad status"},
	} {
		err := decodeAll(c.body)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want %q", c.name, err, c.want)
		}
	}
}

// TestTimestampsEscapes: a group of timestamps with gaps of 4.3 s or more
// (or going back) is written with fixed widths and escapes, 4 bytes a
// close timestamp, and reads back as it was.
func TestTimestampsEscapes(t *testing.T) {
	close := func(n int, from int64) []int64 {
		out := make([]int64, n)
		for i := range out {
			out[i] = from + int64(i)*int64(time.Millisecond)
		}
		return out
	}
	gap := int64(10 * time.Second)
	tests := []struct {
		name string
		ts   []int64
	}{
		{"one run", close(100, 1e18)},
		{"a gap in the middle", append(close(100, 1e18), close(100, 1e18+gap)...)},
		{"gaps everywhere", func() []int64 {
			var out []int64
			for i := range 40 {
				out = append(out, 1e18+int64(i)*gap)
			}
			return out
		}()},
		{"short runs between gaps, then a long one", append(append(close(3, 1e18), close(5, 1e18+gap)...), close(50, 1e18+2*gap)...)},
		{"out of order", []int64{5, 3, 9, 9, 1 << 40, 2}},
	}
	for _, tc := range tests {
		for _, hashes := range []bool{false, true} {
			hs := make([]uint64, len(tc.ts))
			for i := range hs {
				hs[i] = uint64(i) * 0x9e3779b97f4a7c15
			}
			enc := tsEncoder{hashes: hashes, widths: true, escapes: true}
			buf := enc.append(enc.start(nil), lsA, lsB, tc.ts, hs)
			var dec tsDecoder
			var gotTs []int64
			var gotHs []uint64
			err := dec.frame(buf, func(ls, meta labels.Labels, ts []int64, h []uint64) {
				if !ls.Equal(lsA) || !meta.Equal(lsB) {
					t.Fatalf("%s: group of %s %s", tc.name, ls, meta)
				}
				gotTs = append(gotTs, ts...)
				gotHs = append(gotHs, h...)
			})
			if err != nil {
				t.Fatalf("%s: %v", tc.name, err)
			}
			if !reflect.DeepEqual(gotTs, tc.ts) || hashes && !reflect.DeepEqual(gotHs, hs) {
				t.Fatalf("%s, hashes %v: read back %v, want %v", tc.name, hashes, gotTs, tc.ts)
			}
		}
	}
	// Bursts with gaps between them: 4 bytes a timestamp, and a few more
	// for each gap.
	var ts []int64
	for i := range 100 {
		ts = append(ts, close(10, 1e18+int64(i)*gap)...)
	}
	enc := tsEncoder{widths: true, escapes: true}
	if n := len(enc.append(enc.start(nil), lsA, nil, ts, nil)); n > 4*len(ts)+6*100+64 {
		t.Fatalf("%d bytes for %d timestamps in 100 bursts", n, len(ts))
	}
}
