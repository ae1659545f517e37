package postgres_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"parley/internal/channel"
	"parley/internal/client"
	"parley/internal/clock"
	"parley/internal/conversation"
	"parley/internal/credential"
	"parley/internal/integration"
	"parley/internal/jobs"
	"parley/internal/macro"
	"parley/internal/postgres"
	"parley/internal/postgres/pgtest"
	"parley/internal/tenant"
)

// tenantTables lists every table with a tenant_id column (and tenants
// itself, keyed by id).
func tenantTables(t *testing.T, conn *pgx.Conn) []string {
	t.Helper()
	rows, _ := conn.Query(context.Background(), `SELECT table_name FROM information_schema.columns
		WHERE table_schema = 'public' AND column_name = 'tenant_id' ORDER BY table_name`)
	tables, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	return append(tables, "tenants")
}

func TestEveryTenantTableHasRowLevelSecurity(t *testing.T) {
	t.Parallel()
	_, url := pgtest.New(t)
	ctx := context.Background()
	owner, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer owner.Close(ctx)
	tables := tenantTables(t, owner)
	if len(tables) < 5 {
		t.Fatalf("found only %v: the enumeration is broken", tables)
	}
	for _, table := range tables {
		var view, invoker, enabled, forced bool
		var policies int
		err := owner.QueryRow(ctx, `SELECT c.relkind = 'v', 'security_invoker=true' = ANY(coalesce(c.reloptions, '{}')), c.relrowsecurity, c.relforcerowsecurity,
				(SELECT count(*) FROM pg_policies p WHERE p.tablename = c.relname AND p.schemaname = 'public'
					AND p.qual LIKE '%current_tenant()%' AND p.with_check LIKE '%current_tenant()%')
			FROM pg_class c WHERE c.relname = $1 AND c.relnamespace = 'public'::regnamespace`, table).Scan(&view, &invoker, &enabled, &forced, &policies)
		if err != nil {
			t.Fatal(err)
		}
		if view {
			// A view reads its tables as its owner, past their policies,
			// unless it reads them as its caller.
			if !invoker {
				t.Errorf("view %s reads as its owner, past its tables' row level security: it needs security_invoker", table)
			}
			continue
		}
		if !enabled || !forced || policies == 0 {
			t.Errorf("table %s: row level security enabled=%t, forced=%t, tenant policies=%d; every tenant table needs all three (FORCE, and the owner's policy owner_crosses_tenants for the SECURITY DEFINER functions: see migration 20261203213000)", table, enabled, forced, policies)
		}
	}
}

func TestTenantTransactionSeesNoOtherTenantsRows(t *testing.T) {
	t.Parallel()
	db, url := pgtest.New(t)
	ctx := context.Background()
	a, b := seedTenant(t, db, "a"), seedTenant(t, db, "b")

	owner, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer owner.Close(ctx)
	for _, table := range tenantTables(t, owner) {
		col := "tenant_id"
		if table == "tenants" {
			col = "id"
		}
		// Not vacuous: the other tenant really has rows here.
		var bRows int
		if err := owner.QueryRow(ctx, fmt.Sprintf(`SELECT count(*) FROM %s WHERE %s = $1`, table, col), b).Scan(&bRows); err != nil {
			t.Fatal(err)
		}
		if bRows == 0 {
			t.Errorf("table %s: the seed gives tenant B no rows here; extend seedTenant so isolation is tested", table)
			continue
		}
		err := db.InTenant(ctx, a, func(tx pgx.Tx) error {
			rows, _ := tx.Query(ctx, fmt.Sprintf(`SELECT %s FROM %s`, col, table))
			seen, err := pgx.CollectRows(rows, pgx.RowTo[uuid.UUID])
			if err != nil {
				return err
			}
			for _, id := range seen {
				if id != a {
					t.Errorf("table %s: tenant A's transaction sees a row of tenant %s", table, id)
				}
			}
			if len(seen) == 0 {
				t.Errorf("table %s: tenant A sees none of its own rows", table)
			}
			return nil
		})
		if err != nil {
			t.Fatalf("%s: %v", table, err)
		}
	}
}

