// Package postgres owns Parley's connection to Postgres: the pool, the
// migrations (goose for our schema, River's migrator for the queue, one entry
// point), and the one helper that runs work inside a tenant-scoped
// transaction.
//
// Row-level security binds the role parley_app. Every pooled connection
// switches to it as soon as it is opened, so even when DATABASE_URL names a
// superuser (development, tests, CI) the application's queries are checked by
// the policies. Work that must cross tenants (finding the tenant of a webhook,
// signing in, sweeps) goes through a few SECURITY DEFINER functions declared
// in the migrations, never by switching the checks off.
package postgres

import (
	"context"
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

// DB is the application's pool of parley_app connections.
type DB struct {
	Pool *pgxpool.Pool
}

// Open connects to url and makes every connection act as AppRole.
func Open(ctx context.Context, url string) (*DB, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("parse database url: %w", err)
	}
	if !strings.Contains(url, "pool_max_conns") {
		// Webhooks and pages each hold a connection for a short
		// transaction; pgxpool's default (4 on 2 cores) queues them.
		cfg.MaxConns = 20
	}
	cfg.AfterConnect = func(ctx context.Context, c *pgx.Conn) error {
		_, err := c.Exec(ctx, "SET ROLE "+AppRole)
		return err
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("open pool: %w", err)
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("connect to postgres: %w", err)
	}
	return &DB{Pool: pool}, nil
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
	// One round trip opens the transaction and scopes it. is_local=true:
	// the setting ends with the transaction, so nothing leaks to the next
	// borrower of this connection. A uuid's text form is safe to inline.
	begin := "BEGIN; SELECT set_config('app.tenant_id', '" + tenantID.String() + "', true)"
	return pgx.BeginTxFunc(ctx, db.Pool, pgx.TxOptions{BeginQuery: begin}, fn)
}

// InTenantFrom is InTenant for a transaction that starts with the queries
// of first: they are sent with its BEGIN and its scoping in one round trip,
// and fn continues the transaction once their results have been read (by
// first's callbacks). Its statements use generic plans: they take arrays of
// rows (unnest), which Postgres would plan anew on every call, because each
// array has another length, and planning would cost more than running them.
func (db *DB) InTenantFrom(ctx context.Context, tenantID uuid.UUID, first *pgx.Batch, fn func(pgx.Tx) error) error {
	if tenantID == uuid.Nil {
		return errors.New("tenant transaction without a tenant")
	}
	b := &pgx.Batch{}
	b.BeginTx(pgx.TxOptions{})
	b.Queue(`SELECT set_config('app.tenant_id', $1, true), set_config('plan_cache_mode', 'force_generic_plan', true)`, tenantID.String())
	b.QueuedQueries = append(b.QueuedQueries, first.QueuedQueries...)
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

// IsUniqueViolation reports whether err is a unique-constraint violation,
// optionally of the named constraint.
func IsUniqueViolation(err error, constraint string) bool {
	var pgErr *pgconn.PgError
	if !errors.As(err, &pgErr) || pgErr.Code != "23505" {
		return false
	}
	return constraint == "" || pgErr.ConstraintName == constraint
}
