package auth

import (
	"net/http"
	"net/http/httptest"
	"testing"
)

// The cost per request of the guard on a push route, against no guard:
// a cached basic credential, a bearer token. The handler does nothing, so
// the figures are the guard's own cost.
func BenchmarkGuard(b *testing.B) {
	g := newTestGuard(b, Config{})
	nop := http.HandlerFunc(func(http.ResponseWriter, *http.Request) {})
	rule := Rule{Access: Push, Tenant: true}
	for _, bc := range []struct {
		name, authz string
		h           http.Handler
	}{
		{"off", "", nop},
		{"basic-cached", basic("fluent-bit", "fb-secret"), g.Wrap(rule, nop)},
		{"bearer", "Bearer push-token", g.Wrap(rule, nop)},
	} {
		b.Run(bc.name, func(b *testing.B) {
			r := httptest.NewRequest("POST", "/loki/api/v1/push", nil)
			if bc.authz != "" {
				r.Header.Set("Authorization", bc.authz)
			}
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				w := &discard{h: http.Header{}}
				for pb.Next() {
					bc.h.ServeHTTP(w, r.Clone(r.Context()))
				}
			})
		})
	}
}

// BenchmarkBcrypt is what a request costs when its credential is not
// cached (first use, or after a reload), at the cost of loam hash-password.
func BenchmarkBcrypt(b *testing.B) {
	h, err := HashPassword("pw")
	if err != nil {
		b.Fatal(err)
	}
	tab, err := Parse([]byte("users:\n  - {name: u, password_bcrypt: \"" + h + "\", tenants: [a], role: push}\n"))
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if id, _ := tab.verifyBasic("u", "pw", nil); id == nil {
			b.Fatal("refused")
		}
		tab.cache.init(1) // miss again
	}
}

// discard is a ResponseWriter that keeps nothing.
type discard struct{ h http.Header }

func (d *discard) Header() http.Header         { return d.h }
func (d *discard) Write(p []byte) (int, error) { return len(p), nil }
func (d *discard) WriteHeader(int)             {}
