package sandbox

import (
	mathrand "math/rand/v2"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// injectFaults applies the faults both simulators offer: latency before
// answering, hangs until the client gives up, and server errors. fail
// writes the provider's own error body. It reports whether the request has
// been answered (or abandoned).
func injectFaults(w http.ResponseWriter, r *http.Request, latency time.Duration, timeoutRate, serverErrorRate float64,
	fail func(w http.ResponseWriter, status int, msg string)) bool {
	if latency > 0 {
		timer := time.NewTimer(latency)
		defer timer.Stop()
		select {
		case <-timer.C:
		case <-r.Context().Done():
			return true
		}
	}
	if timeoutRate > 0 && mathrand.Float64() < timeoutRate {
		hang(w, r, fail)
		return true
	}
	if serverErrorRate > 0 && mathrand.Float64() < serverErrorRate {
		if mathrand.IntN(4) == 0 {
			w.Header().Set("Retry-After", "1")
			fail(w, http.StatusServiceUnavailable, "Service Unavailable")
		} else {
			fail(w, http.StatusInternalServerError, "Internal Server Error")
		}
		return true
	}
	return false
}

// hang answers nothing until the client gives up; the cap only keeps a
// forgotten client from pinning the goroutine forever.
func hang(w http.ResponseWriter, r *http.Request, fail func(w http.ResponseWriter, status int, msg string)) {
	timer := time.NewTimer(5 * time.Minute)
	defer timer.Stop()
	select {
	case <-r.Context().Done():
	case <-timer.C:
		fail(w, http.StatusGatewayTimeout, "Gateway Timeout")
	}
}

// requestBase is pub, or when it is empty, the base the request came in on
// (scheme, host and whatever prefix http.StripPrefix removed).
func requestBase(pub string, r *http.Request) string {
	if pub != "" || r == nil {
		return pub
	}
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	prefix := ""
	if u, err := url.ParseRequestURI(r.RequestURI); err == nil {
		prefix = strings.TrimSuffix(u.Path, r.URL.Path)
	}
	return scheme + "://" + r.Host + prefix
}

// LostAnswer is how the answer to a request the provider has already
// accepted fails to reach the client: the message exists and goes out, but
// the client cannot know.
type LostAnswer string

// The ways an accepted send's answer is lost.
const (
	// LostReset closes the connection without an answer.
	LostReset LostAnswer = "reset"
	// LostServerError answers 500, 502 or 503 (a proxy's page for 502).
	LostServerError LostAnswer = "server-error"
	// LostUnreadable answers success with a truncated body.
	LostUnreadable LostAnswer = "unreadable"
	// LostHang answers nothing until the client gives up.
	LostHang LostAnswer = "hang"
)

// AllLostAnswers are the kinds used when a fault names none.
var AllLostAnswers = []LostAnswer{LostReset, LostServerError, LostUnreadable, LostHang}

// loseAnswer picks, at rate, one of kinds (all when empty) and spoils the
// answer to an accepted request with it; ok is the answer's JSON that is
// truncated for LostUnreadable, and fail writes the provider's error body.
// It reports whether it did.
func loseAnswer(w http.ResponseWriter, r *http.Request, rate float64, kinds []LostAnswer, okStatus int, ok []byte,
	fail func(w http.ResponseWriter, status int, msg string)) bool {
	if rate <= 0 || mathrand.Float64() >= rate {
		return false
	}
	if len(kinds) == 0 {
		kinds = AllLostAnswers
	}
	switch kinds[mathrand.IntN(len(kinds))] {
	case LostReset:
		if hj, isHJ := w.(http.Hijacker); isHJ {
			if conn, _, err := hj.Hijack(); err == nil {
				conn.Close()
				return true
			}
		}
		panic(http.ErrAbortHandler) // without a connection to close, abort the answer
	case LostServerError:
		switch mathrand.IntN(3) {
		case 0:
			fail(w, http.StatusInternalServerError, "Internal Server Error")
		case 1:
			w.Header().Set("Content-Type", "text/html")
			w.WriteHeader(http.StatusBadGateway)
			_, _ = w.Write([]byte("<html><body><h1>502 Bad Gateway</h1></body></html>"))
		default:
			fail(w, http.StatusServiceUnavailable, "Service Unavailable")
		}
	case LostUnreadable:
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(okStatus)
		_, _ = w.Write(ok[:len(ok)/2])
	case LostHang:
		hang(w, r, fail)
	}
	return true
}
