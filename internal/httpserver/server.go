// Package httpserver is Parley's HTTP face: the chi router, middleware, and
// thin handlers that parse a request, call a domain service and render a
// templ component.
package httpserver

import (
	"log/slog"
	"net/http"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/go-chi/chi/v5/middleware"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"parley/internal/auth"
	"parley/internal/client"
	"parley/internal/clock"
	"parley/internal/cloudstorage"
	"parley/internal/config"
	"parley/internal/conversation"
	"parley/internal/integration"
	"parley/internal/macro"
	"parley/internal/postgres"
	"parley/internal/realtime"
	"parley/internal/rule"
	"parley/internal/tenant"
)

// MaxFormBytes is the largest body a form route accepts.
const MaxFormBytes = 1 << 20

// Deps are what the server needs.
type Deps struct {
	Config   config.Config
	Log      *slog.Logger
	DB       *postgres.DB
	Sessions *auth.Sessions
	Throttle *auth.Throttle
	Tenants  *tenant.Service
	Metrics  *prometheus.Registry

	Integrations  *integration.Service
	CloudStorage  *cloudstorage.Service
	Conversations *conversation.Service
	Clients       *client.Service
	Macros        *macro.Service
	Rules         *rule.Service
	Hub           *realtime.Hub
	Clock         clock.Clock
	// Sandbox, when set, mounts the simulated providers and the customer
	// phone under /sandbox/.
	Sandbox http.Handler
	// Ready reports whether background parts (River) are up; nil = yes.
	Ready func() error
}

// Server holds the handlers' dependencies.
type Server struct {
	Deps
	httpMetrics *httpMetrics
	feeds       *feeds
}

// MetricsHandler serves /metrics alone, for the private listener of
// PARLEY_METRICS_ADDR; any other path is not found.
func MetricsHandler(reg *prometheus.Registry) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	return mux
}

