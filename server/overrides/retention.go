package overrides

import (
	"fmt"
	"time"

	"github.com/loam-logs/loam/server/labels"
	"github.com/loam-logs/loam/server/logql"
)

// StreamRetention is one retention_stream rule: the streams its selector
// matches keep their logs for Period, when it wins over the other rules
// matching them (see RetentionFor).
type StreamRetention struct {
	Selector string   `yaml:"selector"`
	Priority int      `yaml:"priority"`
	Period   Duration `yaml:"period"`

	// Matchers is Selector compiled by Validate.
	Matchers []*labels.Matcher `yaml:"-"`
}

// minStreamRetention is Loki's shortest period of a retention_stream rule.
const minStreamRetention = 24 * time.Hour

// compileRetention checks the retention_stream rules as Loki does and sets
// their Matchers.
func (l *Limits) compileRetention() error {
	for i := range l.RetentionStream {
		r := &l.RetentionStream[i]
		ms, err := logql.ParseMatchers(r.Selector)
		if err == nil {
			err = logql.ValidateMatchers(ms)
		}
		if err != nil {
			return fmt.Errorf("retention_stream[%d]: invalid selector %q: %w", i, r.Selector, err)
		}
		if time.Duration(r.Period) < minStreamRetention {
			return fmt.Errorf("retention_stream[%d] (%s): retention period must be >= 24h was %s", i, r.Selector, r.Period)
		}
		r.Matchers = ms
	}
	return nil
}

// RetentionFor returns how long the stream with labels ls keeps its logs
// (0: forever), as Loki's compactor decides it: among the retention_stream
// rules whose every matcher matches ls, the one of highest priority wins,
// and of equal priorities the shortest period; with no rule matching,
// retention_period.
func (l *Limits) RetentionFor(ls labels.Labels) time.Duration {
	var best *StreamRetention
	for i := range l.RetentionStream {
		r := &l.RetentionStream[i]
		if !ls.Matches(r.Matchers) {
			continue
		}
		if best == nil || r.Priority > best.Priority || r.Priority == best.Priority && r.Period < best.Period {
			best = r
		}
	}
	if best != nil {
		return time.Duration(best.Period)
	}
	return time.Duration(l.RetentionPeriod)
}

// MaxRetention returns the longest time any stream of the tenant keeps its
// logs, 0 if some stream keeps them forever: data older than that can go
// whatever its labels. It is a bound over all rules, shadowed or not, and
// retention_period always counts, since no selector matches every stream.
func (l *Limits) MaxRetention() time.Duration {
	if l.RetentionPeriod == 0 {
		return 0
	}
	longest := l.RetentionPeriod
	for _, r := range l.RetentionStream {
		if r.Period == 0 {
			return 0
		}
		longest = max(longest, r.Period)
	}
	return time.Duration(longest)
}

// MinRetention returns the shortest time any stream of the tenant keeps its
// logs, 0 if every stream keeps them forever: nothing younger than that
// expires. Like MaxRetention it is a bound over all rules.
func (l *Limits) MinRetention() time.Duration {
	shortest := l.RetentionPeriod
	for _, r := range l.RetentionStream {
		if r.Period > 0 && (shortest == 0 || r.Period < shortest) {
			shortest = r.Period
		}
	}
	return time.Duration(shortest)
}

// StreamRetention is For(tenant).RetentionFor(ls); with MaxRetention and
// MinRetention it lets *Overrides serve as the store's retention policy
// without glue.
func (o *Overrides) StreamRetention(tenant string, ls labels.Labels) time.Duration {
	return o.For(tenant).RetentionFor(ls)
}

// MaxRetention is For(tenant).MaxRetention().
func (o *Overrides) MaxRetention(tenant string) time.Duration { return o.For(tenant).MaxRetention() }

// MinRetention is For(tenant).MinRetention().
func (o *Overrides) MinRetention(tenant string) time.Duration { return o.For(tenant).MinRetention() }
