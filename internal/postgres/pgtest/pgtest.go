// Package pgtest gives each test a fresh, migrated Postgres database of its
// own, cloned from a template (peterldowns/pgtestdb), so tests run in
// parallel against the real thing. When DATABASE_URL is unset it starts a
// private cluster for the test binary; `make test` starts one cluster for the
// whole run and sets DATABASE_URL. Under CI=true a missing database fails the
// run instead of skipping anything.
package pgtest

import (
	"context"
	"database/sql"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"os"
	"testing"
	"time"

	"github.com/peterldowns/pgtestdb"

	"parley/internal/postgres"
)

var adminURL string

// Main wraps a package's TestMain: it makes sure a cluster is reachable,
// runs the tests and stops a cluster it started.
func Main(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	adminURL = os.Getenv("DATABASE_URL")
	if adminURL == "" {
		dir, err := os.MkdirTemp("", "parley-test-pg-")
		if err != nil {
			fmt.Fprintln(os.Stderr, "pgtest:", err)
			return 1
		}
		defer os.RemoveAll(dir)
		c, err := postgres.StartCluster(context.Background(), dir+"/data", postgres.ClusterOptions{})
		if err != nil {
			fmt.Fprintln(os.Stderr, "pgtest: no DATABASE_URL and cannot start Postgres:", err)
			return 1
		}
		defer c.Stop()
		adminURL = c.URL("postgres")
	}
	return m.Run()
}

// URL returns the URL of a fresh migrated database for t, connecting as a
// non-superuser role that owns the schema (as in production).
func URL(t testing.TB) string {
	t.Helper()
	if adminURL == "" {
		t.Fatal("pgtest: call pgtest.Main from the package's TestMain")
	}
	u, err := url.Parse(adminURL)
	if err != nil {
		t.Fatalf("pgtest: DATABASE_URL: %v", err)
	}
	pw, _ := u.User.Password()
	conf := pgtestdb.Config{
		DriverName: "pgx",
		Host:       u.Hostname(),
		Port:       u.Port(),
		User:       u.User.Username(),
		Password:   pw,
		Database:   u.Path[1:],
		Options:    "sslmode=disable",
		TestRole: &pgtestdb.Role{
			Username:     "parley_test_owner",
			Password:     "parley_test_owner",
			Capabilities: "NOSUPERUSER NOCREATEDB CREATEROLE",
		},
		ForceTerminateConnections: true,
	}
	return pgtestdb.Custom(t, conf, migrator{}).URL()
}

// New returns a pool on a fresh migrated database, closed when t ends.
func New(t testing.TB) (*postgres.DB, string) {
	t.Helper()
	dbURL := URL(t)
	db, err := postgres.Open(context.Background(), dbURL)
	if err != nil {
		t.Fatalf("pgtest: %v", err)
	}
	t.Cleanup(db.Close)
	return db, dbURL
}

type migrator struct{}

func (migrator) Hash() (string, error) { return postgres.MigrationsHash() }

func (migrator) Migrate(ctx context.Context, db *sql.DB, _ pgtestdb.Config) error {
	return postgres.Migrate(ctx, db, slog.New(slog.NewTextHandler(io.Discard, nil)))
}

// EmptyDatabase returns the URL of a new, empty database (no migrations),
// reached as the cluster's administrator, dropped when t ends.
func EmptyDatabase(t testing.TB) string {
	t.Helper()
	if adminURL == "" {
		t.Fatal("pgtest: call pgtest.Main from the package's TestMain")
	}
	ctx := context.Background()
	admin, err := sql.Open("pgx", postgres.ConnString(adminURL))
	if err != nil {
		t.Fatalf("pgtest: %v", err)
	}
	defer admin.Close()
	name := fmt.Sprintf("parley_empty_%d", time.Now().UnixNano())
	if _, err := admin.ExecContext(ctx, "CREATE DATABASE "+name); err != nil {
		t.Fatalf("pgtest: %v", err)
	}
	t.Cleanup(func() {
		admin, err := sql.Open("pgx", postgres.ConnString(adminURL))
		if err != nil {
			return
		}
		defer admin.Close()
		_, _ = admin.ExecContext(ctx, "DROP DATABASE "+name+" WITH (FORCE)")
	})
	u, err := url.Parse(adminURL)
	if err != nil {
		t.Fatalf("pgtest: DATABASE_URL: %v", err)
	}
	u.Path = "/" + name
	return postgres.ConnString(u.String())
}
