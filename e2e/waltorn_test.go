package e2e

import (
	"encoding/binary"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestWALTornTail damages the tail of the newest WAL segment after a
// SIGKILL, as a crash mid-write or a power loss can: the server must start,
// keep every record before the damage, count the corruption and truncate it
// away so that the next start is clean.
func TestWALTornTail(t *testing.T) {
	appendBytes := func(b []byte) func(*testing.T, string) {
		return func(t *testing.T, path string) {
			f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := f.Write(b); err != nil {
				t.Fatal(err)
			}
			if err := f.Close(); err != nil {
				t.Fatal(err)
			}
		}
	}
	// A plausible record header (length 10) whose checksum does not match.
	badCRC := binary.LittleEndian.AppendUint32(nil, 10)
	badCRC = binary.LittleEndian.AppendUint32(badCRC, 0xdeadbeef)
	badCRC = append(badCRC, "0123456789"...)

	cases := []struct {
		name         string
		damage       func(*testing.T, string)
		lastSurvives bool // the last acknowledged push is before the damage
	}{
		{"garbage appended", appendBytes([]byte("GARBAGE! this is not a WAL record \x00\xff\x13\x37")), true},
		{"record with bad checksum appended", appendBytes(badCRC), true},
		{"zeros appended", appendBytes(make([]byte, 4096)), true},
		{"half a record header appended", appendBytes([]byte{7, 0, 0}), true},
		{"last bytes truncated", func(t *testing.T, path string) {
			fi, err := os.Stat(path)
			if err != nil {
				t.Fatal(err)
			}
			if err := os.Truncate(path, fi.Size()-3); err != nil {
				t.Fatal(err)
			}
		}, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			l := startLoam(t, dir)
			base := time.Now().Add(-2 * time.Minute)
			ls := map[string]string{"job": "torn"}
			var pushes [][]entry
			for i := 0; i < 5; i++ {
				var es []entry
				for j := 0; j < 3; j++ {
					es = append(es, entry{Labels: ls, T: base.Add(time.Duration(i*3+j) * time.Millisecond).UnixNano(),
						Line: fmt.Sprintf("push %d entry %d", i, j)})
				}
				if i%2 == 0 {
					l.mustPush(t, "", ctJSON, "", jsonBody(es))
				} else {
					l.mustPush(t, "", ctProto, "", protoBody(es))
				}
				pushes = append(pushes, es)
			}
			l.kill9()

			seg := lastSegment(t, filepath.Join(dir, "wal"))
			c.damage(t, seg)

			l2 := startLoam(t, dir)
			want := slices.Concat(pushes...)
			if !c.lastSurvives {
				want = slices.Concat(pushes[:len(pushes)-1]...)
			}
			checkTorn(t, l2, want, base)
			if v, ok := l2.metrics(t).value("loam_wal_corruptions_total"); !ok || v < 1 {
				t.Errorf("loam_wal_corruptions_total = %v (present %v), want >= 1", v, ok)
			}
			if !regexp.MustCompile(`level=(WARN|ERROR).*(corrupt|torn)`).MatchString(l2.out.String()) {
				t.Errorf("no log line tells about the damaged WAL segment")
			}

			// The damage was truncated away: pushing works, and the next
			// crash and start find no corruption.
			more := []entry{{Labels: ls, T: base.Add(time.Second).UnixNano(), Line: "after recovery"}}
			l2.mustPush(t, "", ctJSON, "", jsonBody(more))
			l2.kill9()
			l3 := startLoam(t, dir)
			checkTorn(t, l3, append(want, more...), base)
			if v, _ := l3.metrics(t).value("loam_wal_corruptions_total"); v != 0 {
				t.Errorf("loam_wal_corruptions_total = %v on the start after recovery, want 0", v)
			}
			l3.stop()
		})
	}
}

// lastSegment returns the newest WAL segment file, which must hold records.
func lastSegment(t *testing.T, walDir string) string {
	t.Helper()
	des, err := os.ReadDir(walDir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, de := range des {
		if len(de.Name()) == 8 && strings.Trim(de.Name(), "0123456789") == "" {
			names = append(names, de.Name())
		}
	}
	if len(names) == 0 {
		t.Fatalf("no WAL segment in %s (files: %v)", walDir, des)
	}
	slices.Sort(names)
	path := filepath.Join(walDir, names[len(names)-1])
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Size() <= 8 {
		t.Fatalf("newest WAL segment %s holds no record (%d bytes)", path, fi.Size())
	}
	return path
}

func checkTorn(t *testing.T, l *loam, want []entry, base time.Time) {
	t.Helper()
	start, end := base.Add(-time.Minute).UnixNano(), time.Now().Add(time.Minute).UnixNano()
	got := l.queryRange(t, "", url.Values{"query": {`{job="torn"}`}, "direction": {"forward"},
		"start": {strconv.FormatInt(start, 10)}, "end": {strconv.FormatInt(end, 10)}})
	all := func(entry) bool { return true }
	if diff := diffStreams(got, expectStreams(want, all, start, end, false, 100)); diff != "" {
		t.Errorf("after the damaged WAL was replayed:\n%s", diff)
	}
}
