package output

import (
	"fmt"
	"io"
	"sync"
	"time"
)

// logEvery is how often one kind of message may be written; repeats in
// between are counted and the count is reported with the next one written.
const logEvery = 10 * time.Second

// logger writes lines in Fluent Bit's own format, so that the plugin's
// messages read like the rest of Fluent Bit's log on the same stream:
//
//	[2026/11/22 10:00:00] [ warn] [output:loam:loam.0] push to …: 400 Bad Request: …
//
// Each message has a kind ("retry", "reject 400", …); a kind is written at
// most once per logEvery so that a down server does not flood the log with
// one line per flush. Safe for concurrent use.
type logger struct {
	mu     sync.Mutex
	w      io.Writer
	prefix string           // "[output:loam:loam.0] "
	now    func() time.Time // time.Now; tests fix it
	every  time.Duration
	kinds  map[string]*logKind
	buf    []byte
}

type logKind struct {
	last       time.Time // when a message of this kind was last written
	suppressed int       // messages dropped since
}

func newLogger(w io.Writer, name string) *logger {
	return &logger{
		w:      w,
		prefix: "[output:loam:" + name + "] ",
		now:    time.Now,
		every:  logEvery,
		kinds:  map[string]*logKind{},
	}
}

func (l *logger) errorf(kind, format string, args ...any) { l.logf("error", kind, format, args...) }
func (l *logger) warnf(kind, format string, args ...any)  { l.logf(" warn", kind, format, args...) }

// logf writes one message unless a message of the same kind was written
// less than l.every ago.
func (l *logger) logf(level, kind, format string, args ...any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	k := l.kinds[kind]
	if k == nil {
		k = &logKind{}
		l.kinds[kind] = k
	} else if now.Sub(k.last) < l.every {
		k.suppressed++
		return
	}
	b := l.buf[:0]
	b = append(b, '[')
	b = now.AppendFormat(b, "2006/01/02 15:04:05.000")
	b = append(b, "] ["...)
	b = append(b, level...)
	b = append(b, "] "...)
	b = append(b, l.prefix...)
	b = fmt.Appendf(b, format, args...)
	if k.suppressed > 0 {
		b = fmt.Appendf(b, " (%d similar messages suppressed in the last %s)", k.suppressed, now.Sub(k.last).Round(time.Second))
	}
	b = append(b, '\n')
	_, _ = l.w.Write(b) // nowhere to report a failing stderr
	l.buf = b
	k.last = now
	k.suppressed = 0
}
