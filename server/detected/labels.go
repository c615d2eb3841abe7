package detected

import (
	"strconv"
	"strings"
)

// staticLabels are kept by KeepLabel whatever their values: Loki treats
// them as the usual coordinates of a Kubernetes workload.
var staticLabels = map[string]bool{"cluster": true, "namespace": true, "instance": true, "pod": true}

// KeepLabel reports whether Loki's /detected_labels lists the stream label
// name with the given distinct values. A label is left out when it has no
// value, or when every value is an ID: a number or a UUID (one or two
// values each "0" or "1" are a flag, not IDs). cluster, namespace,
// instance and pod are always kept.
func KeepLabel(name string, values []string) bool {
	if len(values) == 0 {
		return false
	}
	if staticLabels[name] {
		return true
	}
	if len(values) <= 2 {
		flag := true
		for _, v := range values {
			if v != "0" && v != "1" {
				flag = false
				break
			}
		}
		if flag {
			return true
		}
	}
	for _, v := range values {
		if !isID(v) {
			return true
		}
	}
	return false
}

// isID reports whether v is a number (as strconv.ParseFloat reads one) or
// a UUID.
func isID(v string) bool {
	if _, err := strconv.ParseFloat(v, 64); err == nil {
		return true
	}
	return isUUID(v)
}

// isUUID accepts the forms Loki's UUID parser (github.com/google/uuid)
// does: 8-4-4-4-12 hex digits, that wrapped in any two characters (as
// braces), prefixed by "urn:uuid:" in any case, or 32 hex digits.
func isUUID(s string) bool {
	switch len(s) {
	case 36:
	case 36 + 9:
		if !strings.EqualFold(s[:9], "urn:uuid:") {
			return false
		}
		s = s[9:]
	case 36 + 2:
		s = s[1:37]
	case 32:
		for i := 0; i < 32; i++ {
			if !isHex(s[i]) {
				return false
			}
		}
		return true
	default:
		return false
	}
	for i := 0; i < 36; i++ {
		switch i {
		case 8, 13, 18, 23:
			if s[i] != '-' {
				return false
			}
		default:
			if !isHex(s[i]) {
				return false
			}
		}
	}
	return true
}

func isHex(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}
