package postgres

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	neturl "net/url"
	"strings"

	"github.com/jackc/pgx/v5"

	_ "github.com/jackc/pgx/v5/stdlib" // database/sql driver "pgx" for goose and River's migrator
	"github.com/pressly/goose/v3"
	"github.com/riverqueue/river/riverdriver/riverdatabasesql"
	"github.com/riverqueue/river/rivermigrate"

	"parley/migrations"
)

// Migrate brings the database to the current schema: ours (goose, embedded
// SQL files) and then River's (its own migrator), in one call used by
// `parley migrate`, `parley serve` and the test harness.
func Migrate(ctx context.Context, db *sql.DB, log *slog.Logger) error {
	provider, err := goose.NewProvider(goose.DialectPostgres, db, migrations.FS)
	if err != nil {
		return fmt.Errorf("load migrations: %w", err)
	}
	if err := refusePreBaseline(ctx, db); err != nil {
		return err
	}
	results, err := provider.Up(ctx)
	if err != nil {
		return fmt.Errorf("apply migrations: %w", err)
	}
	for _, r := range results {
		log.Info("migration applied", "version", r.Source.Version, "file", r.Source.Path, "duration", r.Duration)
	}
	migrator, err := rivermigrate.New(riverdatabasesql.New(db), nil)
	if err != nil {
		return fmt.Errorf("river migrator: %w", err)
	}
	res, err := migrator.Migrate(ctx, rivermigrate.DirectionUp, nil)
	if err != nil {
		return fmt.Errorf("apply river migrations: %w", err)
	}
	for _, v := range res.Versions {
		log.Info("river migration applied", "version", v.Version)
	}
	// River's tables are created by this role after our default-privilege
	// grants, but grant explicitly so an existing River schema works too.
	if _, err := db.ExecContext(ctx, `GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO `+AppRole+`;
		GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO `+AppRole+`;
		REVOKE ALL ON tenant_scope_key FROM `+AppRole); err != nil { // the owner's alone
		return fmt.Errorf("grant river tables: %w", err)
	}
	return nil
}

// baselineVersion is the first version of the baseline that the earlier
// migrations (numbered 1 to 15) were folded into.
const baselineVersion = 20261203000001

// refusePreBaseline refuses a database that the migrations from before the
// baseline made: the baseline would be applied on top of the schema it
// already has.
func refusePreBaseline(ctx context.Context, db *sql.DB) error {
	var migrated bool
	if err := db.QueryRowContext(ctx, `SELECT to_regclass('goose_db_version') IS NOT NULL`).Scan(&migrated); err != nil || !migrated {
		return err
	}
	var version int64
	if err := db.QueryRowContext(ctx, `SELECT coalesce(max(version_id), 0) FROM goose_db_version WHERE is_applied`).Scan(&version); err != nil {
		return fmt.Errorf("read schema version: %w", err)
	}
	if version > 0 && version < baselineVersion {
		return fmt.Errorf("the database's schema was made by migrations from before the baseline (version %d): make a new database (make run: remove ./.data/postgres)", version)
	}
	return nil
}

// MigrateURL opens url with database/sql and migrates it.
func MigrateURL(ctx context.Context, url string, log *slog.Logger) error {
	db, err := sql.Open("pgx", ConnString(url))
	if err != nil {
		return fmt.Errorf("open database: %w", err)
	}
	defer db.Close()
	return Migrate(ctx, db, log)
}

// MigrationsHash identifies the schema the embedded migrations produce; the
// test harness keys its template database by it.
func MigrationsHash() (string, error) {
	h := sha256.New()
	err := fs.WalkDir(migrations.FS, ".", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(migrations.FS, path)
		h.Write([]byte(path))
		h.Write(b)
		return err
	})
	return hex.EncodeToString(h.Sum(nil))[:16], err
}

// SchemaCurrent reports whether every embedded migration and River's
// migrations have been applied; /readyz uses it.
func (db *DB) SchemaCurrent(ctx context.Context) error {
	var applied int64
	err := db.Pool.QueryRow(ctx, `SELECT coalesce(max(version_id), 0) FROM goose_db_version WHERE is_applied`).Scan(&applied)
	if err != nil {
		return fmt.Errorf("read schema version: %w", err)
	}
	latest, err := latestVersion()
	if err != nil {
		return err
	}
	if applied < latest {
		return fmt.Errorf("schema at version %d, binary needs %d: run parley migrate", applied, latest)
	}
	return nil
}

