package postgres_test

import (
	"context"
	"fmt"
	"net/url"
	"strings"
	"testing"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"parley/internal/postgres"
	"parley/internal/postgres/pgtest"
)

// The serving role runs whatever SQL an injection would: it still reads no
// row of another tenant and cannot become the owner, nor switch the checks
// off (issue 22, item 4).
func TestServingRoleCannotEscalateEvenWithArbitrarySQL(t *testing.T) {
	t.Parallel()
	db, ownerURL := pgtest.New(t)
	ctx := context.Background()
	a, b := seedTenant(t, db, "a"), seedTenant(t, db, "b")
	u, _ := url.Parse(ownerURL)
	ownerRole := u.User.Username()

	owner, err := pgx.Connect(ctx, ownerURL)
	if err != nil {
		t.Fatal(err)
	}
	defer owner.Close(ctx)
	tables := tenantTables(t, owner)

	app, err := pgx.Connect(ctx, pgtest.AppURL(ownerURL))
	if err != nil {
		t.Fatal(err)
	}
	defer app.Close(ctx)
	if err := postgres.CheckServingRole(ctx, app); err != nil {
		t.Fatalf("the serving role of the tests: %v", err)
	}

	// What tenant A's own transaction carries, as an injection inside it
	// would read it.
	var aMAC string
	if err := db.InTenant(ctx, a, func(tx pgx.Tx) error {
		return tx.QueryRow(ctx, `SELECT current_setting('app.tenant_mac')`).Scan(&aMAC)
	}); err != nil {
		t.Fatal(err)
	}

	// Naming tenant B: with no MAC, with A's, with a made-up one, with row
	// security switched off for the session.
	namings := []string{
		`SELECT set_config('app.tenant_id', '` + b.String() + `', false), set_config('app.tenant_mac', '', false)`,
		`SELECT set_config('app.tenant_id', '` + b.String() + `', false), set_config('app.tenant_mac', '` + aMAC + `', false)`,
		`SELECT set_config('app.tenant_id', '` + b.String() + `', false), set_config('app.tenant_mac', '` + strings.Repeat("0", 64) + `', false)`,
		`SET row_security = off`,
	}
	for _, naming := range namings {
		if _, err := app.Exec(ctx, naming); err != nil {
			t.Fatalf("%s: %v", naming, err)
		}
		for _, table := range tables {
			col := "tenant_id"
			if table == "tenants" {
				col = "id"
			}
			var n int
			err := app.QueryRow(ctx, fmt.Sprintf(`SELECT count(*) FROM %s WHERE %s = $1`, table, col), b).Scan(&n)
			if err == nil && n > 0 {
				t.Errorf("after %q the serving role reads %d rows of tenant B in %s", naming, n, table)
			}
			if _, err := app.Exec(ctx, fmt.Sprintf(`UPDATE %s SET %s = %s WHERE %s = $1`, table, col, col, col), b); err == nil {
				// An update that matches nothing is no error; one that
				// reached B's rows would show in the count above.
				continue
			}
		}
		if _, err := app.Exec(ctx, `RESET ALL`); err != nil {
			t.Fatal(err)
		}
	}

	// Becoming the owner or a superuser, or giving itself their powers.
	refused := []string{
		`RESET ROLE; SET ROLE ` + ownerRole,
		`SET ROLE ` + ownerRole,
		`SET SESSION AUTHORIZATION ` + ownerRole,
		`SET ROLE postgres`,
		`GRANT ` + ownerRole + ` TO CURRENT_USER`,
		`ALTER ROLE CURRENT_USER BYPASSRLS`,
		`ALTER ROLE CURRENT_USER SUPERUSER`,
		`ALTER TABLE agents DISABLE ROW LEVEL SECURITY`,
		`ALTER TABLE agents NO FORCE ROW LEVEL SECURITY`,
		`DROP POLICY tenant_isolation ON agents`,
		`CREATE POLICY open ON agents USING (true)`,
		`CREATE OR REPLACE FUNCTION current_tenant() RETURNS uuid LANGUAGE sql AS $$ SELECT '` + b.String() + `'::uuid $$`,
		`CREATE FUNCTION public.sha256(bytea) RETURNS bytea LANGUAGE sql AS $$ SELECT '\x00'::bytea $$`,
		`SELECT key FROM tenant_scope_key`,
		`UPDATE tenant_scope_key SET key = '\x` + strings.Repeat("00", 32) + `'`,
		`ALTER FUNCTION tenant_scope_ok(uuid, text) OWNER TO CURRENT_USER`,
		// A temporary table of its own key, which tenant_scope_ok read
		// first, or a temporary "agents" that later statements on the
		// pooled connection would read instead of the real one.
		`CREATE TEMP TABLE tenant_scope_key (one bool, key bytea)`,
		`CREATE TEMP TABLE agents (tenant_id uuid, id bigint, email text, password_hash text)`,
	}
	for _, stmt := range refused {
		if _, err := app.Exec(ctx, stmt); err == nil {
			t.Errorf("the serving role ran %q", stmt)
		}
	}
	var who string
	var super, bypass bool
	if err := app.QueryRow(ctx, `SELECT current_user, rolsuper, rolbypassrls FROM pg_roles WHERE rolname = current_user`).Scan(&who, &super, &bypass); err != nil {
		t.Fatal(err)
	}
	if who != postgres.AppRole || super || bypass {
		t.Errorf("after the attempts the serving role is %s (superuser %t, bypassrls %t)", who, super, bypass)
	}
	if err := postgres.CheckServingRole(ctx, app); err != nil {
		t.Errorf("after the attempts: %v", err)
	}

	// The functions that run as the owner find no object of the caller's
	// first: each searches the temporary schema last.
	rows, _ := owner.Query(ctx, `SELECT p.oid::regprocedure::text FROM pg_proc p
		WHERE p.pronamespace = 'public'::regnamespace AND p.prosecdef
		  AND NOT coalesce(p.proconfig @> ARRAY['search_path=public, pg_temp'], false)`)
	loose, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	if len(loose) > 0 {
		t.Errorf("SECURITY DEFINER functions whose search path does not end with pg_temp: %v", loose)
	}
}

