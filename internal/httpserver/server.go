// Package httpserver is Parley's HTTP face: the chi router, middleware, and
// thin handlers that parse a request, call a domain service and render a
// templ component.
package httpserver

import (
	"io/fs"
	"log/slog"
	"net/http"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/go-chi/chi/v5/middleware"
	"github.com/go-chi/httprate"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"parley/internal/auth"
	"parley/internal/config"
	"parley/internal/postgres"
	"parley/internal/tenant"
	"parley/web"
)

// MaxFormBytes is the largest body a form route accepts.
const MaxFormBytes = 1 << 20

// Deps are what the server needs.
type Deps struct {
	Config   config.Config
	Log      *slog.Logger
	DB       *postgres.DB
	Sessions *auth.Sessions
	Tenants  *tenant.Service
	Metrics  *prometheus.Registry
	// Ready reports whether background parts (River) are up; nil = yes.
	Ready func() error
}

// Server holds the handlers' dependencies.
type Server struct {
	Deps
	httpMetrics *httpMetrics
}

// New builds the router with every route.
func New(d Deps) (http.Handler, error) {
	hm, err := newHTTPMetrics(d.Metrics)
	if err != nil {
		return nil, err
	}
	s := &Server{Deps: d, httpMetrics: hm}

	r := chi.NewRouter()
	clientIP := middleware.ClientIPFromRemoteAddr
	if d.Config.TrustProxyHeaders {
		clientIP = middleware.ClientIPFromXFFTrustedProxies(1)
	}
	r.Use(middleware.RequestID, clientIP, s.logRequests, s.recoverPanics, securityHeaders)

	r.Get("/healthz", s.healthz)
	r.Get("/readyz", s.readyz)
	r.Handle("/metrics", promhttp.HandlerFor(d.Metrics, promhttp.HandlerOpts{}))
	static, _ := fs.Sub(web.Static, "static")
	r.Handle("/static/*", http.StripPrefix("/static/", cacheStatic(http.FileServerFS(static))))

	// Browser routes: cross-origin POSTs refused, bodies capped, sessions loaded.
	r.Group(func(r chi.Router) {
		r.Use(http.NewCrossOriginProtection().Handler, s.limitBody(MaxFormBytes), d.Sessions.LoadAndSave)

		r.Get("/signup", s.signUpPage)
		r.Post("/signup", s.signUp)
		r.Get("/login", s.loginPage)
		r.With(
			httprate.LimitBy(20, time.Minute, ipKey, httprate.WithLimitHandler(s.tooManyLogins)),
			httprate.LimitBy(10, time.Minute, emailKey, httprate.WithLimitHandler(s.tooManyLogins)),
		).Post("/login", s.login)
		r.Post("/logout", s.logout)
		r.Get("/invite/{token}", s.invitationPage)
		r.Post("/invite/{token}", s.acceptInvitation)

		r.Group(func(r chi.Router) {
			r.Use(s.requireAgent)
			r.Get("/", s.home)
			r.Get("/chats", s.chatsPage)

			r.Route("/settings", func(r chi.Router) {
				r.Use(s.requireAdmin)
				r.Get("/", s.settingsHome)
				r.Get("/agents", s.agentsPage)
				r.Post("/agents", s.createAgent)
				r.Post("/agents/{id}/active", s.setAgentActive)
				r.Get("/groups", s.groupsPage)
				r.Post("/groups", s.createGroup)
				r.Post("/groups/{id}", s.updateGroup)
			})
		})
	})
	r.NotFound(s.notFound)
	r.MethodNotAllowed(func(w http.ResponseWriter, r *http.Request) {
		s.errorPage(w, r, http.StatusMethodNotAllowed, "Not allowed", "This address does not accept that kind of request.")
	})
	return r, nil
}