// latestVersion is the highest version among the embedded migration files
// (goose names them NNNNN_name.sql).
func latestVersion() (int64, error) {
	entries, err := fs.ReadDir(migrations.FS, ".")
	if err != nil {
		return 0, fmt.Errorf("read migrations: %w", err)
	}
	var latest int64
	for _, e := range entries {
		var v int64
		if _, err := fmt.Sscanf(e.Name(), "%d_", &v); err == nil && v > latest {
			latest = v
		}
	}
	return latest, nil
}

// Provision makes the serving role of servingURL ready, connected as the
// owner (ownerURL, after Migrate): if servingURL cannot log in yet, it
// creates its role (or gives parley_app LOGIN and the URL's password), a
// member of parley_app and nothing else; and it stores the tenant-scope key
// derived from secret (PARLEY_SECRET_KEY) where only the owner reads it;
// and it takes TEMPORARY on the database from PUBLIC, so the serving role
// cannot shadow tables with temporary ones (a database's privileges are
// not copied from its template, so this is not a migration). It changes
// nothing that is already right, so replicas may all call it.
func Provision(ctx context.Context, ownerURL, servingURL string, secret []byte) error {
	owner, err := pgx.Connect(ctx, ConnString(ownerURL))
	if err != nil {
		return fmt.Errorf("PARLEY_OWNER_DATABASE_URL: %w", err)
	}
	defer owner.Close(ctx)
	if _, err := owner.Exec(ctx, `INSERT INTO tenant_scope_key (key) VALUES ($1)
		ON CONFLICT (one) DO UPDATE SET key = EXCLUDED.key WHERE tenant_scope_key.key <> EXCLUDED.key`, ScopeKey(secret)); err != nil {
		return fmt.Errorf("store the tenant-scope key: %w", err)
	}
	var db string
	if err := owner.QueryRow(ctx, `SELECT current_database()`).Scan(&db); err != nil {
		return err
	}
	if _, err := owner.Exec(ctx, "REVOKE TEMPORARY ON DATABASE "+pgx.Identifier{db}.Sanitize()+" FROM PUBLIC"); err != nil {
		return fmt.Errorf("revoke temporary tables from PUBLIC (as the database's owner): %w", err)
	}
	if c, err := pgx.Connect(ctx, ConnString(servingURL)); err == nil {
		c.Close(ctx)
		return nil
	}
	u, err := neturl.Parse(servingURL)
	if err != nil || u.User == nil || u.User.Username() == "" {
		return errors.New("DATABASE_URL: names no user: give the serving role, e.g. postgres://parley_app:PASSWORD@host/db")
	}
	name := u.User.Username()
	pw, hasPW := u.User.Password()
	password := "PASSWORD NULL"
	if hasPW {
		// Utility statements take no parameters; standard_conforming_strings
		// (on since Postgres 9.1) makes doubling quotes enough.
		password = "PASSWORD '" + strings.ReplaceAll(pw, "'", "''") + "'"
	}
	ident := pgx.Identifier{name}.Sanitize()
	var exists bool
	if err := owner.QueryRow(ctx, `SELECT EXISTS (SELECT FROM pg_roles WHERE rolname = $1)`, name).Scan(&exists); err != nil {
		return err
	}
	stmts := []string{}
	if !exists {
		stmts = append(stmts, "CREATE ROLE "+ident+" LOGIN NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE "+password)
	} else {
		stmts = append(stmts, "ALTER ROLE "+ident+" LOGIN "+password)
	}
	if name != AppRole {
		stmts = append(stmts, "GRANT "+AppRole+" TO "+ident)
	}
	for _, s := range stmts {
		if _, err := owner.Exec(ctx, s); err != nil {
			return fmt.Errorf("set up the serving role %s (as the owner: it needs CREATEROLE, or create the role yourself: LOGIN, a member of %s): %w", name, AppRole, err)
		}
	}
	c, err := pgx.Connect(ctx, ConnString(servingURL))
	if err != nil {
		return fmt.Errorf("DATABASE_URL: the serving role %s was set up but cannot log in: %w", name, err)
	}
	c.Close(ctx)
	return nil
}

// AppURL is url (the owner's) with the user and password of the serving role
// parley_app instead.
func AppURL(url, password string) string {
	u, err := neturl.Parse(url)
	if err != nil {
		return url
	}
	u.User = neturl.UserPassword(AppRole, password)
	return u.String()
}
