package logql

// IPMatcher returns the matcher of ip("range") for text that may hold an
// address anywhere: a line, or the value of a label, which Loki scans the
// same way.
func IPMatcher(r IPRange) LineMatcher { return ipMatcher{r} }
