package patterns

// A small JSON reader: enough to find a member of an object without
// decoding the line. Keys are compared as they are written (escaped), and
// string values are returned raw, without their quotes and unescaped, so
// that a pattern built from them matches the line as stored.

// messageFields are the JSON members whose value is mined, in order of
// preference (Loki's pattern_ingester_tokenizable_json_fields default).
var messageFields = []string{"log", "message", "msg", "msg_", "_msg", "content"}

// looksLikeJSON reports whether the line is a JSON object at first sight:
// "{" first and "}" last, ignoring whitespace.
func looksLikeJSON(b []byte) bool {
	i, j := 0, len(b)-1
	for i <= j && byteClass[b[i]] == classSpace {
		i++
	}
	for j >= i && byteClass[b[j]] == classSpace {
		j--
	}
	return i < j && b[i] == '{' && b[j] == '}'
}

// jsonMessage returns the raw string value of the preferred message field
// at the top level of the object b.
func jsonMessage(b []byte) ([]byte, bool) {
	best, bestRank := []byte(nil), len(messageFields)
	// A message found before the object turns out malformed still counts,
	// as with a lookup that stops at the member it wants.
	jsonMembers(b, skipSpace(b, 0), func(key []byte, kind byte, val []byte) bool {
		if kind != '"' {
			return true
		}
		for rank, f := range messageFields[:bestRank] {
			if string(key) == f {
				best, bestRank = val, rank
				break
			}
		}
		return bestRank > 0
	})
	return best, bestRank < len(messageFields)
}

// jsonMembers calls fn with each member of the object that starts at b[i]:
// the raw key, the kind of the value ('"' string, '{' object, '[' array,
// '0' anything else) and the value (a string's raw contents, otherwise its
// whole text). fn returns false to stop. jsonMembers returns false when the
// object is malformed before fn stopped it.
func jsonMembers(b []byte, i int, fn func(key []byte, kind byte, val []byte) bool) bool {
	if i >= len(b) || b[i] != '{' {
		return false
	}
	i = skipSpace(b, i+1)
	if i < len(b) && b[i] == '}' {
		return true
	}
	for {
		if i >= len(b) || b[i] != '"' {
			return false
		}
		end := skipString(b, i)
		if end < 0 {
			return false
		}
		key := b[i+1 : end-1]
		i = skipSpace(b, end)
		if i >= len(b) || b[i] != ':' {
			return false
		}
		i = skipSpace(b, i+1)
		end = skipValue(b, i)
		if end < 0 {
			return false
		}
		kind, val := byte('0'), b[i:end]
		switch b[i] {
		case '"':
			kind, val = '"', b[i+1:end-1]
		case '{', '[':
			kind = b[i]
		}
		if !fn(key, kind, val) {
			return true
		}
		i = skipSpace(b, end)
		if i >= len(b) {
			return false
		}
		switch b[i] {
		case ',':
			i = skipSpace(b, i+1)
		case '}':
			return true
		default:
			return false
		}
	}
}

func skipSpace(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	return i
}

// skipString returns the index after the string that starts at b[i] == '"',
// or -1 when it is not terminated.
func skipString(b []byte, i int) int {
	for j := i + 1; j < len(b); j++ {
		switch b[j] {
		case '\\':
			j++
		case '"':
			return j + 1
		}
	}
	return -1
}

// skipValue returns the index after the value that starts at b[i], or -1.
// Objects and arrays are skipped by counting brackets outside strings, so
// deep nesting costs no stack.
func skipValue(b []byte, i int) int {
	if i >= len(b) {
		return -1
	}
	switch b[i] {
	case '"':
		return skipString(b, i)
	case '{', '[':
		depth := 0
		for j := i; j < len(b); j++ {
			switch b[j] {
			case '"':
				end := skipString(b, j)
				if end < 0 {
					return -1
				}
				j = end - 1
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					return j + 1
				}
			}
		}
		return -1
	}
	j := i
	for j < len(b) && b[j] != ',' && b[j] != '}' && b[j] != ']' && b[j] != ' ' && b[j] != '\t' && b[j] != '\n' && b[j] != '\r' {
		j++
	}
	if j == i {
		return -1
	}
	return j
}
