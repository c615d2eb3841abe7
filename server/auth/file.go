package auth

import (
	"bytes"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"

	"golang.org/x/crypto/bcrypt"
	"gopkg.in/yaml.v3"
)

// file is the auth file as written.
type file struct {
	Users  []fileUser  `yaml:"users"`
	Tokens []fileToken `yaml:"tokens"`
}

type fileUser struct {
	Name           string   `yaml:"name"`
	PasswordBcrypt string   `yaml:"password_bcrypt"`
	Tenants        []string `yaml:"tenants"`
	Role           string   `yaml:"role"`
}

type fileToken struct {
	Name        string   `yaml:"name"`
	TokenSHA256 string   `yaml:"token_sha256"`
	Tenants     []string `yaml:"tenants"`
	Role        string   `yaml:"role"`
}

// maxTenantLen is Loki's limit on a tenant ID.
const maxTenantLen = 150

// Parse reads an auth file and compiles it into a Table. Unknown keys, a
// missing or unknown role, a password_bcrypt that is not a bcrypt hash, a
// token_sha256 that is not 64 hex digits, no tenants, a tenant that is not
// a valid tenant ID, and a name used twice (users and tokens share one
// namespace: the name is who a request was in logs) are errors that name
// the entry. An empty file (or one of comments) is valid and admits
// nobody.
func Parse(data []byte) (*Table, error) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true) // a misspelt key is an error, not a credential without a role
	var f file
	if err := dec.Decode(&f); err != nil && !errors.Is(err, io.EOF) {
		return nil, err
	}
	// A second document would be ignored silently by a single Decode.
	var extra yaml.Node
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		return nil, errors.New("the file holds more than one YAML document (---); put every user and token in one")
	}
	t := newTable()
	seen := map[string]string{} // name → where it was first used
	name := func(where, n string) error {
		if n == "" {
			return fmt.Errorf("%s: no name", where)
		}
		if prev, dup := seen[n]; dup {
			return fmt.Errorf("%s: name %q is also the name of %s; every user and token needs its own", where, n, prev)
		}
		seen[n] = where
		return nil
	}
	for i, u := range f.Users {
		where := fmt.Sprintf("users[%d]", i)
		if u.Name != "" {
			where = fmt.Sprintf("users[%d] (%s)", i, u.Name)
		}
		if err := name(where, u.Name); err != nil {
			return nil, err
		}
		if strings.ContainsAny(u.Name, ":") || hasControl(u.Name) {
			return nil, fmt.Errorf("%s: a basic-auth user name cannot hold ':' or control characters", where)
		}
		id, err := identity(where, u.Name, u.Role, u.Tenants)
		if err != nil {
			return nil, err
		}
		hash := []byte(u.PasswordBcrypt)
		if u.PasswordBcrypt == "" {
			return nil, fmt.Errorf("%s: no password_bcrypt; make one with `loam hash-password`", where)
		}
		if _, err := bcrypt.Cost(hash); err != nil || len(hash) != 60 {
			if err == nil {
				err = fmt.Errorf("%d characters long, a bcrypt hash has 60", len(hash))
			}
			return nil, fmt.Errorf("%s: password_bcrypt is not a bcrypt hash ($2a$10$… or $2b$, $2y$): %v; make one with `loam hash-password`", where, err)
		}
		t.users[u.Name] = &user{id: id, hash: hash}
	}
	for i, k := range f.Tokens {
		where := fmt.Sprintf("tokens[%d]", i)
		if k.Name != "" {
			where = fmt.Sprintf("tokens[%d] (%s)", i, k.Name)
		}
		if err := name(where, k.Name); err != nil {
			return nil, err
		}
		id, err := identity(where, k.Name, k.Role, k.Tenants)
		if err != nil {
			return nil, err
		}
		sum, err := hex.DecodeString(k.TokenSHA256)
		if err != nil || len(sum) != 32 {
			return nil, fmt.Errorf("%s: token_sha256 must be the 64 hex digits of the token's SHA-256 (got %d characters); make it with `loam hash-token` or `printf %%s TOKEN | sha256sum`", where, len(k.TokenSHA256))
		}
		tok := token{id: id}
		copy(tok.sum[:], sum)
		for _, o := range t.tokens {
			if o.sum == tok.sum {
				return nil, fmt.Errorf("%s: same token_sha256 as token %q; a token must name one credential", where, o.id.Name)
			}
		}
		t.tokens = append(t.tokens, tok)
	}
	return t, nil
}

// identity checks the role and tenants of an entry.
func identity(where, name, role string, tenants []string) (*Identity, error) {
	if role == "" {
		return nil, fmt.Errorf("%s: no role; one of push, read, admin", where)
	}
	r, err := ParseRole(role)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", where, err)
	}
	if len(tenants) == 0 {
		return nil, fmt.Errorf("%s: no tenants; list the tenants it may use, or [\"*\"] for every tenant", where)
	}
	ts := slices.Clone(tenants)
	slices.Sort(ts)
	for i, tn := range ts {
		if tn == AllTenants && len(ts) > 1 {
			return nil, fmt.Errorf("%s: tenants: \"*\" (every tenant) must be alone", where)
		}
		if i > 0 && ts[i-1] == tn {
			return nil, fmt.Errorf("%s: tenant %q is listed twice", where, tn)
		}
		if err := checkTenant(tn); err != nil {
			return nil, fmt.Errorf("%s: %w", where, err)
		}
	}
	return &Identity{Name: name, Role: r, Tenants: ts}, nil
}

// checkTenant applies Loki's rules for tenant IDs (as the API does to
// X-Scope-OrgID), so that a tenant no request can name is caught when the
// file is read: at most 150 characters from [a-zA-Z0-9!-_.*'()], not "."
// or "..".
func checkTenant(t string) error {
	switch {
	case t == "":
		return errors.New("empty tenant")
	case len(t) > maxTenantLen:
		return fmt.Errorf("tenant %.20q… is %d characters long; the limit is %d", t, len(t), maxTenantLen)
	case t == "." || t == "..":
		return fmt.Errorf("tenant %q is not allowed", t)
	}
	for _, c := range t {
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		case strings.ContainsRune("!-_.*'()", c):
		default:
			return fmt.Errorf("tenant %q holds %q; allowed are letters, digits and !-_.*'()", t, string(c))
		}
	}
	return nil
}

func hasControl(s string) bool {
	return strings.ContainsFunc(s, func(r rune) bool { return r < 0x20 || r == 0x7f })
}
