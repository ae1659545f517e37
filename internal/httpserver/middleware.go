package httpserver

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"path"
	"regexp"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/go-chi/chi/v5/middleware"
	"github.com/go-chi/httprate"
	"github.com/prometheus/client_golang/prometheus"

	"parley/internal/problem"
	"parley/internal/tenant"
	"parley/web"
)

type ctxKey int

const (
	ctxSigned ctxKey = iota
	ctxRequestLog
)

// requestLog collects attributes that handlers learn (tenant, agent) for the
// one log line written when the request ends.
type requestLog struct {
	mu    sync.Mutex
	attrs []slog.Attr
}

func (l *requestLog) add(a ...slog.Attr) {
	l.mu.Lock()
	l.attrs = append(l.attrs, a...)
	l.mu.Unlock()
}

func logAttrs(ctx context.Context, a ...slog.Attr) {
	if l, ok := ctx.Value(ctxRequestLog).(*requestLog); ok {
		l.add(a...)
	}
}

type httpMetrics struct {
	duration *prometheus.HistogramVec
}

func newHTTPMetrics(reg prometheus.Registerer) (*httpMetrics, error) {
	m := &httpMetrics{duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "http_request_duration_seconds",
		Help:    "HTTP request durations by route pattern, method and status.",
		Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5},
	}, []string{"route", "method", "status"})}
	if err := reg.Register(m.duration); err != nil {
		return nil, fmt.Errorf("register http metrics: %w", err)
	}
	return m, nil
}

// logRequests writes one structured line per request, with its request id,
// tenant and agent, and records its duration by route pattern.
func (s *Server) logRequests(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rl := &requestLog{}
		ctx := context.WithValue(r.Context(), ctxRequestLog, rl)
		ww := middleware.NewWrapResponseWriter(w, r.ProtoMajor)
		next.ServeHTTP(ww, r.WithContext(ctx))

		status := ww.Status()
		if status == 0 {
			status = http.StatusOK
		}
		route := "unmatched"
		if rc := chi.RouteContext(ctx); rc != nil && rc.RoutePattern() != "" {
			route = rc.RoutePattern()
		}
		d := time.Since(start)
		method := metricMethod(r.Method)
		s.httpMetrics.duration.WithLabelValues(route, method, strconv.Itoa(status)).Observe(d.Seconds())
		if route == "/healthz" || route == "/readyz" || route == "/metrics" || strings.HasPrefix(route, "/static/") {
			return
		}
		attrs := []slog.Attr{
			slog.String("request_id", middleware.GetReqID(ctx)),
			slog.String("method", method), slog.String("route", route), slog.String("path", loggedPath(chi.RouteContext(ctx), r.URL.Path)),
			slog.Int("status", status), slog.Duration("duration", d), slog.Int("bytes", ww.BytesWritten()),
		}
		rl.mu.Lock()
		attrs = append(attrs, rl.attrs...)
		rl.mu.Unlock()
		level := slog.LevelInfo
		if status >= 500 {
			level = slog.LevelError
		}
		s.Log.LogAttrs(ctx, level, "http request", attrs...)
	})
}

// secretParams are the route parameters that are credentials: a webhook's
// token (1msg's only credential for inbound), an invitation's (whoever has
// it can join the company) and a public media link's. A log line never
// carries them.
var secretParams = map[string]bool{"token": true}

// routeParam matches a chi route parameter, {name} or {name:regexp}.
var routeParam = regexp.MustCompile(`\{([^}:]+)(?::[^}]*)?\}`)

// loggedPath is the request's path for the log: the matched route with
// its parameters filled in, secret ones as {name}; a path no route matched
// keeps its first segment only, since anything may follow it.
func loggedPath(rc *chi.Context, path string) string {
	if rc == nil || rc.RoutePattern() == "" {
		first, rest, _ := strings.Cut(strings.TrimPrefix(path, "/"), "/")
		if rest != "" {
			return "/" + first + "/…"
		}
		if len(first) > 40 {
			return "/…"
		}
		return path
	}
	out := routeParam.ReplaceAllStringFunc(rc.RoutePattern(), func(m string) string {
		name := routeParam.FindStringSubmatch(m)[1]
		if secretParams[name] {
			return "{" + name + "}"
		}
		return rc.URLParam(name)
	})
	if strings.HasSuffix(out, "*") {
		out = strings.TrimSuffix(out, "*") + rc.URLParam("*")
	}
	return out
}

