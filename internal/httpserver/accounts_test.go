package httpserver_test

import (
	"bytes"
	"encoding/base64"
	"image/png"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/pquerna/otp/totp"

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

// An agent turns on a second factor (TOTP); from then on the password alone
// does not sign them in. A tenant can require it of every agent.
func TestSecondFactor(t *testing.T) {
	t.Parallel()
	clk := clock.NewFake(time.Now())
	env := apptest.Start(t, apptest.Options{Clock: clk})
	admin := env.SignUp(t, "Acme", "ada@acme.test")
	_, body := env.Get(t, admin, "/me/2fa")
	qr := regexp.MustCompile(`<img class="totp-qr" src="data:image/png;base64,([A-Za-z0-9+/=]+)"`).FindStringSubmatch(body)
	if qr == nil {
		t.Fatalf("no QR code on the second-factor page:\n%s", body)
	}
	if raw, err := base64.StdEncoding.DecodeString(qr[1]); err != nil {
		t.Fatal(err)
	} else if img, err := png.Decode(bytes.NewReader(raw)); err != nil || img.Bounds().Dx() != 200 {
		t.Fatalf("the QR code is not a 200 px PNG: %v", err)
	}
	m := regexp.MustCompile(`id="totp-secret"[^>]*value="([A-Z2-7]+)"`).FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("no key on the second-factor page:\n%s", body)
	}
	secret := m[1]
	code := func() string {
		c, err := totp.GenerateCode(secret, clk.Now())
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	wrong := func() string { // a code of another secret
		c, _ := totp.GenerateCode("JBSWY3DPEHPK3PXP", clk.Now())
		if c == code() {
			c = "000000"
		}
		return c
	}
	if status, _, body := env.Post(t, admin, "/me/2fa", url.Values{"action": {"on"}, "code": {wrong()}}); status != http.StatusUnprocessableEntity || !strings.Contains(body, "That code is not right") {
		t.Fatalf("turn on with a wrong code: %d\n%s", status, body)
	}
	// The page showed a new key with the error: its code turns it on.
	_, body = env.Get(t, admin, "/me/2fa")
	secret = regexp.MustCompile(`id="totp-secret"[^>]*value="([A-Z2-7]+)"`).FindStringSubmatch(body)[1]
	if status, loc, _ := env.Post(t, admin, "/me/2fa", url.Values{"action": {"on"}, "code": {code()}}); status != http.StatusSeeOther || loc != "/me/2fa" {
		t.Fatalf("turn on: %d %s", status, loc)
	}
	if _, body := env.Get(t, admin, "/me/2fa"); !strings.Contains(body, "On: you log in with your password and a code") {
		t.Fatalf("second factor not on:\n%s", body)
	}

	// The password alone is not enough now.
	clk.Advance(30 * time.Second) // the code that turned it on is used
	c := env.Client()
	if status, loc, _ := env.Post(t, c, "/login", url.Values{"email": {"ada@acme.test"}, "password": {"long enough password"}}); status != http.StatusSeeOther || loc != "/login/code" {
		t.Fatalf("login with a second factor: %d %s", status, loc)
	}
	if status, _ := env.Get(t, c, "/chats"); status != http.StatusSeeOther {
		t.Fatalf("/chats before the code: %d, want a redirect to log in", status)
	}
	if status, _, body := env.Post(t, c, "/login/code", url.Values{"code": {wrong()}}); status != http.StatusUnauthorized || !strings.Contains(body, "That code is not right") {
		t.Fatalf("wrong code: %d\n%s", status, body)
	}
	if status, loc, _ := env.Post(t, c, "/login/code", url.Values{"code": {code()}}); status != http.StatusSeeOther || loc != "/" {
		t.Fatalf("right code: %d %s", status, loc)
	}
	if status, _ := env.Get(t, c, "/chats"); status != http.StatusOK {
		t.Fatalf("/chats after the code: %d", status)
	}
	// The same code, seen over her shoulder, does not sign in again.
	replay := env.Client()
	env.Post(t, replay, "/login", url.Values{"email": {"ada@acme.test"}, "password": {"long enough password"}})
	if status, _, body := env.Post(t, replay, "/login/code", url.Values{"code": {code()}}); status != http.StatusUnauthorized || !strings.Contains(body, "That code was used already") {
		t.Fatalf("a used code: %d\n%s", status, body)
	}
	clk.Advance(30 * time.Second)
	// Guessing: after 5 wrong codes the password is asked again, and the
	// right code no longer helps.
	g := env.Client()
	env.Post(t, g, "/login", url.Values{"email": {"ada@acme.test"}, "password": {"long enough password"}})
	var status int
	for range 5 {
		status, _, body = env.Post(t, g, "/login/code", url.Values{"code": {wrong()}})
	}
	if status != http.StatusUnauthorized || !strings.Contains(body, "Too many wrong codes") {
		t.Fatalf("5th wrong code: %d\n%s", status, body)
	}
	if status, loc, _ := env.Post(t, g, "/login/code", url.Values{"code": {code()}}); status != http.StatusSeeOther || loc != "/login" {
		t.Fatalf("right code after 5 wrong ones: %d %s, want a redirect to log in again", status, loc)
	}

	// Required of every agent: Bob, without one, sets it up first.
	env.Post(t, admin, "/settings/agents", url.Values{"name": {"Bob"}, "email": {"bob@acme.test"}, "role": {"agent"}, "password": {"bobs password"}})
	if status, loc, _ := env.Post(t, admin, "/settings/2fa", url.Values{"require": {"true"}}); status != http.StatusSeeOther || loc != "/me/2fa" {
		t.Fatalf("require: %d %s", status, loc)
	}
	bob := env.Client()
	if status, _, _ := env.Post(t, bob, "/login", url.Values{"email": {"bob@acme.test"}, "password": {"bobs password"}}); status != http.StatusSeeOther {
		t.Fatalf("bob's login: %d", status)
	}
	if status, loc, _ := env.Post(t, bob, "/settings/2fa", url.Values{"require": {"false"}}); status != http.StatusSeeOther || loc != "/me/2fa" {
		t.Fatalf("bob, without a second factor, posting elsewhere: %d %s, want sent to set it up", status, loc)
	}
	for _, page := range []string{"/chats", "/clients", "/me/macros"} {
		resp, err := bob.Get(env.URL + page)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/me/2fa" {
			t.Errorf("bob without a second factor opens %s: %d %s, want /me/2fa", page, resp.StatusCode, resp.Header.Get("Location"))
		}
	}
	if _, body := env.Get(t, bob, "/me/2fa"); !strings.Contains(body, "Your company requires a second factor") {
		t.Errorf("bob's second-factor page does not say it is required:\n%s", body)
	}
	// And Ada cannot turn hers off while it is required.
	if status, _, _ := env.Post(t, admin, "/me/2fa", url.Values{"action": {"off"}, "code": {code()}}); status != http.StatusConflict {
		t.Errorf("turning off a required second factor: %d, want 409", status)
	}
	var n int
	if err := env.App.DB.InTenant(t.Context(), tenantOf(t, env, "ada@acme.test"), func(tx pgx.Tx) error {
		return tx.QueryRow(t.Context(), `SELECT count(*) FROM agents WHERE totp_secret IS NOT NULL`).Scan(&n)
	}); err != nil || n != 1 {
		t.Errorf("agents with a second factor: %d %v, want Ada's alone", n, err)
	}
}

