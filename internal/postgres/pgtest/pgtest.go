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

// SecretKey is the PARLEY_SECRET_KEY of tests: every test database's
// tenant-scope key derives from it.
const SecretKey = "0123456789abcdef0123456789abcdef"

// URL returns the URL of a fresh migrated database for t, connecting as a
// non-superuser role that owns the schema (as in production): the owner's
// URL, for migrations and for tests that look past row-level security.
// AppURL(URL(t)) is the serving role's.
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
	dbURL := pgtestdb.Custom(t, conf, migrator{}).URL()
	// What a clone does not inherit from its template (the database's own
	// privileges), as every replica's start would do.
	if err := postgres.Provision(context.Background(), dbURL, AppURL(dbURL), []byte(SecretKey)); err != nil {
		t.Fatalf("pgtest: %v", err)
	}
	return dbURL
}

// AppURL is the URL of the serving role parley_app on the database of
// ownerURL (the test cluster trusts local connections; the password is
// what production would carry).
func AppURL(ownerURL string) string { return postgres.AppURL(ownerURL, "parley_app") }

// New returns a pool of the serving role on a fresh migrated database,
// closed when t ends, and the owner's URL.
func New(t testing.TB) (*postgres.DB, string) {
	t.Helper()
	dbURL := URL(t)
	db, err := postgres.Open(context.Background(), AppURL(dbURL), []byte(SecretKey))
	if err != nil {
		t.Fatalf("pgtest: %v", err)
	}
	t.Cleanup(db.Close)
	return db, dbURL
}

type migrator struct{}

// Hash names the template: the migrations', and a version of what Migrate
// does besides them (grants, Provision), raised when that changes.
func (migrator) Hash() (string, error) {
	h, err := postgres.MigrationsHash()
	return h + "-3", err
}

func (migrator) Migrate(ctx context.Context, db *sql.DB, conf pgtestdb.Config) error {
	if err := postgres.Migrate(ctx, db, slog.New(slog.NewTextHandler(io.Discard, nil))); err != nil {
		return err
	}
	// The template gets the serving role (a cluster's role, made once) and
	// the tenant-scope key of SecretKey; each test's clone has both.
	return postgres.Provision(ctx, conf.URL(), AppURL(conf.URL()), []byte(SecretKey))
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