// Another connection of the same role sees a tenant transaction's last
// statement in pg_stat_activity: the MAC travels as a parameter, never in
// the text.
func TestTenantMACIsNotInAnyStatementText(t *testing.T) {
	t.Parallel()
	db, ownerURL := pgtest.New(t)
	ctx := context.Background()
	b := seedTenant(t, db, "b")
	app, err := pgx.Connect(ctx, pgtest.AppURL(ownerURL))
	if err != nil {
		t.Fatal(err)
	}
	defer app.Close(ctx)
	err = db.InTenant(ctx, b, func(tx pgx.Tx) error {
		var mac string
		if err := tx.QueryRow(ctx, `SELECT current_setting('app.tenant_mac')`).Scan(&mac); err != nil {
			return err
		}
		if len(mac) != 64 {
			t.Fatalf("tenant MAC %q", mac)
		}
		var seen int
		if err := app.QueryRow(ctx, `SELECT count(*) FROM pg_stat_activity WHERE usename = current_user AND pid <> pg_backend_pid()`).Scan(&seen); err != nil {
			return err
		}
		if seen == 0 {
			t.Fatal("the other connection sees no session of the role: the check would be vacuous")
		}
		var leaks int
		if err := app.QueryRow(ctx, `SELECT count(*) FROM pg_stat_activity WHERE position($1 IN query) > 0 AND pid <> pg_backend_pid()`, mac).Scan(&leaks); err != nil {
			return err
		}
		if leaks > 0 {
			t.Errorf("tenant B's MAC is in the text of %d statements another connection can read", leaks)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// The server refuses to serve as the owner (or any role that could get past
// the policies), saying what to do instead.
func TestOpenRefusesTheOwner(t *testing.T) {
	t.Parallel()
	ownerURL := pgtest.URL(t)
	_, err := postgres.Open(context.Background(), ownerURL, []byte(pgtest.SecretKey))
	if err == nil || !strings.Contains(err.Error(), "owns") || !strings.Contains(err.Error(), "PARLEY_OWNER_DATABASE_URL") {
		t.Fatalf("Open as the owner: %v", err)
	}
	// And a serving role with another secret key sees no tenant at all, so
	// it is refused too rather than serving empty pages.
	_, err = postgres.Open(context.Background(), pgtest.AppURL(ownerURL), []byte("another key of thirty-two bytes!"))
	if err == nil || !strings.Contains(err.Error(), "PARLEY_SECRET_KEY") {
		t.Fatalf("Open with another secret key: %v", err)
	}
	_ = uuid.Nil
}
