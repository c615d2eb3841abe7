package patterns

import (
	"testing"

	"github.com/loam-logs/loam/server/labels"
)

var lineLevelTests = []struct {
	line, want string
}{
	// JSON: a level field at the top level or one level down, with its case.
	{`{"level":"info","msg":"user 42 logged in"}`, LevelInfo},
	{`{"msg":"disk full","severity":"ERROR"}`, LevelError},
	{`{"log":{"level":"warning"},"msg":"slow"}`, LevelWarn},
	{`{"a":{"b":{"level":"wrn"}},"msg":"deep error"}`, LevelError}, // too deep: the word
	{`{"LEVEL":"dbg","msg":"x"}`, LevelDebug},
	{`{"lvl":"notice","msg":"a fatal thing"}`, LevelFatal}, // unknown value: the word
	{`{"level":3,"msg":"plain"}`, LevelUnknown},
	// logfmt: keys without case, in LevelFields order.
	{`ts=2025-06-01T12:00:00Z level=warn msg="retrying request" attempt=3`, LevelWarn},
	{`severity=critical level=info msg=x`, LevelInfo},
	{`Level="Error" msg="quoted"`, LevelError},
	{`lvl=trc caller=x.go:1`, LevelTrace},
	{`level=verbose msg="an error"`, LevelError},
	// Words, the first one that stands alone.
	{`10.0.0.1 - - [01/Jun/2025:12:00:00 +0000] "GET / HTTP/1.1" 200 5`, LevelUnknown},
	{`E0601 12:00:00.000001 1 controller.go:114] error syncing 'default/web-0'`, LevelError},
	{`[WARN] disk almost full, then ERROR`, LevelWarn},
	{`2025-06-01 12:00:00 INFO Started application`, LevelInfo},
	{`panic: fatal error: concurrent map writes`, LevelFatal},
	{`FATAL: out of memory`, LevelFatal},
	{`debug: something`, LevelDebug},
	{`level:debug is not a level`, LevelUnknown},
	{`misc:error is not a level`, LevelUnknown},
	{`errors=0 warnings=2 information`, LevelUnknown},
	{`no errors, information only`, LevelUnknown},
	{`err: connection refused`, LevelError},
	{`Critical! overheating`, LevelCritical},
	{`|trace| start`, LevelTrace},
	{``, LevelUnknown},
}

func TestLineLevel(t *testing.T) {
	for _, tt := range lineLevelTests {
		if got := LineLevel([]byte(tt.line)); got != tt.want {
			t.Errorf("LineLevel(%q) = %q, want %q", tt.line, got, tt.want)
		}
	}
}

// fields returns the label set of name, value pairs.
func fields(kv ...string) labels.Labels {
	var ls []labels.Label
	for i := 0; i+1 < len(kv); i += 2 {
		ls = append(ls, labels.Label{Name: kv[i], Value: kv[i+1]})
	}
	return labels.New(ls...)
}

func TestDetectLevel(t *testing.T) {
	tests := []struct {
		name         string
		line         string
		stream, meta labels.Labels
		want         string
	}{
		{"detected_level first", "level=error", fields("level", "debug"), fields("detected_level", "warn"), LevelWarn},
		{"detected_level unknown value", "level=error", nil, fields("detected_level", "notice"), LevelUnknown},
		{"stream label", "an error", fields("app", "x", "level", "INFO"), nil, LevelInfo},
		{"label before metadata", "x", fields("severity", "warning"), fields("level", "error"), LevelWarn},
		{"metadata field", "x", fields("app", "x"), fields("lvl", "dbg"), LevelDebug},
		{"label with an unknown value", "an error", fields("level", "notice"), nil, LevelUnknown},
		{"the line", "an error", fields("app", "x"), fields(), LevelError},
		{"no labels", "WARN low disk", nil, nil, LevelWarn},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := DetectLevel([]byte(tt.line), tt.stream, tt.meta); got != tt.want {
				t.Fatalf("DetectLevel = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestLevel(t *testing.T) {
	for in, want := range map[string]string{
		"info": LevelInfo, "INFO": LevelInfo, "Information": LevelInfo, "inf": LevelInfo,
		"WRN": LevelWarn, "Warning": LevelWarn, "err": LevelError, "ERROR": LevelError,
		"trc": LevelTrace, "DBG": LevelDebug, "critical": LevelCritical, "Fatal": LevelFatal,
		"unknown": LevelUnknown, "notice": LevelUnknown, "": LevelUnknown, "infos": LevelUnknown,
	} {
		if got := Level(in); got != want {
			t.Errorf("Level(%q) = %q, want %q", in, got, want)
		}
	}
}