// metricMethods are the methods that get their own label; any other
// becomes "other", so that made-up methods add no series (issue 22: 3,000
// requests with random methods added 45,000).
var metricMethods = map[string]bool{
	http.MethodGet: true, http.MethodHead: true, http.MethodPost: true, http.MethodPut: true,
	http.MethodPatch: true, http.MethodDelete: true, http.MethodOptions: true,
}

// metricMethod is the method as a metric label and a log field.
func metricMethod(m string) string {
	if metricMethods[m] {
		return m
	}
	return "other"
}

func (s *Server) recoverPanics(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					panic(v)
				}
				s.Log.ErrorContext(r.Context(), "panic", "request_id", middleware.GetReqID(r.Context()), "panic", v, "stack", string(debug.Stack()))
				s.errorPage(w, r, http.StatusInternalServerError, "Something went wrong", "We could not complete this request. It has been logged; please try again.")
			}
		}()
		next.ServeHTTP(w, r)
	})
}

// securityHeaders: a CSP without inline scripts, no framing, no sniffing.
// Images may come from https hosts: template previews show the media
// samples the providers keep on their CDNs. When the public base URL is
// https, browsers are told to use nothing else (HSTS), for a year.
func securityHeaders(baseURL string) func(http.Handler) http.Handler {
	hsts := strings.HasPrefix(strings.ToLower(baseURL), "https://")
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			h := w.Header()
			h.Set("Content-Security-Policy", "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob: https:; media-src 'self' blob:; connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'")
			h.Set("X-Content-Type-Options", "nosniff")
			h.Set("X-Frame-Options", "DENY")
			h.Set("Referrer-Policy", "same-origin")
			h.Set("Permissions-Policy", "camera=(), microphone=(), geolocation=()")
			if hsts {
				h.Set("Strict-Transport-Security", "max-age=31536000")
			}
			next.ServeHTTP(w, r)
		})
	}
}

// staticFiles serves the embedded files (web.LookupAsset): gzipped when the
// browser takes it (compressed once, at start), by their content-hashed
// names with immutable caching, by their plain names with an hour's; a
// directory or an unknown name is not found, never listed.
func (s *Server) staticFiles() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		name := strings.TrimPrefix(path.Clean("/"+r.URL.Path), "/")
		f, ok := web.LookupAsset(name)
		if !ok {
			s.notFound(w, r)
			return
		}
		h := w.Header()
		if f.Immutable {
			h.Set("Cache-Control", "public, max-age=31536000, immutable")
		} else {
			h.Set("Cache-Control", "public, max-age=3600")
		}
		h.Set("Content-Type", f.Type)
		body, etag := f.Raw, f.ETag
		if f.Gzip != nil {
			h.Add("Vary", "Accept-Encoding")
			if acceptsGzip(r.Header.Get("Accept-Encoding")) {
				h.Set("Content-Encoding", "gzip")
				// Each representation has its own strong ETag.
				body, etag = f.Gzip, strings.TrimSuffix(f.ETag, `"`)+`-gzip"`
			}
		}
		h.Set("ETag", etag)
		http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(body))
	})
}

// acceptsGzip: the Accept-Encoding header names gzip (or *) without q=0.
func acceptsGzip(ae string) bool {
	for _, part := range strings.Split(ae, ",") {
		coding, params, _ := strings.Cut(strings.TrimSpace(part), ";")
		coding = strings.ToLower(strings.TrimSpace(coding))
		if coding != "gzip" && coding != "*" {
			continue
		}
		q := strings.ReplaceAll(strings.ToLower(params), " ", "")
		if q == "q=0" || q == "q=0.0" || q == "q=0.00" || q == "q=0.000" {
			return false
		}
		return true
	}
	return false
}

