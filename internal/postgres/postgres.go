// Package postgres owns Parley's connection to Postgres: the pool, the
// migrations (goose for our schema, River's migrator for the queue, one entry
// point), and the one helper that runs work inside a tenant-scoped
// transaction.
//
// Two roles: the owner (PARLEY_OWNER_DATABASE_URL) migrates and owns every
// table and function; the server logs in as parley_app, or a login role that
// is a member of it (DATABASE_URL), which owns nothing, is no superuser, has
// no BYPASSRLS and no membership leading to the owner: no SET ROLE or RESET
// ROLE reaches the owner's rights, and Open refuses a role that could.
// Row-level security, forced on every tenant table, binds it. A
// transaction's tenant is set with a MAC that only a holder of
// PARLEY_SECRET_KEY can compute, so even arbitrary SQL cannot name another
// tenant. Work that must cross tenants (finding the tenant of a webhook,
// signing in, sweeps) goes through a few SECURITY DEFINER functions declared
// in the migrations, never by switching the checks off.
package postgres

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	neturl "net/url"
	"strings"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
)

// AppRole is the role RLS policies bind; created by the first migration.
const AppRole = "parley_app"

// DB is the application's pool of serving-role connections.
type DB struct {
	Pool *pgxpool.Pool
	key  []byte // the tenant-scope key (ScopeKey)
}

// ScopeKey derives from the server's secret key the key that MACs a
// transaction's tenant; Provision stores it where only the owner reads it.
func ScopeKey(secret []byte) []byte {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte("parley tenant scope v1"))
	return m.Sum(nil)
}

// tenantMAC is what the database's tenant_scope_ok expects for tenant:
// hex(SHA-256(key || the uuid's 16 bytes)).
func (db *DB) tenantMAC(tenant uuid.UUID) string {
	h := sha256.New()
	h.Write(db.key)
	h.Write(tenant[:])
	return hex.EncodeToString(h.Sum(nil))
}

// Open connects to url as the serving role; secret is PARLEY_SECRET_KEY. It
// refuses a role that could escape row-level security (see CheckServingRole)
// and a database whose tenant-scope key is not the one secret gives.
func Open(ctx context.Context, url string, secret []byte) (*DB, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("parse database url: %w", err)
	}
	if !strings.Contains(url, "pool_max_conns") {
		// Webhooks and pages each hold a connection for a short
		// transaction; pgxpool's default (4 on 2 cores) queues them.
		cfg.MaxConns = 20
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("open pool: %w", err)
	}
	db := &DB{Pool: pool, key: ScopeKey(secret)}
	if err := db.check(ctx); err != nil {
		pool.Close()
		return nil, err
	}
	return db, nil
}

func (db *DB) check(ctx context.Context) error {
	conn, err := db.Pool.Acquire(ctx)
	if err != nil {
		return fmt.Errorf("connect to postgres: %w", err)
	}
	defer conn.Release()
	if err := CheckServingRole(ctx, conn.Conn()); err != nil {
		return err
	}
	var ok bool
	if err := conn.QueryRow(ctx, `SELECT tenant_scope_ok($1, $2)`, uuid.Nil, db.tenantMAC(uuid.Nil)).Scan(&ok); err != nil {
		return fmt.Errorf("check the tenant-scope key: %w (is the schema migrated? run parley migrate)", err)
	}
	if !ok {
		return errors.New("DATABASE_URL: the database's tenant-scope key does not match PARLEY_SECRET_KEY: run parley migrate (or serve) with PARLEY_OWNER_DATABASE_URL and this PARLEY_SECRET_KEY")
	}
	return nil
}

// CheckServingRole refuses a connection whose role could get past row-level
// security: a superuser, a role with BYPASSRLS, one that owns (or can act
// as the owner of) the database or any table, function or schema in it, or
// one that may create objects in the public schema (where it could plant
// an operator or function that the owner's functions would run), or one
// that may create temporary tables (which come first in every search path
// that does not name pg_temp, so they would shadow the tables of later
// statements on the same pooled connection).
func CheckServingRole(ctx context.Context, conn *pgx.Conn) error {
	var role string
	var super, bypass, owner, create, temp bool
	err := conn.QueryRow(ctx, `SELECT r.rolname, r.rolsuper, r.rolbypassrls,
			pg_has_role(current_user, (SELECT datdba FROM pg_database WHERE datname = current_database()), 'MEMBER')
			OR EXISTS (SELECT FROM pg_class c WHERE c.relnamespace = 'public'::regnamespace AND pg_has_role(current_user, c.relowner, 'MEMBER'))
			OR EXISTS (SELECT FROM pg_proc p WHERE p.pronamespace = 'public'::regnamespace AND pg_has_role(current_user, p.proowner, 'MEMBER'))
			OR EXISTS (SELECT FROM pg_namespace n WHERE n.nspname = 'public' AND pg_has_role(current_user, n.nspowner, 'MEMBER')),
			has_schema_privilege('public', 'CREATE'), has_database_privilege(current_database(), 'TEMPORARY')
		FROM pg_roles r WHERE r.rolname = current_user`).Scan(&role, &super, &bypass, &owner, &create, &temp)
	if err != nil {
		return fmt.Errorf("connect to postgres: %w", err)
	}
	why := ""
	switch {
	case super:
		why = "is a superuser"
	case bypass:
		why = "has BYPASSRLS"
	case owner:
		why = "owns (or can act as the owner of) the database or its schema"
	case create:
		why = "may create objects in the public schema"
	case temp:
		why = "may create temporary tables (REVOKE TEMPORARY ON DATABASE … FROM PUBLIC, as the migrations do when they run as the database's owner)"
	}
	if why != "" {
		return fmt.Errorf("DATABASE_URL: role %s %s, so row-level security would not hold: serve as %s (or a login role that is a member of it) and give the owner's URL as PARLEY_OWNER_DATABASE_URL", role, why, AppRole)
	}
	return nil
}