// New builds the router with every route.
func New(d Deps) (http.Handler, error) {
	hm, err := newHTTPMetrics(d.Metrics)
	if err != nil {
		return nil, err
	}
	if d.Clock == nil {
		d.Clock = clock.Real{}
	}
	s := &Server{Deps: d, httpMetrics: hm}
	s.feeds = newFeeds(d.Hub, d.Conversations, d.Log)

	r := chi.NewRouter()
	clientIP := middleware.ClientIPFromRemoteAddr
	if d.Config.TrustProxyHeaders {
		clientIP = middleware.ClientIPFromXFFTrustedProxies(1)
	}
	r.Use(middleware.RequestID, clientIP, s.logRequests, s.recoverPanics, securityHeaders(d.Config.BaseURL))

	r.Get("/healthz", s.healthz)
	r.Get("/readyz", s.readyz)
	if d.Config.MetricsAddr == "" {
		r.Handle("/metrics", promhttp.HandlerFor(d.Metrics, promhttp.HandlerOpts{}))
	}
	r.Handle("/static/*", http.StripPrefix("/static/", s.staticFiles()))

	// Providers: the token in the URL finds the integration; signatures
	// are checked per provider.
	r.With(s.limitBody(MaxFormBytes)).Post("/webhooks/twilio/{token}", s.twilioWebhook)
	r.With(s.limitBody(maxOneMsgWebhookBytes)).Post("/webhooks/1msg/{token}", s.oneMsgWebhook)
	r.Get("/media/public/{token}/*", s.publicMedia)
	r.Get("/files/{tenant}/{token}/{name}", s.fileLink)
	if d.Sandbox != nil {
		r.Mount("/sandbox", d.Sandbox)
	}

	// Browser routes: cross-origin POSTs refused, sessions loaded.
	r.Group(func(r chi.Router) {
		r.Use(s.sameOrigin, http.NewCrossOriginProtection().Handler, d.Sessions.LoadAndSave)
		// The reply route takes a file and checks its own limit, so that
		// the composer can say what was too large.
		r.With(s.requireAgent).Post("/chats/{id}/reply", s.reply)
		// Starting a conversation may carry a template's media file.
		r.With(s.limitBody(maxReplyBytes), s.requireAgent).Post("/chats/new", s.start)

		r.Group(func(r chi.Router) {
			r.Use(s.limitBody(MaxFormBytes))

			r.Get("/signup", s.signUpPage)
			r.With(s.limit("signup", signUpsPerAddress, time.Hour, ipKey, s.tooManySignUps)).Post("/signup", s.signUp)
			r.Get("/login", s.loginPage)
			// Per address, whatever the emails; per (address, email) the
			// login handler slows guessing (throttle.go).
			r.With(s.limit("login", 30, time.Minute, ipKey, s.tooManyLogins)).Post("/login", s.login)
			r.Post("/logout", s.logout)
			r.Get("/invite/{token}", s.invitationPage)
			r.Post("/invite/{token}", s.acceptInvitation)
			// Each reset request mails someone: a few per address and IP.
			r.Get("/forgot", s.forgotPage)
			r.With(
				s.limit("reset", 20, time.Minute, ipKey, s.tooManyResets),
				s.limit("reset-email", 5, time.Minute, emailKey, s.tooManyResets),
			).Post("/forgot", s.forgot)
			r.Get("/reset/{token}", s.resetPage)
			r.Post("/reset/{token}", s.reset)
			r.Get("/verify/{token}", s.verify)
			r.Get("/login/code", s.codePage)
			r.With(s.limit("code", 20, time.Minute, ipKey, s.tooManyLogins)).Post("/login/code", s.code)

			r.Group(func(r chi.Router) {
				r.Use(s.requireAgent)
				r.Get("/", s.home)
				r.Get("/me/2fa", s.secondFactorPage)
				r.Post("/me/2fa", s.setSecondFactor)
				r.With(s.requireAdmin).Post("/settings/2fa", s.requireSecondFactor)
				r.Get("/events", s.events)
				r.Get("/chats", s.chatsPage)
				r.Get("/chats/new", s.startPage)
				r.Get("/chats/{id}", s.chatPage)
				r.Get("/chats/{id}/macros", s.macrosPanel)
				r.Get("/chats/{id}/messages", s.olderMessages)
				r.Get("/templates", s.templates)
				r.Post("/chats/{id}/messages/{msg}/delete", s.deleteMessage)
				r.Post("/chats/{id}/end", s.endChat)
				r.Post("/chats/{id}/take", s.takeChat)
				r.Post("/chats/{id}/transfer", s.transferChat)
				r.Post("/chats/{id}/note", s.addNote)
				r.Get("/clients", s.clientsPage)
				r.Get("/clients/new", s.newClientPage)
				r.Post("/clients/new", s.createClient)
				r.Get("/clients/{id}", s.clientPage)
				r.Post("/clients/{id}", s.updateClient)
				r.Get("/clients/{id}/merge/{other}", s.mergePage)
				r.Post("/clients/{id}/merge/{other}", s.merge)
				r.Post("/clients/{id}/merges/{merge}/undo", s.undoMerge)
				r.Get("/cases", s.casesPage)
				r.Get("/cases/{id}", s.casePage)
				r.Post("/cases/{id}/status", s.caseChange("status", s.setCaseStatus))
				r.Post("/cases/{id}/assign", s.caseChange("to", s.assignCase))
				r.Post("/cases/{id}/tags", s.caseChange("tag", s.tagCase(false)))
				r.Post("/cases/{id}/tags/remove", s.caseChange("tag", s.tagCase(true)))
				r.Post("/cases/{id}/note", s.caseChange("note", s.noteCase))
				r.Get("/files/{id}", s.file)
				mine := macroPages{s: s, personal: true}
				r.Post("/me/away", s.setAway)
				r.Post("/me/enter", s.setEnterKey)
				r.Get("/me/alerts", s.alertsPage)
				r.Post("/me/alerts", s.setAlerts)
				r.Get("/me/macros", mine.list)
				r.Post("/me/macros", mine.create)
				r.Post("/me/macros/{id}", mine.update)
				r.Post("/me/macros/{id}/delete", mine.delete)

				r.Route("/settings", func(r chi.Router) {
					r.Use(s.requireAdmin)
					r.Get("/", s.settingsHome)
					r.Get("/agents", s.agentsPage)
					r.Post("/agents", s.createAgent)
					r.Post("/agents/{id}/active", s.setAgentActive)
					r.Get("/groups", s.groupsPage)
					r.Post("/groups", s.createGroup)
					r.Post("/groups/{id}", s.updateGroup)
					r.Get("/integrations", s.integrationsPage)
					r.Get("/integrations/new/twilio", s.twilioFormPage)
					r.Post("/integrations/new/twilio", s.connectTwilio)
					r.Get("/integrations/new/1msg", s.oneMsgFormPage)
					r.Post("/integrations/new/1msg", s.connectOneMsg)
					r.Get("/integrations/cloud-storage", s.cloudStoragePage)
					r.Post("/integrations/cloud-storage", s.connectCloudStorage)
					r.Post("/integrations/cloud-storage/limits", s.setCloudStorageLimits)
					r.Post("/integrations/cloud-storage/disconnect", s.disconnectCloudStorage)
					r.Get("/integrations/{id}", s.integrationPage)
					r.Post("/integrations/{id}", s.updateIntegration)
					r.Post("/integrations/{id}/enabled", s.setIntegrationEnabled)
					r.Post("/integrations/{id}/delivery-statuses", s.turnOnDeliveryStatuses)
					r.Post("/integrations/{id}/delete", s.deleteIntegration)
					general := macroPages{s: s}
					r.Get("/macros", general.list)
					r.Post("/macros", general.create)
					r.Post("/macros/{id}", general.update)
					r.Post("/macros/{id}/delete", general.delete)
					r.Get("/rules", s.rulesPage)
					r.Post("/rules", s.createRule)
					r.Post("/rules/time-zone", s.setTimeZone)
					r.Get("/rules/{id}", s.rulePage)
					r.Post("/rules/{id}", s.updateRule)
					r.Post("/rules/{id}/delete", s.deleteRule)
					r.Post("/rules/{id}/enabled", s.setRuleEnabled)
					r.Post("/rules/{id}/move", s.moveRule)
					r.Get("/clients", s.clientSettingsPage)
					r.Post("/clients", s.updateClientSettings)
					r.Get("/chats", s.chatSettingsPage)
					r.Post("/chats", s.updateChatSettings)
					r.Get("/statuses", s.statusesPage)
					r.Post("/statuses", s.updateStatuses)
				})
			})
		})
	})
	r.NotFound(s.notFound)
	r.MethodNotAllowed(func(w http.ResponseWriter, r *http.Request) {
		s.errorPage(w, r, http.StatusMethodNotAllowed, "Not allowed", "This address does not accept that kind of request.")
	})
	return r, nil
}
