// Package app wires Parley together: the pool, the domain services, the job
// client, the realtime hub and the HTTP handler. cmd/parley serves it; tests
// build the same thing in-process against their own database.
package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"runtime/debug"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"parley/internal/auth"
	"parley/internal/client"
	"parley/internal/clock"
	"parley/internal/cloudstorage"
	"parley/internal/config"
	"parley/internal/conversation"
	"parley/internal/credential"
	"parley/internal/httpserver"
	"parley/internal/integration"
	"parley/internal/jobs"
	"parley/internal/macro"
	"parley/internal/mail"
	"parley/internal/media"
	"parley/internal/postgres"
	"parley/internal/realtime"
	"parley/internal/rule"
	"parley/internal/ruleevent"
	"parley/internal/sandbox"
	"parley/internal/tenant"
)

// Params are what New needs; the rest are for tests and benchmarks.
type Params struct {
	Config   config.Config
	Log      *slog.Logger
	Clock    clock.Clock
	TestOnly bool
	// Transport carries the providers' API calls (nil: the internet, or
	// the sandbox's simulators in sandbox mode): a test points it at
	// simulators of its own.
	Transport http.RoundTripper
	// JobTimeout and RescueAfter override the jobs' production timings
	// (see jobs.Options).
	JobTimeout, RescueAfter time.Duration
	// SweepBudget overrides how long one media sweep job lists before it
	// queues the rest (tests sweep a store in parts).
	SweepBudget time.Duration
}

// App is a running Parley.
type App struct {
	Handler       http.Handler
	DB            *postgres.DB
	Jobs          *jobs.Client
	Tenants       *tenant.Service
	Sessions      *auth.Sessions
	Integrations  *integration.Service
	CloudStorage  *cloudstorage.Service
	Conversations *conversation.Service
	Clients       *client.Service
	Rules         *rule.Service
	Hub           *realtime.Hub
	Sandbox       *sandbox.Sandbox // nil unless PARLEY_SANDBOX
	Metrics       *prometheus.Registry
	Media         *media.Store

	log     *slog.Logger
	started atomic.Bool
	stopHub context.CancelFunc
}

// New connects to the (already migrated) database and builds everything.
func New(ctx context.Context, p Params) (*App, error) {
	if p.Clock == nil {
		p.Clock = clock.Real{}
	}
	db, err := postgres.Open(ctx, p.Config.DatabaseURL, p.Config.SecretKey)
	if err != nil {
		return nil, err
	}
	a, err := build(db, p)
	if err != nil {
		db.Close()
		return nil, err
	}
	return a, nil
}

