// Package web holds Parley's HTML: templ components and the static assets
// (htmx and its SSE extension vendored from npm at pinned versions, our CSS
// and a small script), embedded into the binary.
package web

import (
	"embed"
	"strings"

	"parley/internal/tenant"
)

// Static holds the files served under /static/.
//
//go:embed static
var Static embed.FS

// Page is what the layout needs to draw the shell around a page.
type Page struct {
	Title  string
	Nav    string // "chats", "cases", "clients", "settings"
	Agent  *tenant.Agent
	Tenant string
	// ChatCount is the green indicator's number at render time; live
	// updates replace it.
	ChatCount int
}

// Form carries a form's values and its problems back into the page.
type Form struct {
	Values map[string]string
	Errors map[string]string
	Msg    string // a problem not tied to one field
}

// Get returns the submitted value of field.
func (f Form) Get(field string) string { return f.Values[field] }

// Err returns the problem with field, if any.
func (f Form) Err(field string) string { return f.Errors[field] }

// Invalid is the aria-invalid value for field.
func (f Form) Invalid(field string) string {
	if f.Errors[field] != "" {
		return "true"
	}
	return "false"
}

func initials(name string) string {
	var b strings.Builder
	for _, w := range strings.Fields(name) {
		for _, r := range w {
			b.WriteRune(r)
			break
		}
		if b.Len() >= 2 {
			break
		}
	}
	return strings.ToUpper(b.String())
}
