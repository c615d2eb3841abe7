package auth

import (
	"encoding/base64"
	"strings"
	"testing"
)

func b64(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }

func TestParseAuthorization(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want Credential
		err  string // substring; "" for none
	}{
		{"", Credential{}, ""},
		{"Basic " + b64("fluent-bit:pw"), Credential{Kind: Basic, User: "fluent-bit", Password: "pw"}, ""},
		{"basic " + b64("u:p:with:colons"), Credential{Kind: Basic, User: "u", Password: "p:with:colons"}, ""},
		{"BASIC  " + b64("u:") + " ", Credential{Kind: Basic, User: "u"}, ""},
		{"Bearer abc.DEF-123_~+/=", Credential{Kind: Bearer, Token: "abc.DEF-123_~+/="}, ""},
		{"bearer tok", Credential{Kind: Bearer, Token: "tok"}, ""},
		{"Basic", Credential{}, "no credentials after the scheme"},
		{"Basic ", Credential{}, "no credentials after the scheme"},
		{"Basic !!!", Credential{}, "not followed by base64"},
		{"Basic " + b64("nocolon"), Credential{}, "no ':'"},
		{"Basic " + b64(":pw"), Credential{}, "empty user name"},
		{"Bearer", Credential{}, "no token"},
		{"Bearer a b", Credential{}, "spaces or control"},
		{"Bearer a\x01", Credential{}, "spaces or control"},
		{"Digest username=x", Credential{}, "neither Basic nor Bearer"},
		{"tok", Credential{}, "neither Basic nor Bearer"},
		{"Bearer " + strings.Repeat("x", 9000), Credential{}, "longer than 8 KiB"},
	} {
		got, err := ParseAuthorization(tc.in)
		switch {
		case tc.err == "" && err != nil:
			t.Errorf("%.40q: %v", tc.in, err)
		case tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)):
			t.Errorf("%.40q: error %v, want one saying %q", tc.in, err, tc.err)
		case got != tc.want:
			t.Errorf("%.40q: %+v, want %+v", tc.in, got, tc.want)
		}
	}
}

func TestHashes(t *testing.T) {
	h, err := HashToken("grafana-token")
	if err != nil || h != goodSum {
		t.Errorf("HashToken: %q %v, want %q", h, err, goodSum)
	}
	for _, bad := range []string{"", "a b", "x\n"} {
		if _, err := HashToken(bad); err == nil {
			t.Errorf("HashToken(%q): no error", bad)
		}
	}
	p, err := HashPassword("s3cret")
	if err != nil {
		t.Fatal(err)
	}
	tab, err := Parse([]byte("users:\n  - name: u\n    password_bcrypt: \"" + p + "\"\n    tenants: [a]\n    role: read\n"))
	if err != nil {
		t.Fatalf("a hash of HashPassword does not parse: %v", err)
	}
	if id, r := tab.verify(Credential{Kind: Basic, User: "u", Password: "s3cret"}, nil); id == nil {
		t.Errorf("HashPassword's hash does not verify: %s", r)
	}
	if _, r := tab.verify(Credential{Kind: Basic, User: "u", Password: "s3cret "}, nil); r != ReasonBadPassword {
		t.Errorf("another password: %q, want bad_password", r)
	}
	for _, bad := range []string{"", strings.Repeat("p", 73)} {
		if _, err := HashPassword(bad); err == nil {
			t.Errorf("HashPassword(%.10q…): no error", bad)
		}
	}
}
