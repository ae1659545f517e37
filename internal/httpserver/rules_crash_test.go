package httpserver_test

import (
	"testing"

	"github.com/jackc/pgx/v5"

	"parley/internal/app/apptest"
	"parley/internal/channel"
	"parley/internal/clock"
	"parley/internal/conversation/convtest"
)

// A crash between an event and its rules: a replica stores a client's
// message with its rule job and dies before any worker runs it. When
// Parley starts again on the same database, the rules run — once.
func TestRulesRunOnceAfterACrash(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	// The replica that dies: it can insert jobs but runs no worker.
	f := convtest.New(t, clock.Real{})
	db, admin := f.DB, f.Admin
	if err := db.InTenant(ctx, admin.TenantID, func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, `INSERT INTO rules (tenant_id, name, trigger, actions) VALUES ($1, 'Note it', 'chat_started', '[{"kind":"add_note","value":"Seen once"}]')`, admin.TenantID)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := f.Conv.Receive(ctx, f.IG, channel.Inbound{ProviderMessageID: "SM-crash", From: "+15557654321", Body: "hello"}); err != nil {
		t.Fatal(err)
	}
	notes := func() int {
		var n int
		if err := db.InTenant(ctx, admin.TenantID, func(tx pgx.Tx) error {
			return tx.QueryRow(ctx, `SELECT count(*) FROM messages WHERE kind = 'note' AND body = 'Seen once'`).Scan(&n)
		}); err != nil {
			t.Fatal(err)
		}
		return n
	}
	if n := notes(); n != 0 {
		t.Fatalf("%d notes before any worker ran", n)
	}
	// Parley starts again on the same database.
	apptest.Start(t, apptest.Options{DBURL: f.URL})
	var state string
	var attempts int
	eventually(t, "the rule job after the restart", func() bool {
		err := db.InSystem(ctx, func(tx pgx.Tx) error {
			return tx.QueryRow(ctx, `SELECT state, attempt FROM river_job WHERE kind = 'run_rules'`).Scan(&state, &attempts)
		})
		return err == nil && state == "completed"
	})
	if n := notes(); n != 1 || attempts != 1 {
		t.Fatalf("the rule ran %d times in %d attempts, want once", n, attempts)
	}
}
