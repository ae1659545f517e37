// Command parley is the Parley helpdesk: one binary serving the web app, the
// provider webhooks and the background jobs.
//
//	parley [serve] [flags]     serve HTTP and run jobs (migrates first)
//	parley migrate             apply database migrations and exit
//	parley dev                 local development: own Postgres in ./.data, sandbox on
//	parley postgres start DIR  start a private Postgres cluster, print its URL
//	parley postgres stop DIR   stop it
//	parley version
package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"
	// Time zones for business hours in rules, also in a distroless image.
	_ "time/tzdata"

	"parley/internal/config"
)

func main() {
	os.Exit(run(os.Args[1:]))
}

func run(args []string) int {
	cmd := "serve"
	if len(args) > 0 && args[0] != "" && args[0][0] != '-' {
		cmd, args = args[0], args[1:]
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()

	var err error
	switch cmd {
	case "serve":
		err = serveCmd(ctx, os.Getenv, args)
	case "migrate":
		err = migrateCmd(ctx, args)
	case "dev":
		err = devCmd(ctx, args)
	case "postgres":
		err = postgresCmd(ctx, args)
	case "version":
		fmt.Println(version())
	default:
		fmt.Fprintf(os.Stderr, "parley: unknown command %q (serve, migrate, dev, postgres, version)\n", cmd)
		return 2
	}
	var cerr *config.Error
	if errors.As(err, &cerr) {
		fmt.Fprintln(os.Stderr, "parley: configuration:", cerr)
		return 2
	}
	if err != nil {
		slog.Error("parley stopped", "err", err)
		fmt.Fprintln(os.Stderr, "parley:", err)
		return 1
	}
	return 0
}

func version() string {
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, s := range bi.Settings {
			if s.Key == "vcs.revision" {
				return "parley " + s.Value
			}
		}
		return "parley " + bi.Main.Version
	}
	return "parley (unknown version)"
}

func newLogger(cfg config.Config) *slog.Logger {
	opts := &slog.HandlerOptions{Level: cfg.LogLevel}
	if cfg.LogFormat == "text" {
		return slog.New(slog.NewTextHandler(os.Stderr, opts))
	}
	return slog.New(slog.NewJSONHandler(os.Stderr, opts))
}
