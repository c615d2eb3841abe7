// Package backoff computes the waits between delivery attempts: exponential
// growth from a minimum to a maximum, with jitter so that many Fluent Bit
// pods that lost the same server do not all come back in the same instant.
//
// backoff imports only the standard library.
package backoff
