package output

import (
	"strings"
	"testing"
	"time"
)

func TestLogger(t *testing.T) {
	var buf lockedBuffer
	l := newLogger(&buf, "loam.0")
	now := time.Date(2026, 11, 22, 10, 0, 0, 0, time.Local)
	l.now = func() time.Time { return now }

	l.warnf("reject 400", "push to %s: 400 Bad Request: %s", "http://x/loki/api/v1/push", "too old")
	l.warnf("reject 400", "push to %s: 400 Bad Request: %s", "http://x/loki/api/v1/push", "again") // suppressed
	l.errorf("decode", "cannot decode")                                                            // other kind: written
	now = now.Add(5 * time.Second)
	l.warnf("reject 400", "suppressed too")
	now = now.Add(6 * time.Second)
	l.warnf("reject 400", "after the interval")

	want := strings.Join([]string{
		"[2026/11/22 10:00:00.000] [ warn] [output:loam:loam.0] push to http://x/loki/api/v1/push: 400 Bad Request: too old",
		"[2026/11/22 10:00:00.000] [error] [output:loam:loam.0] cannot decode",
		"[2026/11/22 10:00:11.000] [ warn] [output:loam:loam.0] after the interval (2 similar messages suppressed in the last 11s)",
		"",
	}, "\n")
	if got := buf.String(); got != want {
		t.Errorf("log:\n%s\nwant:\n%s", got, want)
	}
}
