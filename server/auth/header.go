package auth

import (
	"encoding/base64"
	"errors"
	"strings"
)

// Kind is the scheme of a credential.
type Kind uint8

const (
	None   Kind = iota // no Authorization header
	Basic              // Authorization: Basic base64(user:password)
	Bearer             // Authorization: Bearer <token>
)

// Credential is what a request presents.
type Credential struct {
	Kind           Kind
	User, Password string // Basic
	Token          string // Bearer
}

// maxAuthorization bounds the header we decode: a basic credential or a
// token longer than this is no credential of any auth file.
const maxAuthorization = 8 << 10

// ParseAuthorization reads the value of an Authorization header: "Basic "
// and base64 of user:password (RFC 7617), or "Bearer " and a token (RFC
// 6750). The scheme is case-insensitive; "" is Kind None. The errors say
// what is wrong without echoing the secret.
func ParseAuthorization(h string) (Credential, error) {
	if h == "" {
		return Credential{}, nil
	}
	if len(h) > maxAuthorization {
		return Credential{}, errors.New("the Authorization header is longer than 8 KiB")
	}
	scheme, rest, _ := strings.Cut(h, " ")
	rest = strings.Trim(rest, " \t")
	switch {
	case strings.EqualFold(scheme, "Basic"):
		if rest == "" {
			return Credential{}, errors.New("Authorization: Basic has no credentials after the scheme")
		}
		raw, err := base64.StdEncoding.DecodeString(rest)
		if err != nil {
			return Credential{}, errors.New("Authorization: Basic is not followed by base64 of user:password")
		}
		user, pass, ok := strings.Cut(string(raw), ":")
		if !ok {
			return Credential{}, errors.New("Authorization: Basic credentials hold no ':' between user and password")
		}
		if user == "" {
			return Credential{}, errors.New("Authorization: Basic credentials have an empty user name")
		}
		return Credential{Kind: Basic, User: user, Password: pass}, nil
	case strings.EqualFold(scheme, "Bearer"):
		if rest == "" {
			return Credential{}, errors.New("Authorization: Bearer has no token after the scheme")
		}
		if strings.ContainsAny(rest, " \t") || hasControl(rest) {
			return Credential{}, errors.New("Authorization: Bearer token holds spaces or control characters")
		}
		return Credential{Kind: Bearer, Token: rest}, nil
	}
	return Credential{}, errors.New("Authorization scheme is neither Basic nor Bearer")
}
