package httpserver

import (
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/go-chi/chi/v5/middleware"
	"github.com/go-chi/httprate"

	"parley/internal/clock"
	"parley/internal/problem"
	"parley/web"
)

// Login throttling is by (client address, email): after loginFreeFailures
// wrong passwords in a row, each further attempt from that address for that
// email waits a delay that doubles with every failure (1 s, 2 s, 4 s … up
// to loginMaxDelay), and an attempt during the wait is refused before the
// password is checked. Nothing is locked: the same email from another
// address is not slowed, so an attacker can slow only their own guesses,
// never keep an agent out. A correct password clears the count; a count
// with no failure for loginForgetAfter is forgotten.
const (
	loginFreeFailures = 5
	loginMaxDelay     = 15 * time.Minute
	loginForgetAfter  = time.Hour
	// loginMaxEntries bounds the memory: past it, forgotten counts are
	// swept out, then the oldest go.
	loginMaxEntries = 100_000
)

type loginThrottle struct {
	clock   clock.Clock
	mu      sync.Mutex
	entries map[string]*loginFailures
}

type loginFailures struct {
	n     int       // wrong passwords in a row
	last  time.Time // the last one
	until time.Time // no attempt before this
}

func newLoginThrottle(c clock.Clock) *loginThrottle {
	return &loginThrottle{clock: c, entries: map[string]*loginFailures{}}
}

// loginKey is the (client address, email) pair a throttle counts for.
func loginKey(r *http.Request) string {
	return httprate.CanonicalizeIP(middleware.GetClientIP(r.Context())) + "\x00" + strings.ToLower(strings.TrimSpace(r.PostFormValue("email")))
}

// wait is how long the key must still wait before its next attempt (0: none).
func (t *loginThrottle) wait(key string) time.Duration {
	t.mu.Lock()
	defer t.mu.Unlock()
	f := t.entries[key]
	if f == nil {
		return 0
	}
	return max(f.until.Sub(t.clock.Now()), 0)
}

// failed counts a wrong password for the key and returns the wait it now has.
func (t *loginThrottle) failed(key string) time.Duration {
	t.mu.Lock()
	defer t.mu.Unlock()
	now := t.clock.Now()
	f := t.entries[key]
	if f == nil || now.Sub(f.last) > loginForgetAfter {
		if f == nil && len(t.entries) >= loginMaxEntries {
			t.sweep(now)
		}
		f = &loginFailures{}
		t.entries[key] = f
	}
	f.n++
	f.last = now
	if f.n >= loginFreeFailures {
		f.until = now.Add(loginDelay(f.n))
	}
	return max(f.until.Sub(now), 0)
}

// loginDelay is the wait after n wrong passwords in a row (n ≥ loginFreeFailures).
func loginDelay(n int) time.Duration {
	if e := n - loginFreeFailures; e < 20 {
		return min(time.Second<<e, loginMaxDelay)
	}
	return loginMaxDelay
}

// succeeded clears the key's count.
func (t *loginThrottle) succeeded(key string) {
	t.mu.Lock()
	delete(t.entries, key)
	t.mu.Unlock()
}

// sweep drops forgotten counts and, if that is not enough, the oldest half.
func (t *loginThrottle) sweep(now time.Time) {
	var oldest time.Time
	for k, f := range t.entries {
		if now.Sub(f.last) > loginForgetAfter && !now.Before(f.until) {
			delete(t.entries, k)
		} else if oldest.IsZero() || f.last.Before(oldest) {
			oldest = f.last
		}
	}
	if len(t.entries) < loginMaxEntries {
		return
	}
	cut := oldest.Add(now.Sub(oldest) / 2)
	for k, f := range t.entries {
		if f.last.Before(cut) {
			delete(t.entries, k)
		}
	}
}

// loginWait answers an attempt that comes before its wait is over: 429,
// with Retry-After, and the login form saying how long to wait. The same
// answer for every email, registered or not.
func (s *Server) loginWait(w http.ResponseWriter, r *http.Request, d time.Duration) {
	secs := int((d + time.Second - 1) / time.Second)
	w.Header().Set("Retry-After", fmt.Sprint(secs))
	unit := "seconds"
	if secs == 1 {
		unit = "second"
	}
	f := formOf(r, problem.New(problem.Invalid, fmt.Sprintf("Too many wrong passwords for this email from your address. Try again in %d %s.", secs, unit)), "email")
	s.render(w, r, http.StatusTooManyRequests, web.Login(s.page(r, "Log in", ""), f))
}

// Sign-up is limited per client address: signUpsPerAddress companies an
// hour, then 429 until the hour's window moves on.
const signUpsPerAddress = 10

func (s *Server) tooManySignUps(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Retry-After", "3600")
	f := formOf(r, problem.New(problem.Invalid, "Too many sign-ups from your address. Try again in an hour."), "company", "name", "email")
	s.render(w, r, http.StatusTooManyRequests, web.SignUp(s.page(r, "Sign up", ""), f))
}
