package engine

import "github.com/loam-logs/loam/server/logql"

// Loki's query frontend cuts a metric query into parts it runs as queries
// of their own (shards of streams, merged afterwards), and max_query_series
// bounds the answer of each part, not only the final one: topk(2, sum by
// (path) (…)) fails when sum by (path) has too many series, while sum(sum by
// (path) (…)) runs as one part and answers. Loam runs no parts, but bounds
// the same expressions, so that the same queries fail.

// innerBounded reports whether the expression under a vector aggregation
// is a part of its own in Loki, its series bounded: when Loki can shard it
// but the aggregation cannot carry it into its own part. What Loki cannot
// shard runs within the query around it, bounded only as that is.
func innerBounded(v *logql.VectorAggExpr) bool {
	if !shardable(v.Inner) {
		return false
	}
	switch v.Op {
	case "sum":
		return reducesLabels(v.Inner) && nonAdditive(v.Inner)
	case "min", "max", "count", "avg":
		return reducesLabels(v.Inner)
	}
	return true // topk, bottomk, sort, stddev, stdvar: never carried
}

// shardable reports whether every range aggregation in x is one Loki can
// split across shards with its default settings.
func shardable(x logql.SampleExpr) bool {
	ok := true
	logql.Walk(x, func(e logql.Expr) {
		if r, is := e.(*logql.RangeAggExpr); is {
			switch r.Op {
			case "count_over_time", "rate", "bytes_over_time", "bytes_rate", "sum_over_time",
				"max_over_time", "min_over_time", "avg_over_time":
			default:
				ok = false
			}
		}
	})
	return ok
}

// reducesLabels reports whether x may merge series of different shards:
// a grouping, drop, keep, or a label_format rename.
func reducesLabels(x logql.SampleExpr) bool {
	found := false
	logql.Walk(x, func(e logql.Expr) {
		switch e := e.(type) {
		case *logql.RangeAggExpr:
			if e.Grouping != nil && len(e.Grouping.Labels) > 0 {
				found = true
			}
			for _, st := range e.Range.Log.Pipeline {
				switch st := st.(type) {
				case *logql.DropStage, *logql.KeepStage:
					found = true
				case *logql.LabelFormatStage:
					for _, it := range st.Items {
						if !it.Template {
							found = true
						}
					}
				}
			}
		case *logql.VectorAggExpr:
			if e.Grouping != nil && len(e.Grouping.Labels) > 0 {
				found = true
			}
		}
	})
	return found
}

// nonAdditive reports whether x holds a range aggregation whose parts do
// not add up (max, min, avg, …) or an avg.
func nonAdditive(x logql.SampleExpr) bool {
	found := false
	logql.Walk(x, func(e logql.Expr) {
		switch e := e.(type) {
		case *logql.RangeAggExpr:
			switch e.Op {
			case "count_over_time", "rate", "bytes_over_time", "bytes_rate", "sum_over_time":
			default:
				found = true
			}
		case *logql.VectorAggExpr:
			if e.Op == "avg" {
				found = true
			}
		}
	})
	return found
}
