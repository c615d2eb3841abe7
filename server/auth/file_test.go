package auth

import (
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/loam-logs/loam/internal/golden"
)

// dump prints a table: every user and token with its role and tenants.
func dump(t *Table) string {
	var b strings.Builder
	names := make([]string, 0, len(t.users))
	for n := range t.users {
		names = append(names, n)
	}
	slices.Sort(names)
	for _, n := range names {
		id := t.users[n].id
		fmt.Fprintf(&b, "user  %-14s %-6s %s\n", id.Name, id.Role, strings.Join(id.Tenants, ","))
	}
	for _, k := range t.tokens {
		fmt.Fprintf(&b, "token %-14s %-6s %s sha256:%x\n", k.id.Name, k.id.Role, strings.Join(k.id.Tenants, ","), k.sum[:4])
	}
	return b.String()
}

func TestParseSample(t *testing.T) {
	data, err := os.ReadFile("testdata/auth.yaml")
	if err != nil {
		t.Fatal(err)
	}
	tab, err := Parse(data)
	if err != nil {
		t.Fatal(err)
	}
	golden.Check(t, "testdata/auth.golden", []byte(dump(tab)))
}

func TestParseEmpty(t *testing.T) {
	for _, s := range []string{"", "# nothing yet\n", "users: []\ntokens: []\n", "users:\n"} {
		tab, err := Parse([]byte(s))
		if err != nil {
			t.Errorf("%q: %v", s, err)
			continue
		}
		if u, k := tab.Len(); u+k != 0 {
			t.Errorf("%q: %d users, %d tokens", s, u, k)
		}
	}
}

const goodHash = "$2a$04$kOBU/tJCo38iz.l5bOv.SejVZL7NNM062H8LFwyRFDIXsBvfTJAma"
const goodSum = "5a4806aaf8e14a7c4a89f70d1ef7b2324ddae2b85c417a9270d87b4db806b6a0"

func TestParseErrors(t *testing.T) {
	u := func(fields string) string {
		return "users:\n  - name: a\n    password_bcrypt: \"" + goodHash + "\"\n" + fields
	}
	k := func(fields string) string {
		return "tokens:\n  - name: g\n    token_sha256: " + goodSum + "\n" + fields
	}
	for _, tc := range []struct {
		name, file string
		want       []string // substrings of the error
	}{
		{"unknown top key", "user:\n  - name: a\n", []string{"field user not found"}},
		{"unknown entry key", u("    tenants: [a]\n    role: push\n    password: x\n"), []string{"field password not found"}},
		{"bad role", u("    tenants: [a]\n    role: writer\n"), []string{"users[0] (a)", `role "writer" is not one of push, read, admin`}},
		{"no role", u("    tenants: [a]\n"), []string{"users[0] (a): no role"}},
		{"no tenants", u("    role: read\n"), []string{"users[0] (a): no tenants"}},
		{"star not alone", u("    tenants: [a, \"*\"]\n    role: read\n"), []string{`"*" (every tenant) must be alone`}},
		{"tenant twice", u("    tenants: [a, a]\n    role: read\n"), []string{`tenant "a" is listed twice`}},
		{"bad tenant", u("    tenants: [\"a b\"]\n    role: read\n"), []string{`tenant "a b" holds " "`}},
		{"bad tenant dot", u("    tenants: [\"..\"]\n    role: read\n"), []string{`tenant ".." is not allowed`}},
		{"long tenant", u("    tenants: [" + strings.Repeat("x", 151) + "]\n    role: read\n"), []string{"151 characters long"}},
		{"no hash", "users:\n  - name: a\n    tenants: [a]\n    role: read\n", []string{"users[0] (a): no password_bcrypt", "loam hash-password"}},
		{"plain password", "users:\n  - name: a\n    password_bcrypt: hunter2\n    tenants: [a]\n    role: read\n", []string{"users[0] (a): password_bcrypt is not a bcrypt hash"}},
		{"cut hash", "users:\n  - name: a\n    password_bcrypt: \"" + goodHash[:50] + "\"\n    tenants: [a]\n    role: read\n", []string{"users[0] (a): password_bcrypt is not a bcrypt hash"}},
		{"no name", "users:\n  - password_bcrypt: \"" + goodHash + "\"\n    tenants: [a]\n    role: read\n", []string{"users[0]: no name"}},
		{"colon in name", "users:\n  - name: a:b\n    password_bcrypt: \"" + goodHash + "\"\n    tenants: [a]\n    role: read\n", []string{"cannot hold ':'"}},
		{"duplicate user", u("    tenants: [a]\n    role: read\n  - name: a\n    password_bcrypt: \"" + goodHash + "\"\n    tenants: [a]\n    role: read\n"),
			[]string{`users[1] (a): name "a" is also the name of users[0] (a)`}},
		{"user and token share a name", u("    tenants: [a]\n    role: read\ntokens:\n  - name: a\n    token_sha256: " + goodSum + "\n    tenants: [a]\n    role: read\n"),
			[]string{`tokens[0] (a): name "a" is also the name of users[0] (a)`}},
		{"bad hex", "tokens:\n  - name: g\n    token_sha256: xyz\n    tenants: [a]\n    role: read\n", []string{"tokens[0] (g): token_sha256 must be the 64 hex digits", "got 3 characters"}},
		{"short hex", "tokens:\n  - name: g\n    token_sha256: abcd\n    tenants: [a]\n    role: read\n", []string{"tokens[0] (g): token_sha256 must be"}},
		{"token bad role", k("    tenants: [a]\n    role: root\n"), []string{"tokens[0] (g)", `role "root"`}},
		{"same token twice", k("    tenants: [a]\n    role: read\n  - name: h\n    token_sha256: " + strings.ToUpper(goodSum) + "\n    tenants: [b]\n    role: push\n"),
			[]string{`tokens[1] (h): same token_sha256 as token "g"`}},
		{"two documents", u("    tenants: [a]\n    role: read\n") + "---\nusers: []\n", []string{"more than one YAML document"}},
		{"not a list", "users: {name: a}\n", []string{"cannot unmarshal"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse([]byte(tc.file))
			if err == nil {
				t.Fatalf("no error for\n%s", tc.file)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not say %q", err, w)
				}
			}
		})
	}
}

func TestRoleAllows(t *testing.T) {
	want := map[Role][]Access{
		RolePush:  {Open, Metrics, Any, Push},
		RoleRead:  {Open, Metrics, Any, Read},
		RoleAdmin: {Open, Metrics, Any, Push, Read, Admin},
	}
	for r, allowed := range want {
		for a := Open; a <= Admin; a++ {
			if got := r.allows(a); got != slices.Contains(allowed, a) {
				t.Errorf("%s allows %s: %v", r, a, got)
			}
		}
	}
	for _, a := range []Access{Push, Read, Admin} {
		if Role(0).allows(a) {
			t.Errorf("the zero role allows %s", a)
		}
	}
}
