package tmpl

import (
	"fmt"
	"slices"
	"sync"
	"text/template"
	"text/template/parse"
	"time"
	"unsafe"
)

// Names Loki gives its templates. They appear in execution errors, and so in
// __error_details__: `template: line:1:2: executing "line" at <.foo>: …`.
const (
	LineName  = "line"
	LabelName = "label"
)

// ErrorType is the value of the __error__ label when a template fails to
// execute on an entry; __error_details__ holds the error's text.
const ErrorType = "TemplateFormatErr"

// Template is a parsed line_format or label_format template. It is safe for
// concurrent use by several goroutines.
type Template struct {
	// name is the template's name, LineName or LabelName for Loki's names.
	name string
	// text is the source, for String.
	text string
	// base is the parsed template. It is never executed: executors run
	// clones of it, so that __line__ and __timestamp__ can differ per call.
	base *template.Template
	// plan, when planned is set, is the whole template as a sequence of
	// text and label values: Execute then concatenates them without
	// running text/template, whose output would be the same.
	plan    []piece
	planned bool
	// literal is the output of a template that has no actions, and
	// isLiteral says that it has none.
	literal   string
	isLiteral bool
	// execs holds idle *executor values, each bound to its own clone.
	execs sync.Pool
}

// executor runs one clone of a template; one goroutine uses it at a time.
type executor struct {
	// tmpl is a clone of Template.base whose __line__ and __timestamp__
	// are bound to this executor's methods.
	tmpl *template.Template
	// line and ts are the entry being formatted, set for one Execute.
	line string
	ts   int64
	// w collects the output of one Execute.
	w appendWriter
}

// Parse parses text as a template named name. A parse error is
// text/template's error, such as `template: line:1: function "foo" not
// defined`.
func Parse(name, text string) (*Template, error) {
	return parseTemplate(name, text, false)
}

// ParseLine parses the template of a line_format stage. The error of a
// template that does not parse reads as Loki's: "invalid line template: …".
func ParseLine(text string) (*Template, error) {
	t, err := parseTemplate(LineName, text, true)
	if err != nil {
		return nil, fmt.Errorf("invalid line template: %w", err)
	}
	return t, nil
}

// ParseLabel parses the template of a label_format dst="…" operation. The
// error of a template that does not parse reads as Loki's: "invalid template
// for label 'dst': …".
func ParseLabel(dst, text string) (*Template, error) {
	t, err := parseTemplate(LabelName, text, false)
	if err != nil {
		return nil, fmt.Errorf("invalid template for label '%s': %w", dst, err)
	}
	return t, nil
}

// parseTemplate parses text; lineQuirk is planOf's.
func parseTemplate(name, text string, lineQuirk bool) (*Template, error) {
	base, err := template.New(name).Option("missingkey=zero").Funcs(parseFuncs).Parse(text)
	if err != nil {
		return nil, err
	}
	t := &Template{name: name, text: text, base: base}
	t.plan, t.planned = planOf(base.Tree, lineQuirk)
	if t.planned && (len(t.plan) == 0 || len(t.plan) == 1 && t.plan[0].label == "") {
		t.isLiteral = true
		if len(t.plan) == 1 {
			t.literal = t.plan[0].text
		}
	}
	t.execs.New = func() any { return t.newExecutor() }
	return t, nil
}

// piece is a run of text or the value of a label.
type piece struct {
	// text is output as it is when label is "".
	text string
	// label is the name of the label whose value is output.
	label string
}

