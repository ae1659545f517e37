package postgres_test

import (
	"database/sql"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pressly/goose/v3"

	"parley/internal/postgres"
	"parley/internal/postgres/pgtest"
	"parley/migrations"
)

// The schema's migrations are a baseline, one file per area, folded from
// the fifteen migrations that came before it (kept, unchanged, in
// testdata/migrations-before-baseline). Both make the same schema, as
// pg_dump prints it: tables and their columns in order, constraints,
// indexes, policies, functions, views, triggers and privileges.
func TestBaselineEqualsTheMigrationsItReplaced(t *testing.T) {
	t.Parallel()
	before, err := fs.Sub(os.DirFS("testdata"), "migrations-before-baseline")
	if err != nil {
		t.Fatal(err)
	}
	got := schemaOf(t, migrations.FS)
	want := schemaOf(t, before)
	if got == want {
		return
	}
	g, w := strings.Split(got, "\n"), strings.Split(want, "\n")
	for i := 0; i < max(len(g), len(w)); i++ {
		if i >= len(g) || i >= len(w) || g[i] != w[i] {
			from, to := max(0, i-5), i+5
			t.Fatalf("the baseline's schema differs from the migrations' at line %d of pg_dump:\nbaseline:\n%s\nmigrations:\n%s",
				i+1, strings.Join(g[from:min(to, len(g))], "\n"), strings.Join(w[from:min(to, len(w))], "\n"))
		}
	}
}

// schemaOf migrates an empty database with the goose migrations in fsys
// and returns pg_dump's schema of it.
func schemaOf(t *testing.T, fsys fs.FS) string {
	t.Helper()
	url := pgtest.EmptyDatabase(t)
	db, err := sql.Open("pgx", url)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	migrateWith(t, db, fsys)
	bin, err := postgres.FindPostgresBin()
	if err != nil {
		t.Fatal(err)
	}
	// pg_dump of the same installation as the server (initdb may be a link).
	initdb, err := filepath.EvalSymlinks(filepath.Join(bin, "initdb"))
	if err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(filepath.Join(filepath.Dir(initdb), "pg_dump"), "--schema-only", "--dbname", url).Output()
	if err != nil {
		t.Fatalf("pg_dump: %v", stderrOf(err))
	}
	var lines []string
	for l := range strings.SplitSeq(string(out), "\n") {
		// pg_dump guards its output with a random key on each run.
		if !strings.HasPrefix(l, `\restrict `) && !strings.HasPrefix(l, `\unrestrict `) {
			lines = append(lines, l)
		}
	}
	return strings.Join(lines, "\n")
}

// migrateWith applies the goose migrations in fsys to db. The role that
// row-level security binds, and the migrating role's membership, are made
// first as the baseline makes them: the earlier migrations made them in a
// way that races with another database of the cluster making them at the
// same moment (the tests' template).
func migrateWith(t *testing.T, db *sql.DB, fsys fs.FS) {
	t.Helper()
	first, err := fs.ReadFile(migrations.FS, "20261203000001_tenants.sql")
	if err != nil {
		t.Fatal(err)
	}
	_, block, _ := strings.Cut(string(first), "-- +goose StatementBegin\n")
	block, _, _ = strings.Cut(block, "-- +goose StatementEnd")
	if _, err := db.ExecContext(t.Context(), block); err != nil {
		t.Fatal(err)
	}
	provider, err := goose.NewProvider(goose.DialectPostgres, db, fsys)
	if err != nil {
		t.Fatal(err)
	}
	// Up to the baseline's last file: the migrations after it change the
	// schema the baseline made.
	if _, err := provider.UpTo(t.Context(), baselineLast); err != nil {
		t.Fatal(err)
	}
}

// baselineLast is the version of the baseline's last file.
const baselineLast = 20261203000004

// stderrOf is err with what the command wrote to stderr.
func stderrOf(err error) string {
	if ee, ok := err.(*exec.ExitError); ok {
		return fmt.Sprintf("%v: %s", err, ee.Stderr)
	}
	return err.Error()
}

// A database that the migrations from before the baseline made is refused
// with what to do, not migrated on top.
func TestMigrateRefusesADatabaseFromBeforeTheBaseline(t *testing.T) {
	t.Parallel()
	url := pgtest.EmptyDatabase(t)
	db, err := sql.Open("pgx", url)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	before, err := fs.Sub(os.DirFS("testdata"), "migrations-before-baseline")
	if err != nil {
		t.Fatal(err)
	}
	migrateWith(t, db, before)
	err = postgres.Migrate(t.Context(), db, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err == nil || !strings.Contains(err.Error(), "before the baseline (version 15)") {
		t.Fatalf("Migrate on a database from before the baseline: %v; want it refused, naming the baseline", err)
	}
}
