// Package app wires Parley together: the pool, the domain services, the job
// client and the HTTP handler. cmd/parley serves it; tests build the same
// thing in-process against their own database.
package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"net/http"

	"parley/internal/auth"
	"parley/internal/clock"
	"parley/internal/config"
	"parley/internal/httpserver"
	"parley/internal/jobs"
	"parley/internal/postgres"
	"parley/internal/sandbox"
	"parley/internal/tenant"
)

// Params are what New needs; Clock and TestOnly are for tests.
type Params struct {
	Config   config.Config
	Log      *slog.Logger
	Clock    clock.Clock
	TestOnly bool
}

// App is a running Parley.
type App struct {
	Handler  http.Handler
	DB       *postgres.DB
	Jobs     *jobs.Client
	Tenants  *tenant.Service
	Sessions *auth.Sessions
	Metrics  *prometheus.Registry
	started  atomic.Bool
}

// New connects to the (already migrated) database and builds everything.
func New(ctx context.Context, p Params) (*App, error) {
	if p.Clock == nil {
		p.Clock = clock.Real{}
	}
	db, err := postgres.Open(ctx, p.Config.DatabaseURL)
	if err != nil {
		return nil, err
	}
	a := &App{DB: db, Metrics: prometheus.NewRegistry()}
	a.Metrics.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		postgres.NewPoolCollector(db.Pool))

	a.Tenants = tenant.NewService(db, p.Clock)
	a.Sessions = auth.NewSessions(db, p.Clock, p.Config.SecureCookies())
	a.Jobs, err = jobs.New(db, jobs.Services{Sessions: a.Sessions, Invitations: a.Tenants}, jobs.Options{
		Logger: p.Log, Metrics: a.Metrics, TestOnly: p.TestOnly,
	})
	if err != nil {
		db.Close()
		return nil, err
	}
	if p.Config.Sandbox {
		if _, err := sandbox.SeedDemo(ctx, a.Tenants); err != nil {
			db.Close()
			return nil, err
		}
	}
	a.Handler, err = httpserver.New(httpserver.Deps{
		Config: p.Config, Log: p.Log, DB: db, Sessions: a.Sessions, Tenants: a.Tenants, Metrics: a.Metrics,
		Ready: func() error {
			if !a.started.Load() {
				return errors.New("job client not started")
			}
			return nil
		},
	})
	if err != nil {
		db.Close()
		return nil, err
	}
	return a, nil
}

// Start starts the job client.
func (a *App) Start(ctx context.Context) error {
	if err := a.Jobs.Start(ctx); err != nil {
		return fmt.Errorf("start job client: %w", err)
	}
	a.started.Store(true)
	return nil
}

// Stop lets running jobs finish until ctx's deadline, then cancels them.
func (a *App) Stop(ctx context.Context) error {
	a.started.Store(false)
	stopCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := a.Jobs.Stop(stopCtx); err != nil {
		return a.Jobs.StopAndCancel(ctx)
	}
	return nil
}

// Close releases the pool.
func (a *App) Close() { a.DB.Close() }
