package patterns

import "math"

// Drain's parameters, Loki's defaults.
const (
	// simThreshold is the least fraction of a template's tokens a line must
	// share with it to join its group.
	simThreshold = 0.3
	// maxRouteDepth bounds how many leading tokens route a line in the tree.
	maxRouteDepth = 28
	// maxChildren bounds the literal branches of a tree node; further
	// tokens take the wildcard branch.
	maxChildren = 15
)

// wildcard is the placeholder of a variable part in a pattern, as in Loki
// and in LogQL's pattern filter.
const wildcard = "<_>"

// drain clusters the lines of one stream and level.
type drain struct {
	roots map[groupKey]*node
}

// groupKey is the first level of the tree: only lines of the same format,
// token count and whitespace layout are compared.
type groupKey struct {
	tokens int
	format format
	layout uint64
}

// node is a node of the prefix tree. Its literal children are few (at most
// maxChildren), so they sit in slices rather than a map.
type node struct {
	keys     []string   // literal tokens of the children
	children []*node    // children[i] is reached by keys[i]
	wild     *node      // child for digits and overflow; nil until needed
	clusters []*cluster // the groups of a leaf
}

// childOf returns the literal child of n reached by tok, or nil.
func childOf[S ~string | ~[]byte](n *node, tok S) *node {
	for i, k := range n.keys {
		if k == string(tok) {
			return n.children[i]
		}
	}
	return nil
}

func (n *node) wildChild() *node {
	if n.wild == nil {
		n.wild = &node{}
	}
	return n.wild
}

// cluster is a group of lines and its template: the first line's tokens,
// with wild set where a later line differed.
type cluster struct {
	format  format   // what part of the lines was tokenized
	content string   // the first line's content: tokens and gaps index it
	tokens  []span   // the template's tokens in content
	wild    []bool   // wild[i]: token i varies, written <_>
	samples []Sample // counts per step, in the order lines came
	total   int64    // lines counted
}

func (c *cluster) token(i int) string {
	s := c.tokens[i]
	return c.content[s.start:s.end]
}

func newDrain() *drain { return &drain{roots: map[groupKey]*node{}} }

// routeDepth is how many leading tokens of an n-token line route it; the
// last token never does, so that two lines differing only at the end meet
// in the same leaf.
func routeDepth(n int) int { return min(n-1, maxRouteDepth) }

// match returns the group l joins, or nil.
func (d *drain) match(l *line) *cluster {
	n := d.roots[groupKey{len(l.tokens), l.format, l.layout}]
	for i := 0; n != nil && i < routeDepth(len(l.tokens)); i++ {
		next := childOf(n, l.token(i))
		if next == nil {
			next = n.wild
		}
		n = next
	}
	if n == nil {
		return nil
	}
	var best *cluster
	bestSim, bestWild := -1.0, -1
	for _, c := range n.clusters {
		sim, wild, ok := similarity(c, l)
		if !ok {
			continue
		}
		// On a tie, the more general template wins (Drain's rule): it
		// already accepts what the other holds literally.
		if sim > bestSim || (sim == bestSim && wild > bestWild) {
			best, bestSim, bestWild = c, sim, wild
		}
	}
	if bestSim < simThreshold {
		return nil
	}
	return best
}

// similarity returns the fraction of c's tokens that l has at the same
// place, and the count of c's wildcards. ok is false when the whitespace
// between tokens differs (a layout hash collision).
func similarity(c *cluster, l *line) (sim float64, wild int, ok bool) {
	for i := 0; i <= len(l.tokens); i++ {
		if gapOf(c.content, c.tokens, i) != string(l.gap(i)) {
			return 0, 0, false
		}
	}
	same := 0
	for i := range c.tokens {
		switch {
		case c.wild[i]:
			wild++
		case c.token(i) == string(l.token(i)):
			same++
		}
	}
	return float64(same) / float64(len(c.tokens)), wild, true
}

// merge makes the positions where l differs from the template wildcards.
func (c *cluster) merge(l *line) {
	for i := range c.tokens {
		if !c.wild[i] && c.token(i) != string(l.token(i)) {
			c.wild[i] = true
		}
	}
}

// add starts a group with l and places it in the tree.
func (d *drain) add(l *line) *cluster {
	c := &cluster{
		format:  l.format,
		content: string(l.content),
		tokens:  append([]span(nil), l.tokens...),
		wild:    make([]bool, len(l.tokens)),
	}
	key := groupKey{len(l.tokens), l.format, l.layout}
	n := d.roots[key]
	if n == nil {
		n = &node{}
		d.roots[key] = n
	}
	for i := 0; i < routeDepth(len(c.tokens)); i++ {
		tok := c.token(i)
		if hasDigit(tok) {
			n = n.wildChild()
			continue
		}
		if next := childOf(n, tok); next != nil {
			n = next
			continue
		}
		if len(n.keys) >= maxChildren {
			n = n.wildChild()
			continue
		}
		next := &node{}
		n.keys = append(n.keys, tok)
		n.children = append(n.children, next)
		n = next
	}
	n.clusters = append(n.clusters, c)
	return c
}

// count adds one line at t (unix nanoseconds) to the bucket of width step.
func (c *cluster) count(t, step int64) {
	b := t - t%step
	if t%step < 0 { // floor, not truncation, before 1970
		if b < math.MinInt64+step {
			b = math.MinInt64
		} else {
			b -= step
		}
	}
	c.total++
	if k := len(c.samples); k > 0 && c.samples[k-1].T == b {
		c.samples[k-1].Count++
		return
	}
	c.samples = append(c.samples, Sample{T: b, Count: 1})
}

// appendPattern appends the group's pattern: its template with <_> for the
// wildcards, adjacent ones merged, and "<_>…<_>" around a JSON message.
func (c *cluster) appendPattern(dst []byte) []byte {
	lastWild := false
	emitWild := func() {
		if !lastWild {
			dst = append(dst, wildcard...)
			lastWild = true
		}
	}
	if c.format == formatJSON {
		emitWild()
	}
	for i := range c.tokens {
		if g := gapOf(c.content, c.tokens, i); g != "" {
			dst = append(dst, g...)
			lastWild = false
		}
		if c.wild[i] || c.captureLike(i) {
			emitWild()
			continue
		}
		dst = append(dst, c.token(i)...)
		lastWild = false
	}
	if g := gapOf(c.content, c.tokens, len(c.tokens)); g != "" {
		dst = append(dst, g...)
		lastWild = false
	}
	if c.format == formatJSON {
		emitWild()
	}
	return dst
}

// captureLike reports whether token i is an identifier between a literal
// "<" and ">" with no space: written as is, LogQL's pattern filter would
// read "<nil>" as a named capture and refuse the pattern.
func (c *cluster) captureLike(i int) bool {
	if i == 0 || i+1 >= len(c.tokens) || c.wild[i-1] || c.wild[i+1] {
		return false
	}
	if c.token(i-1) != "<" || c.token(i+1) != ">" ||
		gapOf(c.content, c.tokens, i) != "" || gapOf(c.content, c.tokens, i+1) != "" {
		return false
	}
	tok := c.token(i)
	for j := 0; j < len(tok); j++ {
		b := tok[j]
		letter := b == '_' || (b >= 'a' && b <= 'z') || (b >= 'A' && b <= 'Z')
		if !letter && (j == 0 || b < '0' || b > '9') {
			return false
		}
	}
	return true
}
