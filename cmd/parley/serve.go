package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"syscall"
	"time"

	"parley/internal/app"
	"parley/internal/config"
	"parley/internal/httpserver"
	"parley/internal/postgres"
)

func serveCmd(ctx context.Context, getenv func(string) string, args []string) error {
	cfg, err := config.Load(getenv, args)
	if err != nil {
		return err
	}
	log := newLogger(cfg)
	slog.SetDefault(log)
	return serve(ctx, cfg, log, nil)
}

// serve listens, migrates, builds the app, and serves until ctx ends; then
// it stops accepting, drains HTTP and stops the job client, each with a
// deadline. started, if set, is called with the listening address.
func serve(ctx context.Context, cfg config.Config, log *slog.Logger, started func(addr string)) error {
	// Listening comes first, so that an address in use stops the start
	// before anything else is done.
	ln, err := listen("PARLEY_ADDR", cfg.Addr)
	if err != nil {
		return err
	}
	defer ln.Close()
	var metricsLn net.Listener
	if cfg.MetricsAddr != "" {
		if metricsLn, err = listen("PARLEY_METRICS_ADDR", cfg.MetricsAddr); err != nil {
			return err
		}
		defer metricsLn.Close()
	}
	if cfg.OwnerDatabaseURL != "" {
		if err := postgres.MigrateURL(ctx, cfg.OwnerDatabaseURL, log); err != nil {
			return err
		}
		if err := postgres.Provision(ctx, cfg.OwnerDatabaseURL, cfg.DatabaseURL, cfg.SecretKey); err != nil {
			return err
		}
	} else {
		log.Info("PARLEY_OWNER_DATABASE_URL unset: not migrating (parley migrate does)")
	}
	a, err := app.New(ctx, app.Params{Config: cfg, Log: log})
	if err != nil {
		return err
	}
	defer a.Close()

	srv := &http.Server{
		Handler:           a.Handler,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       120 * time.Second,
	}
	errc := make(chan error, 2)
	go func() { errc <- srv.Serve(ln) }()
	// The metrics listener: /metrics alone, never the public one.
	metricsSrv := &http.Server{Handler: httpserver.MetricsHandler(a.Metrics), ReadHeaderTimeout: 10 * time.Second}
	if metricsLn != nil {
		go func() { errc <- metricsSrv.Serve(metricsLn) }()
		defer metricsSrv.Close()
		log.Info("metrics serving", "addr", metricsLn.Addr().String())
	}
	if err := a.Start(ctx); err != nil {
		return err
	}
	log.Info("parley serving", "addr", ln.Addr().String(), "base_url", cfg.BaseURL, "sandbox", cfg.Sandbox)
	if started != nil {
		started(ln.Addr().String())
	}

	select {
	case err := <-errc:
		return fmt.Errorf("http server: %w", err)
	case <-ctx.Done():
	}
	log.Info("shutting down: draining HTTP, then stopping jobs")
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil {
		log.Error("http shutdown", "err", err)
	}
	if err := a.Stop(shutdownCtx); err != nil {
		log.Error("job client stop", "err", err)
	}
	log.Info("stopped")
	return nil
}

// listen listens on addr; failing to is a configuration error that names
// the variable (exit code 2), in one line.
func listen(variable, addr string) (net.Listener, error) {
	ln, err := net.Listen("tcp", addr)
	if errors.Is(err, syscall.EADDRINUSE) {
		return nil, &config.Error{Var: variable, Msg: addr + " is already in use"}
	}
	if err != nil {
		return nil, &config.Error{Var: variable, Msg: fmt.Sprintf("cannot listen on %s: %v", addr, err)}
	}
	return ln, nil
}

// migrateCmd migrates as the owner (PARLEY_OWNER_DATABASE_URL, or the
// argument) and, when DATABASE_URL names the serving role, sets that role up
// with PARLEY_SECRET_KEY's tenant-scope key (postgres.Provision).
func migrateCmd(ctx context.Context, args []string) error {
	owner := os.Getenv("PARLEY_OWNER_DATABASE_URL")
	if len(args) > 0 {
		owner = args[0]
	}
	if owner == "" {
		return &config.Error{Var: "PARLEY_OWNER_DATABASE_URL", Msg: "is required: the URL of the role that owns the schema"}
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	if err := postgres.MigrateURL(ctx, owner, log); err != nil {
		return err
	}
	if serving := os.Getenv("DATABASE_URL"); serving != "" {
		secret, err := config.ParseSecretKey(os.Getenv("PARLEY_SECRET_KEY"))
		if err != nil {
			return &config.Error{Var: "PARLEY_SECRET_KEY", Msg: err.Error() + " (migrate stores the tenant-scope key derived from it)"}
		}
		if err := postgres.Provision(ctx, owner, serving, secret); err != nil {
			return err
		}
		log.Info("serving role ready")
	}
	log.Info("database is up to date")
	return nil
}

func postgresCmd(ctx context.Context, args []string) error {
	if len(args) != 2 || (args[0] != "start" && args[0] != "stop") {
		return errors.New("usage: parley postgres start|stop DIR")
	}
	if args[0] == "stop" {
		return postgres.StopCluster(args[1])
	}
	c, err := postgres.StartCluster(ctx, args[1], postgres.ClusterOptions{Database: "parley"})
	if err != nil {
		return err
	}
	fmt.Println(c.URL("parley"))
	return nil
}
