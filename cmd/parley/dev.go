package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"

	"parley/internal/config"
	"parley/internal/mailpit"
	"parley/internal/postgres"
	"parley/internal/sandbox"
)

// devCmd serves Parley for local development: a private Postgres in
// ./.data/postgres (unless DATABASE_URL is set), a secret key generated into
// ./.data/secret_key on first start, the sandbox on, text logs, and a base
// URL that follows the listen address (http://localhost:8080 by default).
func devCmd(ctx context.Context, args []string) error {
	const dataDir = ".data"
	if err := os.MkdirAll(dataDir, 0o755); err != nil {
		return fmt.Errorf("create %s: %w", dataDir, err)
	}
	env := map[string]string{
		"PARLEY_SANDBOX":    "true",
		"PARLEY_LOG_FORMAT": "text",
		"PARLEY_ADDR":       "localhost:8080",
		"PARLEY_MEDIA_DIR":  filepath.Join(dataDir, "media"),
	}
	if os.Getenv("DATABASE_URL") == "" {
		fmt.Println("Starting Postgres in ./.data/postgres …")
		c, err := postgres.StartCluster(ctx, filepath.Join(dataDir, "postgres"), postgres.ClusterOptions{Durable: true, Database: "parley"})
		if err != nil {
			return err
		}
		defer c.Stop()
		// The cluster's superuser owns the schema and migrates; the
		// server logs in as parley_app. The cluster trusts local
		// connections, so the password is a formality here.
		env["PARLEY_OWNER_DATABASE_URL"] = c.URL("parley")
		env["DATABASE_URL"] = postgres.AppURL(c.URL("parley"), "parley_app")
	}
	mailInbox := "" // the web inbox of the Mailpit started here
	if os.Getenv("PARLEY_SMTP_URL") == "" {
		// Mails to agents (invitations, resets, confirmations) land in a
		// local inbox with a web page, like Postgres in ./.data.
		bin, err := mailpit.Find()
		if err != nil {
			fmt.Println("Installing Mailpit (go install " + mailpit.Module + "@" + mailpit.Version + ") …")
			if bin, err = mailpit.Install(ctx); err != nil {
				return err
			}
		}
		opts := mailpit.Options{Database: filepath.Join(dataDir, "mailpit.db")}
		if portFree("127.0.0.1:8025") && portFree("127.0.0.1:1025") {
			opts.WebAddr, opts.SMTPAddr = "127.0.0.1:8025", "127.0.0.1:1025"
		}
		m, err := mailpit.Start(ctx, bin, opts)
		if err != nil {
			return err
		}
		defer m.Stop()
		env["PARLEY_SMTP_URL"] = m.SMTPURL()
		mailInbox = strings.Replace(m.WebURL, "127.0.0.1", "localhost", 1)
	}
	secret, err := devSecret(filepath.Join(dataDir, "secret_key"))
	if err != nil {
		return err
	}
	env["PARLEY_SECRET_KEY"] = secret
	getenv := func(k string) string {
		if v := os.Getenv(k); v != "" {
			return v
		}
		return env[k]
	}
	cfg, err := config.LoadDev(getenv, args)
	if err != nil {
		return err
	}
	log := newLogger(cfg)
	slog.SetDefault(log)
	return serve(ctx, cfg, log, func(addr string) {
		fmt.Printf("\n  Parley is running: %s\n", cfg.BaseURL)
		fmt.Printf("  Demo login:  %s  /  %s\n", sandbox.DemoEmail, sandbox.DemoPassword)
		fmt.Printf("  Sign up a new company: %s/signup\n", cfg.BaseURL)
		fmt.Printf("  Customer phone (sandbox): %s/sandbox/phone\n", cfg.BaseURL)
		if mailInbox != "" {
			fmt.Printf("  Mails Parley sends (Mailpit): %s\n", mailInbox)
		}
		fmt.Println()
	})
}

func portFree(addr string) bool {
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return false
	}
	l.Close()
	return true
}

// devSecret reads the development secret key, creating it on first start.
func devSecret(path string) (string, error) {
	b, err := os.ReadFile(path)
	if err == nil {
		return strings.TrimSpace(string(b)), nil
	}
	if !errors.Is(err, os.ErrNotExist) {
		return "", fmt.Errorf("read %s: %w", path, err)
	}
	key := make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		return "", err
	}
	s := hex.EncodeToString(key)
	if err := os.WriteFile(path, []byte(s+"\n"), 0o600); err != nil {
		return "", fmt.Errorf("write %s: %w", path, err)
	}
	return s, nil
}
