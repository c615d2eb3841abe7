package config

import "strings"

// MapGetter is a Getter over a plain map, for tests and the harness. Lookup
// is case-insensitive, as Fluent Bit's own is, so MapGetter{"url": …} answers
// Get("Url"). When several keys differ only in case (Fluent Bit would take
// the first one written), the exact spelling wins, then the smallest key in
// byte order, so the answer never depends on map iteration order.
type MapGetter map[string]string

// Get returns the value of key, "" when it is not set.
func (m MapGetter) Get(key string) string {
	if v, ok := m[key]; ok {
		return v
	}
	best, found := "", false
	for k := range m {
		if strings.EqualFold(k, key) && (!found || k < best) {
			best, found = k, true
		}
	}
	if !found {
		return ""
	}
	return m[best]
}