// planOf returns the pieces of a tree made only of text and {{.name}}
// actions, merging adjacent text, or false for any other tree. With
// missingkey=zero over a map[string]string, {{.name}} outputs the label's
// value or "", so concatenating the pieces is what text/template would
// output. {{define}} blocks live in other trees and output nothing here, and
// the parser does not keep comments, so neither stops a tree from being
// planned.
//
// lineQuirk keeps a quirk of Loki's line_format: its shortcut for a
// template that is a single {{.name}} also takes {{$x := .name}}, which then
// outputs the value where text/template would output nothing.
func planOf(tree *parse.Tree, lineQuirk bool) ([]piece, bool) {
	if tree == nil || tree.Root == nil {
		// Parse always leaves a tree; let text/template report otherwise.
		return nil, false
	}
	nodes := tree.Root.Nodes
	var plan []piece
	for _, n := range nodes {
		switch n := n.(type) {
		case *parse.TextNode:
			if k := len(plan) - 1; k >= 0 && plan[k].label == "" {
				plan[k].text += string(n.Text)
			} else {
				plan = append(plan, piece{text: string(n.Text)})
			}
		case *parse.ActionNode:
			name, ok := fieldOf(n, lineQuirk && len(nodes) == 1)
			if !ok {
				return nil, false
			}
			plan = append(plan, piece{label: name})
		default:
			return nil, false
		}
	}
	return plan, true
}

// fieldOf returns the label name of an action that is exactly {{.name}}.
func fieldOf(a *parse.ActionNode, allowDecl bool) (string, bool) {
	p := a.Pipe
	if p == nil || len(p.Cmds) != 1 || len(p.Cmds[0].Args) != 1 || len(p.Decl) != 0 && !allowDecl {
		return "", false
	}
	f, ok := p.Cmds[0].Args[0].(*parse.FieldNode)
	if !ok || len(f.Ident) != 1 {
		return "", false
	}
	return f.Ident[0], true
}

// newExecutor clones the parsed template and binds the clone's __line__ and
// __timestamp__ to the new executor. A clone shares the parse trees; only
// its function tables are copied, once per executor and not per call.
func (t *Template) newExecutor() any {
	c, err := t.base.Clone()
	if err != nil {
		// text/template's Clone cannot fail; html/template's can.
		panic(fmt.Sprintf("tmpl: clone %q: %v", t.name, err))
	}
	e := &executor{tmpl: c}
	c.Funcs(template.FuncMap{
		lineFunc:      e.currentLine,
		timestampFunc: e.currentTime,
	})
	return e
}

// currentLine is __line__: the line of the entry being formatted.
func (e *executor) currentLine() string { return e.line }

// currentTime is __timestamp__: the time of the entry being formatted, in
// the server's local time zone, as Loki's time.Unix(0, ts).
func (e *executor) currentTime() time.Time { return time.Unix(0, e.ts) }

// Execute runs the template on one log entry and appends the output to dst.
// labels are the entry's labels, the template's data; line and ts (Unix
// nanoseconds) are what __line__ and __timestamp__ return. Execute keeps no
// reference to line or labels after it returns, and line must not change
// while it runs.
//
// On an error Execute returns dst with its length unchanged, and the error
// whose text goes into __error_details__ (text/template's, unwrapped, as in
// Loki). Bytes of dst's spare capacity may have been written to.
func (t *Template) Execute(dst, line []byte, ts int64, labels map[string]string) ([]byte, error) {
	if t.planned {
		for _, p := range t.plan {
			if p.label == "" {
				dst = append(dst, p.text...)
			} else {
				dst = append(dst, labels[p.label]...)
			}
		}
		return dst, nil
	}
	e := t.execs.Get().(*executor)
	// __line__ reads the caller's bytes without a copy; whatever a function
	// makes of it is copied into dst before Execute returns.
	e.line = unsafe.String(unsafe.SliceData(line), len(line))
	e.ts = ts
	e.w.buf = dst
	err := e.tmpl.Execute(&e.w, labels)
	out := e.w.buf
	e.line, e.w.buf = "", nil
	t.execs.Put(e)
	if err != nil {
		return dst, err
	}
	return out, nil
}

