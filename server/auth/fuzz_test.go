package auth

import (
	"encoding/base64"
	"os"
	"slices"
	"strings"
	"testing"
)

// FuzzParse: any file gives a table or an error, never a panic; every
// identity of a table has a role, a name and valid, sorted, distinct
// tenants ("*" alone).
func FuzzParse(f *testing.F) {
	if data, err := os.ReadFile("testdata/auth.yaml"); err == nil {
		f.Add(string(data))
	}
	for _, s := range []string{
		"", "users:\n", "tokens: []\n",
		"users:\n  - {name: a, password_bcrypt: \"" + goodHash + "\", tenants: [a], role: push}\n",
		"tokens:\n  - {name: g, token_sha256: " + goodSum + ", tenants: [\"*\"], role: admin}\n",
		"users: &x [{name: a}]\ntokens: *x\n",
		"users:\n  - name: a\n    tenants: [b, a, c]\n    role: read\n",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, file string) {
		tab, err := Parse([]byte(file))
		if err != nil {
			return
		}
		var ids []*Identity
		for name, u := range tab.users {
			if u.id.Name != name || strings.Contains(name, ":") {
				t.Fatalf("user %q: identity %+v", name, u.id)
			}
			ids = append(ids, u.id)
		}
		for _, k := range tab.tokens {
			ids = append(ids, k.id)
		}
		for _, id := range ids {
			if id.Name == "" || roleNames[id.Role] == "" || len(id.Tenants) == 0 || !slices.IsSorted(id.Tenants) {
				t.Fatalf("bad identity %+v", id)
			}
			for i, tn := range id.Tenants {
				if (tn == AllTenants && len(id.Tenants) > 1) || (i > 0 && id.Tenants[i-1] == tn) || checkTenant(tn) != nil {
					t.Fatalf("bad tenants %q", id.Tenants)
				}
			}
		}
	})
}

// FuzzParseAuthorization: any header gives a credential or an error, never
// a panic; an error does not echo the secret; a basic credential encoded
// again parses back the same.
func FuzzParseAuthorization(f *testing.F) {
	for _, s := range []string{"", "Basic " + b64("u:p"), "basic " + b64("u:p:q"), "Bearer tok", "Bearer  t ",
		"Basic", "Basic !!", "Basic " + b64(":x"), "Digest x", "Bearer a\x00b", "Basic " + b64("ü:ß")} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, h string) {
		c, err := ParseAuthorization(h)
		if err != nil {
			if c != (Credential{}) {
				t.Fatalf("error %v with credential %+v", err, c)
			}
			if len(h) > 16 && strings.Contains(err.Error(), h[len(h)-16:]) {
				t.Fatalf("error %q echoes the header", err)
			}
			return
		}
		switch c.Kind {
		case None:
			if h != "" {
				t.Fatalf("%q: no credential and no error", h)
			}
		case Basic:
			if c.User == "" || strings.Contains(c.User, ":") {
				t.Fatalf("%q: user %q", h, c.User)
			}
			again, err := ParseAuthorization("Basic " + base64.StdEncoding.EncodeToString([]byte(c.User+":"+c.Password)))
			if err != nil || again != c {
				t.Fatalf("%q: %+v encoded again gives %+v, %v", h, c, again, err)
			}
		case Bearer:
			if c.Token == "" || strings.ContainsAny(c.Token, " \t") {
				t.Fatalf("%q: token %q", h, c.Token)
			}
		}
	})
}
