package apptest

import (
	"context"
	"regexp"
	"testing"
	"time"

	"parley/internal/mailpit"
)

// startMailpit runs a Mailpit of the test's own (its mails and no other
// test's), stopped when the test ends. A missing Mailpit fails the test:
// `make test` builds it (make mailpit-bin).
func startMailpit(t testing.TB) *mailpit.Server {
	t.Helper()
	bin, err := mailpit.Find()
	if err != nil {
		t.Fatal(err)
	}
	m, err := mailpit.Start(context.Background(), bin, mailpit.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(m.Stop)
	return m
}

// Mails returns the mails sent to addr, newest first, once there are at
// least n (mails go out after the answer to the request that sent them).
func (e *Env) Mails(t testing.TB, addr string, n int) []mailpit.Message {
	t.Helper()
	ctx := context.Background()
	deadline := time.Now().Add(30 * time.Second)
	for {
		ms, err := e.Mail.Search(ctx, `to:"`+addr+`"`)
		if err != nil {
			t.Fatal(err)
		}
		if len(ms) >= n {
			for i := range ms {
				if ms[i], err = e.Mail.Message(ctx, ms[i].ID); err != nil {
					t.Fatal(err)
				}
			}
			return ms
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d mails to %s, want %d", len(ms), addr, n)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// LinkIn returns the link of the newest mail to addr (at least n mails)
// whose path starts with prefix ("/reset/"), without the base URL.
func (e *Env) LinkIn(t testing.TB, addr string, n int, prefix string) string {
	t.Helper()
	m := e.Mails(t, addr, n)[0]
	link := regexp.MustCompile(regexp.QuoteMeta(e.URL+prefix) + `[A-Za-z0-9_-]+`).FindString(m.Text)
	if link == "" {
		t.Fatalf("no %s link in the mail %q to %s:\n%s", prefix, m.Subject, addr, m.Text)
	}
	return link[len(e.URL):]
}
