package postgres_test

import (
	"context"
	"database/sql"
	"fmt"
	"regexp"
	"slices"
	"testing"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/pressly/goose/v3"

	"parley/internal/clock"
	"parley/internal/postgres"
	"parley/internal/postgres/pgtest"
	"parley/internal/tenant"
	"parley/migrations"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

func TestSchemaIsCurrentAfterMigrate(t *testing.T) {
	t.Parallel()
	db, _ := pgtest.New(t)
	if err := db.SchemaCurrent(context.Background()); err != nil {
		t.Fatal(err)
	}
	var role string
	if err := db.Pool.QueryRow(context.Background(), "SELECT current_user").Scan(&role); err != nil {
		t.Fatal(err)
	}
	if role != "parley_app" {
		t.Fatalf("pooled connections run as %q, want parley_app so that RLS binds them", role)
	}
}

// Rule jobs queued before rule events existed named their events in their
// arguments: the migration moves those events, in order, to rule_events and
// marks their tenants' runs queued (the old jobs run them), so an upgrade
// loses none. Jobs that ran are left alone.
func TestRuleEventsMigrationKeepsQueuedRuleJobs(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	db, admin, sqlDB, provider := upgrader(t)
	if _, err := provider.DownTo(ctx, 10); err != nil {
		t.Fatal(err)
	}
	chain := uuid.New()
	args := fmt.Sprintf(`{"tenant_id": %q, "trigger": "client_message", "case_id": 7, "message_id": 70, "chain": {"id": %q, "depth": 2},
		"more": [{"case_id": 8, "message_id": 80, "chain": {"id": %q}}]}`, admin.TenantID, chain, uuid.New())
	if _, err := sqlDB.ExecContext(ctx, `INSERT INTO river_job (kind, args, queue, state, finalized_at) VALUES
		('run_rules', $1, 'rules', 'available', NULL),
		('run_rules', '{"tenant_id": "`+admin.TenantID.String()+`", "trigger": "chat_started", "case_id": 9, "chain": {"id": "`+uuid.NewString()+`"}}', 'rules', 'completed', now())`, args); err != nil {
		t.Fatal(err)
	}
	if _, err := provider.Up(ctx); err != nil {
		t.Fatal(err)
	}
	type event struct {
		Trigger   string
		CaseID    int64
		MessageID *int64
		Chain     uuid.UUID
		Depth     int
	}
	var (
		evs    []event
		queued bool
	)
	err := db.InTenant(ctx, admin.TenantID, func(tx pgx.Tx) error {
		rows, _ := tx.Query(ctx, `SELECT trigger, case_id, message_id, chain, depth FROM rule_event_list ORDER BY id, ord`)
		var err error
		if evs, err = pgx.CollectRows(rows, pgx.RowToStructByPos[event]); err != nil {
			return err
		}
		return tx.QueryRow(ctx, `SELECT queued FROM rule_queues`).Scan(&queued)
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(evs) != 2 || evs[0].CaseID != 7 || *evs[0].MessageID != 70 || evs[0].Chain != chain || evs[0].Depth != 2 ||
		evs[1].CaseID != 8 || *evs[1].MessageID != 80 || evs[1].Depth != 1 || evs[1].Trigger != "client_message" || !queued {
		t.Errorf("after the migration: events %+v, run queued %v; want the waiting job's 2 events, queued", evs, queued)
	}
}

// upgrader is a migrated database with a tenant, and goose over the
// database's owner connection, to move its schema back and forth.
func upgrader(t *testing.T) (*postgres.DB, tenant.Agent, *sql.DB, *goose.Provider) {
	t.Helper()
	db, url := pgtest.New(t)
	admin, err := tenant.NewService(db, clock.Real{}).SignUp(t.Context(), tenant.SignUpForm{Company: "Upgraders", Name: "Up", Email: "up@upgraders.test", Password: "long enough password"})
	if err != nil {
		t.Fatal(err)
	}
	sqlDB, err := sql.Open("pgx", postgres.ConnString(url))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sqlDB.Close() })
	provider, err := goose.NewProvider(goose.DialectPostgres, sqlDB, migrations.FS)
	if err != nil {
		t.Fatal(err)
	}
	return db, admin, sqlDB, provider
}

// Rule events recorded as rows of a change's events (00013) go back to a
// row per event and forward again without one lost, reordered, or run
// again, with the attempts of the next one to run.
func TestRuleEventRowsMigrateBothWays(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	db, admin, sqlDB, provider := upgrader(t)
	chain := uuid.New()
	// A batch's three events, the first of which ran and the second failed
	// twice; then one event of a chain.
	if _, err := sqlDB.ExecContext(ctx, `INSERT INTO rule_events (tenant_id, trigger, case_ids, message_ids, chains, depths, done, attempts)
		VALUES ($1, 'client_message', '{7,8,9}', '{70,80,90}', NULL, NULL, 1, 2), ($1, 'chat_ended', '{10}', '{0}', ARRAY[$2::uuid], '{3}', 0, 0)`,
		admin.TenantID, chain); err != nil {
		t.Fatal(err)
	}
	type event struct {
		Trigger   string
		CaseID    int64
		MessageID int64 // 0: none
		Depth     int
		Attempts  int
		Chained   bool
	}
	list := func() []event {
		var evs []event
		if err := db.InTenant(ctx, admin.TenantID, func(tx pgx.Tx) error {
			rows, _ := tx.Query(ctx, `SELECT trigger, case_id, coalesce(message_id, 0), depth, attempts, chain = $1 FROM rule_event_list ORDER BY id, ord`, chain)
			var err error
			evs, err = pgx.CollectRows(rows, pgx.RowToStructByPos[event])
			return err
		}); err != nil {
			t.Fatal(err)
		}
		return evs
	}
	before := list()
	if len(before) != 3 || before[0].CaseID != 8 || before[0].Attempts != 2 || before[1].Attempts != 0 || !before[2].Chained || before[2].MessageID != 0 {
		t.Fatalf("before: %+v; want cases 8 (2 attempts), 9 and 10 (its chain, no message)", before)
	}
	if _, err := provider.DownTo(ctx, 12); err != nil {
		t.Fatal(err)
	}
	if _, err := provider.Up(ctx); err != nil {
		t.Fatal(err)
	}
	if after := list(); !slices.Equal(after, before) {
		t.Errorf("after down and up: %+v, want %+v", after, before)
	}
}

// A client's message updates its chat's activity, unread count and preview
// (conversation's batch statement). No index of cases may hold those
// columns, or every message writes an entry into each of the chat's indexes
// instead of a heap-only update (migration 00014).
func TestNoIndexOfChatsHoldsWhatAMessageChanges(t *testing.T) {
	t.Parallel()
	_, url := pgtest.New(t)
	ctx := t.Context()
	owner, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer owner.Close(ctx)
	rows, _ := owner.Query(ctx, `SELECT pg_get_indexdef(indexrelid) FROM pg_index WHERE indrelid = 'cases'::regclass`)
	defs, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	if len(defs) < 5 {
		t.Fatalf("found only %v: the enumeration is broken", defs)
	}
	changed := regexp.MustCompile(`\b(last_activity_at|last_client_message_at|unread|preview)\b`)
	for _, def := range defs {
		if col := changed.FindString(def); col != "" {
			t.Errorf("%s\nholds %s, which every client message changes", def, col)
		}
	}
}
