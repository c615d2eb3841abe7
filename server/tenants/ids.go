package tenants

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/loam-logs/loam/server/labels"
	"github.com/loam-logs/loam/server/logql/pipeline"
)

// Label is the label that names the tenant of a stream or series in the
// answer of a multi-tenant read, as in Loki.
const Label = "__tenant_id__"

// OriginalLabel is what a stream's own __tenant_id__ label is renamed to
// in a multi-tenant answer; a matcher on it selects on that own label.
const OriginalLabel = "original_" + Label

// Separator joins the tenants of a multi-tenant X-Scope-OrgID.
const Separator = "|"

// Parse splits an X-Scope-OrgID value into its tenants, sorted and each
// once, as Loki does: "b|a|b" is [a b]. Each must pass valid (the rules of
// a single tenant ID); an empty one ("a||b", "a|") is refused.
func Parse(header string, valid func(string) error) ([]string, error) {
	ids := strings.Split(header, Separator)
	for _, id := range ids {
		if id == "" {
			return nil, fmt.Errorf("tenant ID (X-Scope-OrgID) %.200q holds an empty tenant: join tenants with a single %q, as a|b", header, Separator)
		}
		if err := valid(id); err != nil {
			return nil, err
		}
	}
	slices.Sort(ids)
	return slices.Compact(ids), nil
}

// Join is the X-Scope-OrgID value of tenants ids: Parse's inverse.
func Join(ids []string) string { return strings.Join(ids, Separator) }

// IsMulti says whether an X-Scope-OrgID value names more than one tenant
// (repeating one tenant, a|a, names one).
func IsMulti(header string) bool {
	first, rest, ok := strings.Cut(header, Separator)
	for ok {
		var next string
		next, rest, ok = strings.Cut(rest, Separator)
		if next != first {
			return true
		}
	}
	return false
}

// ErrNoTenant: the matchers on __tenant_id__ keep none of the tenants. The
// read then answers nothing, not an error; Reader does so.
var ErrNoTenant = errors.New("the __tenant_id__ matchers keep none of the tenants")

// Narrow returns the tenants of ids whose name every matcher on Label
// accepts, and the other matchers, for the reads within each tenant: a
// matcher on OriginalLabel becomes one on Label there (the streams' own
// label of that name). ms is not modified.
func Narrow(ids []string, ms []*labels.Matcher) (kept []string, rest []*labels.Matcher) {
	kept = slices.Clone(ids)
	for _, m := range ms {
		switch m.Name {
		case Label:
			kept = slices.DeleteFunc(kept, func(id string) bool { return !m.Matches(id) })
		case OriginalLabel:
			renamed := *m
			renamed.Name = Label
			rest = append(rest, &renamed)
		default:
			rest = append(rest, m)
		}
	}
	return kept, rest
}

// Tag returns ls with Label set to id, as Loki labels the streams and
// series of a multi-tenant answer: a Label already in ls is kept as
// OriginalLabel (replacing one of that name). ls is not modified.
func Tag(ls labels.Labels, id string) labels.Labels {
	own, has := "", false
	for _, l := range ls {
		if l.Name == Label {
			own, has = l.Value, true
		}
	}
	out := make(labels.Labels, 0, len(ls)+1)
	for _, l := range ls {
		if l.Name == Label || has && l.Name == OriginalLabel {
			continue
		}
		out = append(out, l)
	}
	if has {
		out = append(out, labels.Label{Name: OriginalLabel, Value: own})
	}
	return labels.New(append(out, labels.Label{Name: Label, Value: id})...)
}

// AddIfAbsent returns ls with Label set to id unless ls has a Label of
// its own, as Loki labels the series of a multi-tenant /series answer.
func AddIfAbsent(ls labels.Labels, id string) labels.Labels {
	if ls.Get(Label) != "" {
		return ls
	}
	return labels.New(append(slices.Clip(ls), labels.Label{Name: Label, Value: id})...)
}

// Untag splits the Label off a set Tag made: the tenant and the rest. ok
// is false when ls has no Label. ls is not modified.
func Untag(ls labels.Labels) (rest labels.Labels, id string, ok bool) {
	for i, l := range ls {
		if l.Name == Label {
			rest = make(labels.Labels, 0, len(ls)-1)
			rest = append(append(rest, ls[:i]...), ls[i+1:]...)
			return rest, l.Value, true
		}
	}
	return ls, "", false
}

// TagResult returns the labels of a pipeline's answer for an entry of
// tenant id, tagged as Tag does (its stream labels too, when it has them;
// a __tenant_id__ among its metadata or parsed labels is kept as
// original___tenant_id__ there). r is not modified.
func TagResult(r *pipeline.Result, id string) *pipeline.Result {
	out := &pipeline.Result{All: Tag(r.All, id), Metadata: keepOwn(r.Metadata), Parsed: keepOwn(r.Parsed)}
	if r.Stream != nil {
		out.Stream = Tag(r.Stream, id)
	}
	out.Hash = out.All.Hash()
	return out
}

// keepOwn renames a Label of ls to OriginalLabel.
func keepOwn(ls labels.Labels) labels.Labels {
	if !ls.Has(Label) {
		return ls
	}
	out := make(labels.Labels, 0, len(ls))
	for _, l := range ls {
		switch l.Name {
		case OriginalLabel:
			continue
		case Label:
			l.Name = OriginalLabel
		}
		out = append(out, l)
	}
	return labels.New(out...)
}