func build(db *postgres.DB, p Params) (*App, error) {
	cfg := p.Config
	a := &App{DB: db, Metrics: prometheus.NewRegistry(), log: p.Log}
	a.Metrics.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		postgres.NewPoolCollector(db.Pool))

	sealer, err := credential.NewSealer(cfg.SecretKey)
	if err != nil {
		return nil, err
	}
	store, err := media.Open(context.Background(), cfg.MediaURL)
	if err != nil {
		return nil, err
	}
	a.Media = store
	inserter, err := jobs.NewInserter(db)
	if err != nil {
		return nil, err
	}
	transport := p.Transport
	if cfg.Sandbox {
		a.Sandbox = sandbox.New(cfg.BaseURL, p.Log, p.Clock.Now)
		transport = a.Sandbox.Transport()
	}
	a.Tenants = tenant.NewService(db, p.Clock)
	mailer, err := mail.New(cfg.SMTPURL, cfg.BaseURL)
	if err != nil {
		return nil, &config.Error{Var: "PARLEY_SMTP_URL", Msg: err.Error()}
	}
	a.Tenants.SetAccounts(tenant.Accounts{Mail: mailer, BaseURL: cfg.BaseURL, Log: p.Log, Sealer: sealer})
	a.Sessions = auth.NewSessions(db, p.Clock, cfg.SecureCookies())
	throttle := auth.NewThrottle(db, p.Clock)
	a.Integrations = integration.NewService(db, sealer, cfg.BaseURL, transport)
	a.CloudStorage = cloudstorage.NewService(db, sealer, cfg.BaseURL, cfg.SecretKey)
	a.Clients = client.NewService(db)
	rules := rule.NewCache(db)
	a.Conversations = conversation.NewService(db, inserter, a.Integrations, store, rules, p.Clock, p.Log, cfg.BaseURL)
	a.Conversations.SignMediaLinks(cfg.SecretKey, cfg.MediaLinkTTL)
	a.Rules = rule.NewService(db, a.Conversations, rules, ruleevent.NewRecorder(inserter, p.Log), p.Clock, p.Log)
	a.Hub = realtime.NewHub(postgres.ConnString(cfg.DatabaseURL), p.Log)
	// Webhooks find their integration, and rule runs their rules, in caches
	// that every change empties.
	a.Hub.Watch(realtime.KindIntegration, a.Integrations.Forget)
	a.Hub.Watch(realtime.KindRules, rules.Forget)
	a.Jobs, err = jobs.New(db, jobs.Services{
		Sessions: a.Sessions, Invitations: a.Tenants, Throttle: throttle, Conversations: a.Conversations, Integrations: a.Integrations,
		Rules: a.Rules,
	}, jobs.Options{Logger: p.Log, Metrics: a.Metrics, TestOnly: p.TestOnly, JobTimeout: p.JobTimeout, RescueAfter: p.RescueAfter, SweepBudget: p.SweepBudget})
	if err != nil {
		return nil, err
	}
	deps := httpserver.Deps{
		Config: cfg, Log: p.Log, DB: db, Sessions: a.Sessions, Throttle: throttle, Tenants: a.Tenants, Metrics: a.Metrics,
		Integrations: a.Integrations, CloudStorage: a.CloudStorage, Conversations: a.Conversations, Clients: a.Clients, Macros: macro.NewService(db), Rules: a.Rules, Hub: a.Hub, Clock: p.Clock,
		Ready: func() error {
			if !a.started.Load() {
				return errors.New("job client not started")
			}
			if a.Sandbox != nil {
				// The server listens while the demo tenant is seeded.
				return a.Sandbox.Ready()
			}
			return nil
		},
	}
	if a.Sandbox != nil {
		deps.Sandbox = a.Sandbox
	}
	if a.Handler, err = httpserver.New(deps); err != nil {
		return nil, err
	}
	return a, nil
}

// Start starts the realtime listener and the job client and, in sandbox
// mode, seeds the demo tenant. Call it once the HTTP server listens: the
// sandbox connects its integration over HTTP like in production.
func (a *App) Start(ctx context.Context) error {
	hubCtx, cancel := context.WithCancel(context.Background())
	a.stopHub = cancel
	go a.Hub.Run(hubCtx)
	if err := a.Jobs.Start(ctx); err != nil {
		return fmt.Errorf("start job client: %w", err)
	}
	a.started.Store(true)
	if a.Sandbox != nil {
		// Until this returns, /readyz and /sandbox/info answer 503.
		if err := a.Sandbox.SeedDemo(ctx, a.Tenants, a.Integrations, a.Rules); err != nil {
			return err
		}
	}
	debug.FreeOSMemory() // starting's garbage (migrations, seeding) goes back to the system now
	return nil
}

// Stop lets running jobs finish until ctx's deadline, then cancels them.
func (a *App) Stop(ctx context.Context) error {
	a.started.Store(false)
	if a.stopHub != nil {
		a.stopHub()
	}
	stopCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := a.Jobs.Stop(stopCtx); err != nil {
		return a.Jobs.StopAndCancel(ctx)
	}
	return nil
}

// Close releases the pool.
func (a *App) Close() {
	a.DB.Close()
	if a.Media != nil {
		_ = a.Media.Close()
	}
}
