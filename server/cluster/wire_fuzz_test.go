package cluster

import (
	"bytes"
	"net/url"
	"reflect"
	"slices"
	"testing"

	"github.com/loam-logs/loam/server/block"
	"github.com/loam-logs/loam/server/labels"
	"github.com/loam-logs/loam/server/store"
)

// decodeAll reads an answer of any kind to its end, each frame with its
// decoder, as the Remote does.
func decodeAll(body []byte) error {
	fr, err := newFrameReader(bytes.NewReader(body))
	if err != nil {
		return err
	}
	var (
		entries entryDecoder
		ts      tsDecoder
		figs    figuresDecoder
		drops   dropsDecoder
	)
	for {
		typ, payload, err := fr.next()
		if err != nil {
			return err
		}
		switch typ {
		case frameEntries:
			entries.reset(payload)
			for entries.more() {
				var e block.Entry
				entries.next(&e)
			}
			err = entries.d.end()
		case frameTimestamps:
			err = ts.frame(payload, func(ls, meta labels.Labels, ts []int64, hs []uint64) {})
		case frameSeries:
			err = decodeSeries(payload, func(labels.Labels) {})
		case frameStrings:
			_, err = decodeStrings(payload, nil)
		case frameFigures:
			err = figs.frame(payload, func(labels.Labels, []store.Figures) {})
		case frameDrops:
			_, _, err = drops.frame(payload, nil)
		case frameCount:
			d := decoder{b: payload}
			d.uvarint()
			err = d.end()
		case frameReady, frameBeat:
		case frameEnd:
			return decodeEnd(payload, &store.Stats{})
		case frameError:
			_, _, err = decodeError(payload)
		default:
			err = unexpected(typ)
		}
		if err != nil {
			return err
		}
	}
}

// FuzzDecode: no answer, however corrupt, makes a decoder panic or
// allocate beyond its input.
func FuzzDecode(f *testing.F) {
	f.Add(entriesAnswer(1))
	f.Add(entriesAnswer(100))
	f.Add([]byte(wireMagic + "Z\x00"))
	f.Add([]byte(wireMagic + "T\x04\x01\x00\x00\x01"))
	f.Add([]byte(wireMagic + "T\x0e\x02\x00\x00\x03\x0a\x04\x01\x00\x00\x00\x02\x00\x00\x00"))
	f.Add([]byte(wireMagic + "F\x05\x00\x00\x01\x02\x02"))
	f.Add([]byte(wireMagic + "D\x03\x05\x00\x00"))
	f.Add([]byte(wireMagic + "X\x03\xf7\x03\x00"))
	f.Fuzz(func(t *testing.T, body []byte) {
		decodeAll(body)
	})
}

// FuzzEntriesRoundTrip: entries come out as they went in.
func FuzzEntriesRoundTrip(f *testing.F) {
	f.Add(int64(1_700_000_000_000_000_000), int64(-5), []byte("line"), []byte(nil), "app", "a\xffb", "trace", "", uint8(3))
	f.Fuzz(func(t *testing.T, t1, t2 int64, l1, l2 []byte, name, value, metaName, metaValue string, shape uint8) {
		ls1 := labels.Labels{{Name: name, Value: value}}
		ls2 := labels.Labels{{Name: name, Value: value + "2"}, {Name: "z", Value: ""}}
		var meta labels.Labels
		if shape&1 != 0 {
			meta = labels.Labels{{Name: metaName, Value: metaValue}}
		}
		in := []struct {
			ls labels.Labels
			e  block.Entry
		}{
			{ls1, block.Entry{T: t1, Line: l1, Meta: meta}},
			{ls2, block.Entry{T: t2, Line: l2}},
			{ls1, block.Entry{T: t2, Line: l2, Meta: meta}},
		}
		a := newAnswerBuf()
		var enc entryEncoder
		a.fw.begin(frameEntries)
		var want []string
		for i, x := range in {
			if len(a.fw.buf) == 0 {
				enc.start()
			}
			a.fw.buf = enc.append(a.fw.buf, x.ls, &x.e)
			if shape&2 != 0 && i == 0 {
				a.fw.flush() // a frame boundary inside the answer
			}
			if x.e.Line == nil {
				x.e.Line = []byte{}
			}
			want = append(want, entryText(x.ls, x.e))
		}
		a.fw.flush()
		a.fw.frame(frameEnd, appendEnd(nil, &store.Stats{}))
		got, _, err := decodeEntries(a.Bytes())
		if err != nil {
			t.Fatal(err)
		}
		for i := range got {
			if got[i] != want[i] {
				t.Fatalf("entry %d: %q, want %q", i, got[i], want[i])
			}
		}
		if len(got) != len(want) {
			t.Fatalf("%d entries, want %d", len(got), len(want))
		}
	})
}

