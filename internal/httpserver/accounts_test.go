package httpserver_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"parley/internal/app/apptest"
	"parley/internal/clock"
	"parley/internal/tenant"
)

// An agent who forgot their password gets a link by mail; it works once,
// for an hour, and the answer to the request is the same for an email that
// no account uses (issue 22, items 5 and 6).
func TestPasswordResetByMail(t *testing.T) {
	t.Parallel()
	clk := clock.NewFake(time.Now())
	env := apptest.Start(t, apptest.Options{Clock: clk})
	env.SignUp(t, "Acme", "ada@acme.test")
	c := env.Client()

	// An unknown email and a known one: the same page, word for word.
	_, _, unknown := env.Post(t, c, "/forgot", url.Values{"email": {"nobody@acme.test"}})
	status, _, known := env.Post(t, c, "/forgot", url.Values{"email": {"ADA@acme.test"}})
	if status != http.StatusOK || !strings.Contains(known, "If an account uses") {
		t.Fatalf("reset request: %d\n%s", status, known)
	}
	if strings.ReplaceAll(unknown, "nobody@acme.test", "X") != strings.ReplaceAll(known, "ADA@acme.test", "X") {
		t.Errorf("the answer for an unknown email differs from a known one's:\n%s\n---\n%s", unknown, known)
	}
	link := env.LinkIn(t, "ada@acme.test", 2, "/reset/") // the sign-up's confirmation, then this
	if ms, err := env.Mail.Search(t.Context(), `to:"nobody@acme.test"`); err != nil || len(ms) != 0 {
		t.Errorf("mails to an unknown email: %d %v", len(ms), err)
	}
	if status, body := env.Get(t, c, link); status != http.StatusOK || !strings.Contains(body, "Choose a new password") {
		t.Fatalf("reset page: %d\n%s", status, body)
	}
	// A password too short: refused, and the link still works.
	if status, _, body := env.Post(t, c, link, url.Values{"password": {"short"}}); status != http.StatusUnprocessableEntity || !strings.Contains(body, "at least 10 characters") {
		t.Fatalf("short password: %d\n%s", status, body)
	}
	if status, _, body := env.Post(t, c, link, url.Values{"password": {"a brand new password"}}); status != http.StatusOK || !strings.Contains(body, "Password changed") {
		t.Fatalf("reset: %d\n%s", status, body)
	}
	// Used: the link is gone, and a second use changes nothing.
	if status, _ := env.Get(t, c, link); status != http.StatusNotFound {
		t.Errorf("used link: %d, want 404", status)
	}
	if status, _, body := env.Post(t, c, link, url.Values{"password": {"the attacker's password"}}); status != http.StatusNotFound || !strings.Contains(body, "already used or expired") {
		t.Errorf("used link posted again: %d\n%s", status, body)
	}
	if status, _, _ := env.Post(t, env.Client(), "/login", url.Values{"email": {"ada@acme.test"}, "password": {"long enough password"}}); status != http.StatusUnauthorized {
		t.Errorf("old password after the reset: %d, want 401", status)
	}
	if status, _, _ := env.Post(t, env.Client(), "/login", url.Values{"email": {"ada@acme.test"}, "password": {"the attacker's password"}}); status != http.StatusUnauthorized {
		t.Errorf("the reused link's password: %d, want 401", status)
	}
	// The reset proved the email: Ada logs in without confirming it.
	if status, loc, _ := env.Post(t, env.Client(), "/login", url.Values{"email": {"ada@acme.test"}, "password": {"a brand new password"}}); status != http.StatusSeeOther || loc != "/" {
		t.Fatalf("new password: %d %s", status, loc)
	}

	// Expired: a link asked for now and opened after its hour.
	env.Post(t, c, "/forgot", url.Values{"email": {"ada@acme.test"}})
	late := env.LinkIn(t, "ada@acme.test", 3, "/reset/")
	clk.Advance(tenant.ResetTTL + time.Second)
	if status, body := env.Get(t, c, late); status != http.StatusNotFound || !strings.Contains(body, "already used or expired") {
		t.Errorf("expired link: %d\n%s", status, body)
	}
	if status, _, _ := env.Post(t, c, late, url.Values{"password": {"too late password"}}); status != http.StatusNotFound {
		t.Errorf("expired link posted: %d, want 404", status)
	}
	if status, _, _ := env.Post(t, env.Client(), "/login", url.Values{"email": {"ada@acme.test"}, "password": {"a brand new password"}}); status != http.StatusSeeOther {
		t.Errorf("password after the expired link: %d, want it unchanged", status)
	}
	// Not an email: said so, nothing mailed.
	if status, _, body := env.Post(t, c, "/forgot", url.Values{"email": {"not an email"}}); status != http.StatusUnprocessableEntity || !strings.Contains(body, "Enter an email address") {
		t.Errorf("bad email: %d\n%s", status, body)
	}
}

// Only the hash of a link's token is stored: the database does not hold
// the link.
func TestResetTokensAreStoredHashed(t *testing.T) {
	t.Parallel()
	env := apptest.Start(t, apptest.Options{})
	env.SignUp(t, "Acme", "ada@acme.test")
	env.Post(t, env.Client(), "/forgot", url.Values{"email": {"ada@acme.test"}})
	link := env.LinkIn(t, "ada@acme.test", 2, "/reset/")
	token := strings.TrimPrefix(link, "/reset/")
	var n int
	if err := env.App.DB.Pool.QueryRow(t.Context(), `SELECT count(*) FROM account_tokens`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	owner := ownerCount(t, env, `SELECT count(*) FROM account_tokens WHERE purpose = 'reset' AND token_hash = sha256(convert_to($1, 'UTF8'))`, token)
	raw := ownerCount(t, env, `SELECT count(*) FROM account_tokens WHERE position(convert_to($1, 'UTF8') IN token_hash) > 0`, token)
	if owner != 1 || raw != 0 {
		t.Errorf("reset tokens stored: by hash %d (want 1), in the clear %d (want 0)", owner, raw)
	}
	if n != 0 {
		t.Errorf("the serving role outside any tenant sees %d account tokens, want 0", n)
	}
}

// ownerCount runs a count as the schema's owner, past row-level security.
func ownerCount(t *testing.T, env *apptest.Env, q string, args ...any) int {
	t.Helper()
	conn, err := pgx.Connect(t.Context(), env.DBURL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(t.Context())
	var n int
	if err := conn.QueryRow(t.Context(), q, args...).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}