func TestNoTenantSeesNothingAndCannotWrite(t *testing.T) {
	t.Parallel()
	db, _ := pgtest.New(t)
	ctx := context.Background()
	a := seedTenant(t, db, "a")
	err := db.InSystem(ctx, func(tx pgx.Tx) error {
		var n int
		if err := tx.QueryRow(ctx, `SELECT count(*) FROM agents`).Scan(&n); err != nil {
			return err
		}
		if n != 0 {
			t.Errorf("a transaction without a tenant sees %d agents", n)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	// Writing a row for another tenant from A's transaction is refused.
	err = db.InTenant(ctx, a, func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, `INSERT INTO groups (tenant_id, name) VALUES ($1, 'x')`, uuid.New())
		return err
	})
	if err == nil {
		t.Fatal("tenant A inserted a row for another tenant")
	}
}

// seedTenant creates a tenant with a row in every tenant table, through the
// domain services, and returns its id. Each issue that adds a tenant table
// adds its rows here.
func seedTenant(t *testing.T, db *postgres.DB, name string) uuid.UUID {
	t.Helper()
	ctx := context.Background()
	s := tenant.NewService(db, clock.NewFake(time.Now()))
	admin, err := s.SignUp(ctx, tenant.SignUpForm{Company: name, Name: name, Email: name + "@" + name + ".test", Password: "long enough password"})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.CreateAgent(ctx, admin.TenantID, tenant.NewAgentForm{Email: "inv@" + name + ".test", Name: "Invited", Role: "agent", Invite: true}); err != nil {
		t.Fatal(err)
	}
	// An integration (stored directly: no provider is called here), and a
	// client's message with a file: client, chat, message, attachment.
	sealer, _ := credential.NewSealer(make([]byte, 32))
	var igID int64
	err = db.InTenant(ctx, admin.TenantID, func(tx pgx.Tx) error {
		return tx.QueryRow(ctx, `INSERT INTO integrations (tenant_id, provider, webhook_token, account, credentials, credentials_hint, sender, default_group_id)
			VALUES ($1, 'twilio', $2, 'AC-' || $2, '\x00', '', '+15550001111', (SELECT min(id) FROM groups)) RETURNING id`, admin.TenantID, "hook-"+name).Scan(&igID)
	})
	if err != nil {
		t.Fatal(err)
	}
	igs := integration.NewService(db, sealer, "http://parley.test", nil)
	ig, err := igs.Get(ctx, admin.TenantID, igID)
	if err != nil {
		t.Fatal(err)
	}
	inserter, err := jobs.NewInserter(db)
	if err != nil {
		t.Fatal(err)
	}
	conv := conversation.NewService(db, inserter, igs, nil, nil, clock.Real{}, slog.New(slog.NewTextHandler(io.Discard, nil)), "http://parley.test")
	_, err = conv.Receive(ctx, ig, channel.Inbound{ProviderMessageID: "SM-" + name, From: "+15557654321", Body: "hi",
		Media: []channel.MediaRef{{URL: "https://example.test/m", ContentType: "image/png"}}})
	if err != nil {
		t.Fatal(err)
	}
	// A second profile of the same client, merged into the first.
	var first, second int64
	err = db.InTenant(ctx, admin.TenantID, func(tx pgx.Tx) error {
		if err := tx.QueryRow(ctx, `SELECT id FROM clients WHERE whatsapp = '+15557654321'`).Scan(&first); err != nil {
			return err
		}
		return tx.QueryRow(ctx, `INSERT INTO clients (tenant_id, name, phone) VALUES ($1, 'Second', '+15557654321') RETURNING id`, admin.TenantID).Scan(&second)
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := client.NewService(db).Merge(ctx, admin.TenantID, admin.ID, first, second, map[string]string{"name": client.KeepSurvivor}); err != nil {
		t.Fatal(err)
	}
	if err := db.InTenant(ctx, admin.TenantID, func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, `WITH r AS (INSERT INTO rules (tenant_id, name, trigger, minutes, actions) VALUES ($1, 'r', 'no_agent_reply', 5, '[]') RETURNING id)
			, f AS (INSERT INTO rule_fires (tenant_id, rule_id, case_id, period_start) SELECT $1, r.id, (SELECT min(id) FROM cases), now() FROM r)
			INSERT INTO rule_chain_fires (tenant_id, chain, rule_id) SELECT $1, gen_random_uuid(), r.id FROM r`, admin.TenantID)
		if err != nil {
			return err
		}
		// A waiting rule's event, and its queued run.
		_, err = tx.Exec(ctx, `WITH e AS (INSERT INTO rule_events (tenant_id, trigger, rule_id, case_ids, message_ids)
				VALUES ($1, 'no_agent_reply', (SELECT min(id) FROM rules), ARRAY[(SELECT min(id) FROM cases)], '{0}'))
			SELECT queue_rule_run()`, admin.TenantID)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := macro.NewService(db).Create(ctx, admin.TenantID, macro.Owner{Agent: admin.ID}, macro.Form{Title: "Hello", Body: "Hello!"}); err != nil {
		t.Fatal(err)
	}
	// The tenant's cloud storage.
	if err := db.InTenant(ctx, admin.TenantID, func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, `INSERT INTO cloud_storage (tenant_id, endpoint, region, bucket, access_key, secret, secret_hint)
			VALUES ($1, '', 'us-east-1', 'b', 'k', '\x00', '••••')`, admin.TenantID)
		if err != nil {
			return err
		}
		// The admin's read state of the first chat.
		if _, err := tx.Exec(ctx, `INSERT INTO chat_reads (tenant_id, agent_id, case_id, last_read_id)
			VALUES ($1, $2, (SELECT min(id) FROM cases), (SELECT max(id) FROM messages))`, admin.TenantID, admin.ID); err != nil {
			return err
		}
		// A password reset link of the admin's.
		_, err = tx.Exec(ctx, `INSERT INTO account_tokens (tenant_id, agent_id, purpose, token_hash, expires_at)
			VALUES ($1, $2, 'reset', decode(md5(random()::text), 'hex'), now() + interval '1 hour')`, admin.TenantID, admin.ID)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	return admin.TenantID
}