// ConnString is url without pgxpool's own settings (pool_max_conns …),
// for single connections (migrations, the realtime listener) that would
// send them to the server as unknown parameters.
func ConnString(url string) string {
	u, err := neturl.Parse(url)
	if err != nil {
		return url
	}
	q := u.Query()
	for k := range q {
		if strings.HasPrefix(k, "pool_") {
			q.Del(k)
		}
	}
	u.RawQuery = q.Encode()
	return u.String()
}

// Close closes the pool.
func (db *DB) Close() { db.Pool.Close() }

// InTenant runs fn in a transaction whose queries see only tenantID's rows.
// It commits when fn returns nil and rolls back otherwise. It is the only way
// domain code reaches tenant data.
func (db *DB) InTenant(ctx context.Context, tenantID uuid.UUID, fn func(pgx.Tx) error) error {
	if tenantID == uuid.Nil {
		return errors.New("tenant transaction without a tenant")
	}
	return db.InTenantFrom(ctx, tenantID, nil, fn)
}

// Scope makes tx, a transaction of the pool begun by hand, see only
// tenantID's rows until it ends (what InTenant does for its own).
func (db *DB) Scope(ctx context.Context, tx pgx.Tx, tenantID uuid.UUID) error {
	_, err := tx.Exec(ctx, `SELECT set_config('app.tenant_id', $1, true), set_config('app.tenant_mac', $2, true)`, tenantID.String(), db.tenantMAC(tenantID))
	return err
}

// InTenantFrom is InTenant for a transaction that starts with the queries
// of first: they are sent with its BEGIN and its scoping in one round trip,
// and fn continues the transaction once their results have been read (by
// first's callbacks); with first nil it is InTenant. Its statements use generic plans: they take arrays of
// rows (unnest), which Postgres would plan anew on every call, because each
// array has another length, and planning would cost more than running them.
func (db *DB) InTenantFrom(ctx context.Context, tenantID uuid.UUID, first *pgx.Batch, fn func(pgx.Tx) error) error {
	if tenantID == uuid.Nil {
		return errors.New("tenant transaction without a tenant")
	}
	b := &pgx.Batch{}
	b.BeginTx(pgx.TxOptions{})
	// is_local=true: the settings end with the transaction, so nothing
	// leaks to the next borrower of this connection. Parameters, not
	// literals: another connection of the role sees this statement's text
	// in pg_stat_activity, and the MAC must not be read there.
	if first == nil {
		b.Queue(`SELECT set_config('app.tenant_id', $1, true), set_config('app.tenant_mac', $2, true)`, tenantID.String(), db.tenantMAC(tenantID))
	} else {
		b.Queue(`SELECT set_config('app.tenant_id', $1, true), set_config('app.tenant_mac', $2, true), set_config('plan_cache_mode', 'force_generic_plan', true)`,
			tenantID.String(), db.tenantMAC(tenantID))
		b.QueuedQueries = append(b.QueuedQueries, first.QueuedQueries...)
	}
	br := db.Pool.SendBatch(ctx, b)
	if tx := br.Tx(); tx != nil {
		defer tx.Rollback(ctx) // after a commit: nothing to do
	}
	if err := br.Close(); err != nil {
		return err
	}
	tx := br.Tx()
	if err := fn(tx); err != nil {
		return err
	}
	return tx.Commit(ctx)
}

// InSystem runs fn in a transaction with no tenant: it sees no tenant rows and
// can only call the SECURITY DEFINER functions that cross tenants on purpose
// and the tables that belong to no tenant (sessions, River's).
func (db *DB) InSystem(ctx context.Context, fn func(pgx.Tx) error) error {
	return pgx.BeginFunc(ctx, db.Pool, fn)
}

// WithLock runs fn holding the advisory lock named key, which every
// replica's connections see: for work that spans calls outside the
// database (a provider's settings) and must not run twice at once. The
// lock is held on a connection of its own and let go when fn returns.
func (db *DB) WithLock(ctx context.Context, key string, fn func() error) error {
	conn, err := db.Pool.Acquire(ctx)
	if err != nil {
		return fmt.Errorf("lock %q: %w", key, err)
	}
	defer conn.Release()
	if _, err := conn.Exec(ctx, `SELECT pg_advisory_lock(hashtextextended($1, 0))`, key); err != nil {
		return fmt.Errorf("lock %q: %w", key, err)
	}
	defer func() {
		if _, err := conn.Exec(context.WithoutCancel(ctx), `SELECT pg_advisory_unlock(hashtextextended($1, 0))`, key); err != nil {
			// Closed, the connection lets the lock go with it.
			_ = conn.Conn().Close(context.WithoutCancel(ctx))
		}
	}()
	return fn()
}

// IsUniqueViolation reports whether err is a unique-constraint violation,
// optionally of the named constraint.
func IsUniqueViolation(err error, constraint string) bool {
	var pgErr *pgconn.PgError
	if !errors.As(err, &pgErr) || pgErr.Code != "23505" {
		return false
	}
	return constraint == "" || pgErr.ConstraintName == constraint
}