func tenantOf(t *testing.T, env *apptest.Env, email string) uuid.UUID {
	t.Helper()
	conn, err := pgx.Connect(t.Context(), env.DBURL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(t.Context())
	var tid uuid.UUID
	if err := conn.QueryRow(t.Context(), `SELECT tenant_id FROM agents WHERE email = $1`, email).Scan(&tid); err != nil {
		t.Fatal(err)
	}
	return tid
}

// A password reset ends the agent's other sessions: a browser signed in
// with the old password has its open page's stream ended at once and is
// sent to log in at its next request; the new password signs in.
func TestPasswordResetEndsOtherSessions(t *testing.T) {
	t.Parallel()
	env := apptest.Start(t, apptest.Options{})
	env.SignUp(t, "Acme", "ada@acme.test")
	before := &demo{env: env, client: env.Client()}
	if status, _, _ := env.Post(t, before.client, "/login", url.Values{"email": {"ada@acme.test"}, "password": {"long enough password"}}); status != http.StatusSeeOther {
		t.Fatalf("log in: %d", status)
	}
	tab := before.connect(t, before.pageStream(t, "/chats"))
	until(t, tab, "synced")

	c := env.Client()
	env.Post(t, c, "/forgot", url.Values{"email": {"ada@acme.test"}})
	link := env.LinkIn(t, "ada@acme.test", 2, "/reset/")
	if status, _, body := env.Post(t, c, link, url.Values{"password": {"a brand new password"}}); status != http.StatusOK {
		t.Fatalf("reset: %d\n%s", status, body)
	}
	ends(t, tab, "after the reset, on the old session's page")
	if status, loc, _ := env.Post(t, before.client, "/me/alerts", url.Values{"desktop": {"on"}}); status != http.StatusSeeOther || loc != "/login" {
		t.Fatalf("the old session after the reset: %d %s, want 303 to /login", status, loc)
	}
	after := env.Client()
	if status, _, _ := env.Post(t, after, "/login", url.Values{"email": {"ada@acme.test"}, "password": {"a brand new password"}}); status != http.StatusSeeOther {
		t.Fatalf("log in with the new password: %d", status)
	}
	if status, _ := env.Get(t, after, "/chats"); status != http.StatusOK {
		t.Fatalf("the new session: %d", status)
	}
}
