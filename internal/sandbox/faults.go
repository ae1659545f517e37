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
		// Hang until the client gives up; the cap only keeps a forgotten
		// client from pinning the goroutine forever.
		timer := time.NewTimer(5 * time.Minute)
		defer timer.Stop()
		select {
		case <-r.Context().Done():
		case <-timer.C:
			fail(w, http.StatusGatewayTimeout, "Gateway Timeout")
		}
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
