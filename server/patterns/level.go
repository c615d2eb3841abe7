package patterns

import (
	"bytes"

	"github.com/loam-logs/loam/server/labels"
)

// The levels a pattern can have: the values of Loki's detected_level.
const (
	LevelTrace    = "trace"
	LevelDebug    = "debug"
	LevelInfo     = "info"
	LevelWarn     = "warn"
	LevelError    = "error"
	LevelCritical = "critical"
	LevelFatal    = "fatal"
	LevelUnknown  = "unknown"
)

// LevelFields are the label, structured metadata and field names that hold
// a line's level, in order of preference (Loki's default
// discover_log_levels fields).
var LevelFields = []string{
	"level", "LEVEL", "Level", "log.level",
	"severity", "SEVERITY", "Severity", "SeverityText",
	"lvl", "LVL", "Lvl",
	"severity_text", "Severity_Text", "SEVERITY_TEXT",
}

// detectedLevel is the structured metadata Loki's distributor sets.
const detectedLevel = "detected_level"

// DetectLevel returns the level of a line of a stream with labels stream
// and structured metadata meta (either may be nil): detected_level, else the
// first of LevelFields among the labels then the metadata, else what the
// line says (LineLevel).
func DetectLevel(line []byte, stream, meta labels.Labels) string {
	if v := meta.Get(detectedLevel); v != "" {
		return Level(v)
	}
	for _, src := range [2]labels.Labels{stream, meta} {
		for _, f := range LevelFields {
			if v := src.Get(f); v != "" {
				return Level(v)
			}
		}
	}
	return LineLevel(line)
}

// Level maps a level as written ("WARNING", "Err", "dbg") to one of the
// Level constants; what it does not know is LevelUnknown.
func Level(s string) string {
	switch s {
	case LevelTrace, LevelDebug, LevelInfo, LevelWarn, LevelError, LevelCritical, LevelFatal, LevelUnknown:
		return s
	}
	if l := knownLevel(s); l != "" {
		return l
	}
	return LevelUnknown
}

// levelNames maps the spellings Loki recognises, lower-cased, to levels.
var levelNames = []struct{ name, level string }{
	{"trace", LevelTrace}, {"trc", LevelTrace},
	{"debug", LevelDebug}, {"dbg", LevelDebug},
	{"info", LevelInfo}, {"inf", LevelInfo}, {"information", LevelInfo},
	{"warn", LevelWarn}, {"wrn", LevelWarn}, {"warning", LevelWarn},
	{"error", LevelError}, {"err", LevelError},
	{"critical", LevelCritical},
	{"fatal", LevelFatal},
}

func knownLevel[S ~string | ~[]byte](v S) string {
	for _, n := range levelNames {
		if equalFold(v, n.name) {
			return n.level
		}
	}
	return ""
}

// equalFold compares a and b ignoring ASCII case.
func equalFold[S ~string | ~[]byte](a S, b string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := 0; i < len(a); i++ {
		if lower(a[i]) != lower(b[i]) {
			return false
		}
	}
	return true
}

func lower(c byte) byte {
	if c >= 'A' && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}

// LineLevel reads a line's level from the line alone: a level field of a
// JSON object (at the top level or one level down) or of logfmt, if it
// names a known level; else the first level word in the line; else
// LevelUnknown.
func LineLevel(line []byte) string {
	var v []byte
	switch {
	case looksLikeJSON(line):
		v = jsonLevel(line)
	case bytes.IndexByte(line, '=') >= 0:
		v = logfmtLevel(line)
	}
	if l := knownLevel(v); l != "" {
		return l
	}
	return wordLevel(line)
}

// jsonLevel returns the first string member named in LevelFields, in the
// order of the line, looking into nested objects one level deep.
func jsonLevel(line []byte) []byte {
	var found []byte
	var visit func(depth int) func(key []byte, kind byte, val []byte) bool
	visit = func(depth int) func(key []byte, kind byte, val []byte) bool {
		return func(key []byte, kind byte, val []byte) bool {
			switch kind {
			case '"':
				if isLevelField(key) {
					found = val
					return false
				}
			case '{':
				if depth == 0 {
					jsonMembers(val, 0, visit(1))
					return found == nil
				}
			}
			return true
		}
	}
	jsonMembers(line, skipSpace(line, 0), visit(0))
	return found
}

// isLevelField reports whether key is one of LevelFields (JSON keys are
// compared with their case, as Loki does).
func isLevelField(key []byte) bool {
	for _, f := range LevelFields {
		if string(key) == f {
			return true
		}
	}
	return false
}

// logfmtLevel returns the value of the logfmt pair whose key comes first in
// LevelFields, keys compared without case.
func logfmtLevel(line []byte) []byte {
	var best []byte
	bestRank := len(LevelFields)
	for i := 0; i < len(line) && bestRank > 0; {
		for i < len(line) && line[i] == ' ' {
			i++
		}
		k := i
		for i < len(line) && line[i] != ' ' && line[i] != '=' {
			i++
		}
		key := line[k:i]
		if i >= len(line) || line[i] != '=' {
			continue
		}
		i++
		v := i
		var val []byte
		if i < len(line) && line[i] == '"' {
			end := skipString(line, i)
			if end < 0 {
				return best
			}
			val, i = line[i+1:end-1], end
		} else {
			for i < len(line) && line[i] != ' ' {
				i++
			}
			val = line[v:i]
		}
		for rank, f := range LevelFields[:bestRank] {
			if equalFold(key, f) {
				best, bestRank = val, rank
				break
			}
		}
	}
	return best
}

// levelWords are the words wordLevel looks for, case-insensitively.
var levelWords = []struct{ word, level string }{
	{"trace", LevelTrace},
	{"debug", LevelDebug},
	{"fatal", LevelFatal},
	{"critical", LevelCritical},
	{"error", LevelError},
	{"err", LevelError},
	{"warning", LevelWarn},
	{"warn", LevelWarn},
	{"info", LevelInfo},
}

// wordLevel returns the level of the first level word in the line that
// stands as a word: after the start, a space or an opening bracket, quote,
// "=" or "|"; before the end, a space, a bracket, a quote, ":", ",", "!",
// "=" or "|". "misc:error" and "errors" name no level.
func wordLevel(line []byte) string {
	for i := 0; i < len(line); i++ {
		if i > 0 && !leftBoundary(line[i-1]) {
			continue
		}
		for _, w := range levelWords {
			end := i + len(w.word)
			if end <= len(line) && equalFold(line[i:end], w.word) && (end == len(line) || rightBoundary(line[end])) {
				return w.level
			}
		}
	}
	return LevelUnknown
}

func leftBoundary(c byte) bool {
	switch c {
	case ' ', '\t', '\n', '[', '(', '{', '"', '\'', '=', '|':
		return true
	}
	return false
}

func rightBoundary(c byte) bool {
	switch c {
	case ' ', '\t', '\n', '[', ']', '(', ')', '{', '}', ':', ',', '!', '"', '\'', '=', '|':
		return true
	}
	return false
}
