package auth

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"

	"golang.org/x/crypto/bcrypt"
)

// HashPassword returns the bcrypt hash (default cost) of password, for an
// auth file's password_bcrypt. bcrypt reads at most 72 bytes: a longer
// password is an error rather than silently cut.
func HashPassword(password string) (string, error) {
	if password == "" {
		return "", errors.New("empty password")
	}
	if len(password) > 72 {
		return "", errors.New("the password is longer than 72 bytes, the most bcrypt uses")
	}
	h, err := bcrypt.GenerateFromPassword([]byte(password), bcrypt.DefaultCost)
	return string(h), err
}

// HashToken returns the hex SHA-256 of token, for an auth file's
// token_sha256.
func HashToken(token string) (string, error) {
	if token == "" {
		return "", errors.New("empty token")
	}
	if _, err := ParseAuthorization("Bearer " + token); err != nil {
		return "", errors.New("a bearer token cannot hold spaces or control characters")
	}
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:]), nil
}
