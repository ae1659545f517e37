package httpserver

import (
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/go-chi/chi/v5/middleware"
	"github.com/go-chi/httprate"

	"parley/internal/problem"
	"parley/web"
)

// loginKey is the (client address, email) pair the login throttle counts
// wrong passwords for (auth.Throttle).
func loginKey(r *http.Request) string {
	return httprate.CanonicalizeIP(middleware.GetClientIP(r.Context())) + "\x00" + strings.ToLower(strings.TrimSpace(r.PostFormValue("email")))
}

// limit is httprate's limit of n requests per window by key, counted in
// Postgres for every replica (name tells the limits apart); over it,
// tooMany answers.
func (s *Server) limit(name string, n int, window time.Duration, key httprate.KeyFunc, tooMany http.HandlerFunc) func(http.Handler) http.Handler {
	return httprate.LimitBy(n, window, key, httprate.WithLimitHandler(tooMany),
		httprate.WithLimitCounter(s.Throttle.Counter(name)),
		httprate.WithErrorHandler(func(w http.ResponseWriter, r *http.Request, err error) { s.fail(w, r, err) }))
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
