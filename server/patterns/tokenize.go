package patterns

// Bounds on what is mined, as in Loki's pattern miner: longer lines are
// rarely repeated, and lines of a few tokens give patterns of no use.
const (
	maxContentBytes = 3000
	minTokens       = 4
	maxTokens       = 80
)

// format says which part of a line was tokenized.
type format uint8

const (
	formatText format = iota // the whole line
	formatJSON               // the message field of a JSON object, raw (escaped)
)

// span is one token: content[start:end].
type span struct{ start, end int32 }

// Byte classes of the tokenizer.
const (
	classWord  = iota // part of a word token
	classSpace        // separates tokens; kept in the pattern as it was
	classPunct        // a token of its own
)

var byteClass = func() (t [256]uint8) {
	for _, c := range []byte(" \t\n\r\v\f") {
		t[c] = classSpace
	}
	for _, c := range []byte("\"'`()[]{}<>,;=|!?\\&") {
		t[c] = classPunct
	}
	return t
}()

// line is a tokenized log line. Its content aliases the bytes given to
// tokenize, so it is valid only as long as they are.
type line struct {
	content []byte
	tokens  []span
	format  format
	// layout hashes the whitespace between the tokens: lines are compared
	// only with lines laid out the same, so that a pattern reproduces the
	// spacing of every line counted under it.
	layout uint64
}

// tokenize splits raw into tokens. It returns false when the line is not
// mined: too long, too few or too many tokens, or JSON without a message.
func (l *line) tokenize(raw []byte) bool {
	l.tokens = l.tokens[:0]
	l.format = formatText
	content := raw
	if looksLikeJSON(raw) {
		msg, ok := jsonMessage(raw)
		if !ok {
			return false
		}
		content = msg
		l.format = formatJSON
	}
	if len(content) > maxContentBytes {
		return false
	}
	l.content = content
	h := uint64(fnvOffset)
	for i := 0; i < len(content); {
		switch byteClass[content[i]] {
		case classSpace:
			j := i + 1
			for j < len(content) && byteClass[content[j]] == classSpace {
				j++
			}
			// The gap's position (the token count before it) and bytes.
			h = fnvMix(h, byte(len(l.tokens)))
			for _, c := range content[i:j] {
				h = fnvMix(h, c)
			}
			i = j
			continue
		case classPunct:
			l.tokens = append(l.tokens, span{int32(i), int32(i + 1)})
			i++
		default:
			j := i + 1
			for j < len(content) && byteClass[content[j]] == classWord {
				j++
			}
			l.tokens = append(l.tokens, span{int32(i), int32(j)})
			i = j
		}
		if len(l.tokens) > maxTokens {
			return false
		}
	}
	if len(l.tokens) < minTokens {
		return false
	}
	l.layout = h
	return true
}

// token returns the bytes of token i.
func (l *line) token(i int) []byte {
	s := l.tokens[i]
	return l.content[s.start:s.end]
}

// gap returns the whitespace before token i; gap(len(tokens)) is the
// whitespace after the last token.
func (l *line) gap(i int) []byte { return gapOf(l.content, l.tokens, i) }

func gapOf[S ~[]byte | ~string](content S, tokens []span, i int) S {
	start, end := 0, len(content)
	if i > 0 {
		start = int(tokens[i-1].end)
	}
	if i < len(tokens) {
		end = int(tokens[i].start)
	}
	return content[start:end]
}

// hasDigit reports whether a token holds an ASCII digit: such tokens are
// usually variable (ids, counts, times), so Drain routes them through the
// wildcard branch of its tree.
func hasDigit[S ~[]byte | ~string](tok S) bool {
	for i := 0; i < len(tok); i++ {
		if tok[i] >= '0' && tok[i] <= '9' {
			return true
		}
	}
	return false
}

// FNV-1a, inlined: hash/fnv would allocate a hasher per line.
const (
	fnvOffset = 14695981039346656037
	fnvPrime  = 1099511628211
)

func fnvMix(h uint64, c byte) uint64 { return (h ^ uint64(c)) * fnvPrime }
