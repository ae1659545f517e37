// Package web holds Parley's HTML: templ components and the static assets
// (htmx and its SSE extension vendored from npm at pinned versions, our CSS
// and a small script), embedded into the binary.
package web

import (
	"embed"
	"fmt"
	"strings"
	"time"

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
	// Events is the server-sent-events stream this page listens to
	// ("/events", or "/events?case=12" on a chat).
	Events string
	// Alerts are the agent's choice of desktop notification and sound.
	Alerts tenant.Alerts
}

// Invite is what became of an invitation an admin just created: mailed to
// SentTo, or (no mail configured, or the mail failed with MailErr) a Link
// the admin passes on.
type Invite struct{ SentTo, Link, MailErr string }

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

// clock is a message time: the hour today, else the date too.
func clock(now, t time.Time) string {
	if t.IsZero() {
		return ""
	}
	if y1, m1, d1 := now.Date(); true {
		if y2, m2, d2 := t.Date(); y1 == y2 && m1 == m2 && d1 == d2 {
			return t.Format("15:04")
		}
	}
	return t.Format("2 Jan 15:04")
}

// ago says how long ago t was, in the largest sensible unit.
func ago(now, t time.Time) string {
	d := now.Sub(t)
	switch {
	case d < time.Minute:
		return "just now"
	case d < time.Hour:
		return fmt.Sprintf("%d min", int(d.Minutes()))
	case d < 48*time.Hour:
		return fmt.Sprintf("%d h %d min", int(d.Hours()), int(d.Minutes())%60)
	}
	return fmt.Sprintf("%d days", int(d.Hours()/24))
}

// left says how much of the 24-hour window remains.
func left(now, end time.Time) string {
	d := end.Sub(now)
	if d <= 0 {
		return "templates only"
	}
	if d < time.Hour {
		return fmt.Sprintf("%d min left", int(d.Minutes())+1)
	}
	return fmt.Sprintf("%d h %d min left", int(d.Hours()), int(d.Minutes())%60)
}

// closedText is what the composer says outside the window.
func closedText(s string) string {
	if s == "" {
		return "The 24-hour window is closed — only an approved template can be sent"
	}
	return s
}

func iso(t time.Time) string { return t.UTC().Format(time.RFC3339) }

func itoa(n int64) string { return fmt.Sprint(n) }

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}
