package client

import (
	"errors"
	"fmt"
	"net/http"
	"time"
)

// StatusError is a non-2xx answer from the server.
type StatusError struct {
	URL        string        // the push URL that answered
	Code       int           // HTTP status code
	Message    string        // the server's body, trimmed to about 1 KB, for logs
	RetryAfter time.Duration // from Retry-After; 0 when absent
}

func (e *StatusError) Error() string {
	msg := e.Message
	if msg == "" {
		msg = "(empty body)"
	}
	return fmt.Sprintf("push to %s: %d %s: %s", e.URL, e.Code, http.StatusText(e.Code), msg)
}

// permanentError marks failures that no retry can fix, such as a URL Go
// cannot turn into a request.
type permanentError struct{ err error }

func (e *permanentError) Error() string { return e.err.Error() }
func (e *permanentError) Unwrap() error { return e.err }

// Retryable reports whether another attempt may succeed: connection
// errors, timeouts, 429 Too Many Requests and 5xx are; any other answer
// (400 for bad data, 401/403 for credentials, 404 for a wrong URL, 413 for
// an oversized batch) would be refused again, forever, and is not.
func Retryable(err error) bool {
	if err == nil {
		return false
	}
	var se *StatusError
	if errors.As(err, &se) {
		return se.Code == http.StatusTooManyRequests || se.Code >= 500
	}
	var pe *permanentError
	return !errors.As(err, &pe)
}

// RetryAfter returns the wait a 429 or 503 answer asked for with
// Retry-After, or 0. The caller caps it at its MaxBackoff: a server asking
// for an hour must not stall a Fluent Bit worker for an hour.
func RetryAfter(err error) time.Duration {
	var se *StatusError
	if errors.As(err, &se) && (se.Code == http.StatusTooManyRequests || se.Code == http.StatusServiceUnavailable) {
		return se.RetryAfter
	}
	return 0
}
