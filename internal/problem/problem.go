// Package problem is the one error type for failures a person can act on:
// what went wrong in plain words, and for forms, which field. Domain code
// returns these; the web layer turns them into status codes and messages
// next to the fields. Any other error is a fault of ours (500, logged).
package problem

import (
	"errors"
	"sort"
	"strings"
)

// Kind says what sort of problem it is; the web layer maps it to a status.
type Kind int

const (
	Invalid      Kind = iota + 1 // the input is wrong: 422
	NotFound                     // no such thing for this tenant: 404
	Conflict                     // the state forbids it (already ended, window closed): 409
	Forbidden                    // the agent may not: 403
	TooLarge                     // a body or file over its limit: 413
	Unavailable                  // a provider failed or refused: 502
	Unauthorized                 // wrong credentials: 401
	Gone                         // it was there and is no more (an expired link): 410
)

// Error is a problem with a message for people and, optionally, per-field
// messages for a form.
type Error struct {
	Kind   Kind
	Msg    string
	Fields map[string]string
}

func (e *Error) Error() string {
	if len(e.Fields) == 0 {
		return e.Msg
	}
	keys := make([]string, 0, len(e.Fields))
	for k := range e.Fields {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, 0, len(keys))
	for _, k := range keys {
		parts = append(parts, k+": "+e.Fields[k])
	}
	return e.Msg + " (" + strings.Join(parts, "; ") + ")"
}

// New makes a problem of kind with message msg.
func New(kind Kind, msg string) *Error { return &Error{Kind: kind, Msg: msg} }

// Fields collects per-field messages while validating a form.
type Fields map[string]string

// Add records msg for field unless the field already has one.
func (f Fields) Add(field, msg string) {
	if _, ok := f[field]; !ok {
		f[field] = msg
	}
}

// Err is nil when no field has a problem, else an Invalid problem.
func (f Fields) Err() error {
	if len(f) == 0 {
		return nil
	}
	return &Error{Kind: Invalid, Msg: "Please correct the highlighted fields.", Fields: f}
}

// Field is a one-field Invalid problem.
func Field(field, msg string) *Error {
	return &Error{Kind: Invalid, Msg: msg, Fields: map[string]string{field: msg}}
}

// As returns the problem in err's chain, if any.
func As(err error) (*Error, bool) {
	var p *Error
	ok := errors.As(err, &p)
	return p, ok
}

// Is reports whether err is a problem of kind.
func Is(err error, kind Kind) bool {
	p, ok := As(err)
	return ok && p.Kind == kind
}
