package main

import (
	"bytes"
	"strings"
	"testing"

	"golang.org/x/crypto/bcrypt"
)

func TestHashCommands(t *testing.T) {
	for _, tc := range []struct {
		name, in string
		code     int
		check    func(out string) bool
		errSays  string
	}{
		{"hash-token", "grafana-token\n", 0, func(o string) bool {
			return o == "5a4806aaf8e14a7c4a89f70d1ef7b2324ddae2b85c417a9270d87b4db806b6a0\n"
		}, ""},
		{"hash-token", "grafana-token\r\nignored\n", 0, func(o string) bool { return strings.HasPrefix(o, "5a4806aa") }, ""},
		{"hash-token", "", 1, nil, "empty token"},
		{"hash-password", " pass word \n", 0, func(o string) bool {
			return bcrypt.CompareHashAndPassword([]byte(strings.TrimSpace(o)), []byte(" pass word ")) == nil
		}, ""},
		{"hash-password", "no newline", 0, func(o string) bool {
			return bcrypt.CompareHashAndPassword([]byte(strings.TrimSpace(o)), []byte("no newline")) == nil
		}, ""},
		{"hash-password", "\n", 1, nil, "empty password"},
	} {
		var out, errOut bytes.Buffer
		code := runHash(tc.name, hashCommands[tc.name], nil, strings.NewReader(tc.in), &out, &errOut)
		if code != tc.code || (tc.check != nil && !tc.check(out.String())) || !strings.Contains(errOut.String(), tc.errSays) {
			t.Errorf("%s < %q: exit %d, out %q, err %q", tc.name, tc.in, code, out.String(), errOut.String())
		}
	}
	var out, errOut bytes.Buffer
	if code := runHash("hash-token", hashCommands["hash-token"], []string{"x"}, strings.NewReader(""), &out, &errOut); code != 2 || !strings.Contains(errOut.String(), "usage") {
		t.Errorf("with an argument: %d %q", code, errOut.String())
	}
}