// ExecuteString is Execute for a caller that wants a string, such as the
// new value of a label.
func (t *Template) ExecuteString(line []byte, ts int64, labels map[string]string) (string, error) {
	if t.isLiteral {
		return t.literal, nil
	}
	if t.planned && len(t.plan) == 1 {
		return labels[t.plan[0].label], nil
	}
	b, err := t.Execute(nil, line, ts, labels)
	if err != nil {
		return "", err
	}
	return string(b), nil
}

// Literal returns the output of a template that has no actions, such as
// line_format "fixed text", and true; or "", false.
func (t *Template) Literal() (string, bool) {
	return t.literal, t.isLiteral
}

// SimpleKey returns the label name of a template that is one {{.name}}
// action and nothing else (with or without a variable declared), for which
// Loki's line_format outputs the label's value straight: the error labels,
// which Loki keeps apart from the others, then output "".
func (t *Template) SimpleKey() (string, bool) {
	root := t.base.Tree.Root
	if len(root.Nodes) != 1 {
		return "", false
	}
	a, ok := root.Nodes[0].(*parse.ActionNode)
	if !ok {
		return "", false
	}
	return fieldOf(a, true)
}

// String returns the template's source text.
func (t *Template) String() string { return t.text }

// LabelNames returns the names of the labels the template reads as
// {{.name}} or {{$.name}}, sorted and without repeats. all is true when the
// template uses the whole label map (as ".", "$", or through a variable
// bound to it) and so may read any label. Names read through a rebound dot,
// as in {{with .a}}{{.b}}{{end}}, are listed too: the list may be longer
// than needed, never shorter.
func (t *Template) LabelNames() (names []string, all bool) {
	var w nameWalker
	for _, tt := range t.base.Templates() {
		if tt.Tree != nil && tt.Tree.Root != nil {
			w.walk(tt.Tree.Root)
		}
	}
	slices.Sort(w.names)
	return slices.Compact(w.names), w.all
}

// nameWalker collects the label names a parse tree reads.
type nameWalker struct {
	// names are the label names seen, with repeats.
	names []string
	// all is set when the whole data map is used as a value.
	all bool
}

func (w *nameWalker) walk(n parse.Node) {
	switch n := n.(type) {
	case *parse.ListNode:
		if n == nil {
			return
		}
		for _, c := range n.Nodes {
			w.walk(c)
		}
	case *parse.ActionNode:
		w.walk(n.Pipe)
	case *parse.PipeNode:
		if n == nil {
			return
		}
		for _, c := range n.Cmds {
			w.walk(c)
		}
	case *parse.CommandNode:
		for _, a := range n.Args {
			w.walk(a)
		}
	case *parse.ChainNode:
		w.walk(n.Node)
	case *parse.FieldNode:
		w.names = append(w.names, n.Ident[0])
	case *parse.VariableNode:
		// Other variables hold what a pipeline gave them; if that was the
		// whole map, the "." or "$" in that pipeline set all already.
		if n.Ident[0] == "$" {
			if len(n.Ident) == 1 {
				w.all = true
			} else {
				w.names = append(w.names, n.Ident[1])
			}
		}
	case *parse.DotNode:
		w.all = true
	case *parse.IfNode:
		w.branch(&n.BranchNode)
	case *parse.RangeNode:
		w.branch(&n.BranchNode)
	case *parse.WithNode:
		w.branch(&n.BranchNode)
	case *parse.TemplateNode:
		w.walk(n.Pipe)
	}
}

func (w *nameWalker) branch(b *parse.BranchNode) {
	w.walk(b.Pipe)
	w.walk(b.List)
	w.walk(b.ElseList)
}

// appendWriter is an io.Writer that appends to a byte slice.
type appendWriter struct {
	buf []byte
}

func (w *appendWriter) Write(p []byte) (int, error) {
	w.buf = append(w.buf, p...)
	return len(p), nil
}

func (w *appendWriter) WriteString(s string) (int, error) {
	w.buf = append(w.buf, s...)
	return len(s), nil
}