// sameOrigin refuses a state-changing request whose Origin is not this
// server's by scheme and host: http.CrossOriginProtection compares the
// host alone, so "Origin: https://host" passed on an http server. The
// scheme is the public base URL's (https behind a TLS proxy), or https
// when the connection itself is TLS.
func (s *Server) sameOrigin(next http.Handler) http.Handler {
	scheme := "http"
	if strings.HasPrefix(strings.ToLower(s.Config.BaseURL), "https://") {
		scheme = "https"
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.Method {
		case http.MethodGet, http.MethodHead, http.MethodOptions:
			next.ServeHTTP(w, r)
			return
		}
		want := scheme
		if r.TLS != nil {
			want = "https"
		}
		if o := r.Header.Get("Origin"); o != "" && !strings.EqualFold(o, want+"://"+r.Host) {
			s.errorPage(w, r, http.StatusForbidden, "Refused", "This request came from another site, or the same site over another scheme (http or https). Nothing was changed.")
			return
		}
		next.ServeHTTP(w, r)
	})
}

// limitBody caps request bodies; reading past the cap fails and the handler
// answers 413 (see formError).
func (s *Server) limitBody(n int64) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.ContentLength > n {
				s.tooLarge(w, r, n)
				return
			}
			r.Body = http.MaxBytesReader(w, r.Body, n)
			next.ServeHTTP(w, r)
		})
	}
}

// requireAgent lets signed-in, active agents through and sends everyone
// else to the login page. The agent is loaded on every request, so a
// deactivated agent's sessions, and those signed in before a password
// reset, stop working at once.
func (s *Server) requireAgent(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		sg, ok, err := s.signedIn(ctx)
		if err != nil {
			s.fail(w, r, err)
			return
		}
		if !ok {
			if _, _, had := s.Sessions.Current(ctx); had {
				_ = s.Sessions.SignOut(ctx)
			}
			redirect(w, r, "/login")
			return
		}
		logAttrs(ctx, slog.String("tenant_id", sg.Tenant.ID.String()), slog.Int64("agent_id", sg.Agent.ID))
		// A tenant that requires a second factor: an agent without one
		// sets it up before anything else.
		if sg.Tenant.RequireTOTP && !sg.Agent.HasTOTP && r.URL.Path != "/me/2fa" {
			redirect(w, r, "/me/2fa")
			return
		}
		next.ServeHTTP(w, r.WithContext(context.WithValue(ctx, ctxSigned, sg)))
	})
}

// signedIn is whom the request's session is signed in as, and whether
// the session holds: the agent exists, is active, and has not reset their
// password since it signed in.
func (s *Server) signedIn(ctx context.Context) (tenant.Signed, bool, error) {
	tid, agentID, ok := s.Sessions.Current(ctx)
	if !ok {
		return tenant.Signed{}, false, nil
	}
	sg, err := s.Tenants.SignedIn(ctx, tid, agentID)
	if problem.Is(err, problem.NotFound) {
		return sg, false, nil
	}
	if err != nil {
		return sg, false, err
	}
	return sg, s.Sessions.Holds(ctx, sg.Agent), nil
}

func (s *Server) requireAdmin(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !signed(r).Agent.IsAdmin() {
			s.errorPage(w, r, http.StatusForbidden, "Admins only", "Settings are managed by your company's admins. Ask one of them if you need a change.")
			return
		}
		next.ServeHTTP(w, r)
	})
}

// signed is the signed-in agent and tenant of a request behind requireAgent.
func signed(r *http.Request) tenant.Signed {
	sg, _ := r.Context().Value(ctxSigned).(tenant.Signed)
	return sg
}

// redirect sends the browser to url; htmx requests get HX-Redirect so the
// whole page moves rather than a fragment.
func redirect(w http.ResponseWriter, r *http.Request, url string) {
	if r.Header.Get("HX-Request") == "true" {
		w.Header().Set("HX-Redirect", url)
		w.WriteHeader(http.StatusNoContent)
		return
	}
	http.Redirect(w, r, url, http.StatusSeeOther)
}

func ipKey(r *http.Request) (string, error) {
	return "ip:" + httprate.CanonicalizeIP(middleware.GetClientIP(r.Context())), nil
}

// emailKey limits what is done per email (reset mails), whoever asks.
func emailKey(r *http.Request) (string, error) {
	return "email:" + strings.ToLower(strings.TrimSpace(r.PostFormValue("email"))), nil
}