// FuzzTimestampsRoundTrip: timestamps and hashes come out as they went
// in, in any order.
func FuzzTimestampsRoundTrip(f *testing.F) {
	f.Add(int64(5), int64(-1<<63), int64(1<<63-1), uint64(7), true, false, false)
	f.Add(int64(5), int64(6), int64(1<<32+6), uint64(7), false, true, false)
	f.Add(int64(5), int64(6), int64(1<<32+6), uint64(7), false, true, true)
	f.Fuzz(func(t *testing.T, a, b, c int64, h uint64, hashes, widths, escapes bool) {
		ts := []int64{a, b, c}
		hs := []uint64{h, ^h, 0}
		enc := tsEncoder{hashes: hashes, widths: widths, escapes: escapes}
		buf := enc.start(nil)
		buf = enc.append(buf, lsA, nil, ts, hs)
		buf = enc.append(buf, lsA, lsB, ts[:1], hs[:1])
		var dec tsDecoder
		var gotTs []int64
		var gotHs []uint64
		err := dec.frame(buf, func(ls, meta labels.Labels, ts []int64, hs []uint64) {
			gotTs = append(gotTs, ts...)
			gotHs = append(gotHs, hs...)
		})
		if err != nil {
			t.Fatal(err)
		}
		if want := append(ts, a); !reflect.DeepEqual(gotTs, want) {
			t.Fatalf("timestamps %v, want %v", gotTs, want)
		}
		if hashes && !reflect.DeepEqual(gotHs, append(hs, h)) || !hashes && gotHs != nil {
			t.Fatalf("hashes %v", gotHs)
		}
	})
}

// FuzzParams: any form is parsed or refused with a 400, and what parses
// is sent again as it was read.
func FuzzParams(f *testing.F) {
	f.Add("tenant=t&match=%7Ba%3D%22b%22%7D&start=1&end=2&needle=0:x&needle=1&direction=backward&shards=2&shard=1&line_filter=%7C%3D+%22x%22")
	f.Add("tenant=t&needle=0:&needle=0:a")
	f.Add("tenant=t&share_self=b&share_rf=3&share_member=a:128&share_member=b:c:7&share_member=c:4096")
	f.Add("tenant=t&share_self=b&share_rf=0&share_member=a")
	f.Add("tenant=t&bounds=1,2,3&max_entries=5")
	f.Fuzz(func(t *testing.T, q string) {
		if len(q) > 4096 {
			return
		}
		v, err := url.ParseQuery(q)
		if err != nil {
			return
		}
		parseSeries(v)
		parseLabels(v)
		parseStats(v)
		parseTail(v)
		p, err := parseSelect(v)
		if err != nil {
			if _, ok := err.(*badRequest); !ok {
				t.Fatalf("error %T %v is no badRequest", err, err)
			}
			return
		}
		v2, err := selectValues(p)
		if err != nil {
			t.Fatalf("%+v cannot be sent: %v", p, err)
		}
		again, err := parseSelect(v2)
		if err != nil {
			t.Fatalf("%+v is sent as what does not parse: %v", p, err)
		}
		if labels.MatchersString(again.Matchers) != labels.MatchersString(p.Matchers) {
			t.Fatalf("matchers %s, then %s", labels.MatchersString(p.Matchers), labels.MatchersString(again.Matchers))
		}
		again.Matchers, p.Matchers = nil, nil
		if p.Streams != nil {
			a, b := again.Streams.(*Share), p.Streams.(*Share)
			if a.Self != b.Self || a.RF != b.RF || !slices.Equal(a.Members, b.Members) {
				t.Fatalf("share %v, then %v", b, a)
			}
			again.Streams, p.Streams = nil, nil
		}
		if !reflect.DeepEqual(again, p) {
			t.Fatalf("sent again:\n%+v\n%+v", p, again)
		}
		compileKeep(p.LineFilter)
	})
}
