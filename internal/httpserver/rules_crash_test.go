package httpserver_test

import (
	"io"
	"log/slog"
	"testing"

	"github.com/jackc/pgx/v5"

	"parley/internal/app/apptest"
	"parley/internal/channel"
	"parley/internal/clock"
	"parley/internal/conversation"
	"parley/internal/credential"
	"parley/internal/integration"
	"parley/internal/jobs"
	"parley/internal/postgres/pgtest"
	"parley/internal/tenant"
)

// A crash between an event and its rules: a replica stores a client's
// message with its rule job and dies before any worker runs it. When
// Parley starts again on the same database, the rules run — once.
func TestRulesRunOnceAfterACrash(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	db, dbURL := pgtest.New(t)
	admin, err := tenant.NewService(db, clock.Real{}).SignUp(ctx, tenant.SignUpForm{Company: "Crashy", Name: "Cy", Email: "cy@crashy.test", Password: "long enough password"})
	if err != nil {
		t.Fatal(err)
	}
	var igID int64
	err = db.InTenant(ctx, admin.TenantID, func(tx pgx.Tx) error {
		if err := tx.QueryRow(ctx, `INSERT INTO integrations (tenant_id, provider, webhook_token, account, credentials, credentials_hint, sender, default_group_id)
			VALUES ($1, 'twilio', 'crash-hook', 'AC1', '\x00', '', '+15550001111', (SELECT min(id) FROM groups)) RETURNING id`, admin.TenantID).Scan(&igID); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `INSERT INTO rules (tenant_id, name, trigger, actions) VALUES ($1, 'Note it', 'chat_started', '[{"kind":"add_note","value":"Seen once"}]')`, admin.TenantID)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	// The replica that dies: it can insert jobs but runs no worker.
	sealer, _ := credential.NewSealer(make([]byte, 32))
	igs := integration.NewService(db, sealer, "http://parley.test", nil)
	ig, err := igs.Get(ctx, admin.TenantID, igID)
	if err != nil {
		t.Fatal(err)
	}
	inserter, err := jobs.NewInserter(db)
	if err != nil {
		t.Fatal(err)
	}
	conv := conversation.NewService(db, inserter, igs, nil, clock.Real{}, slog.New(slog.NewTextHandler(io.Discard, nil)), "http://parley.test")
	if _, err := conv.Receive(ctx, ig, channel.Inbound{ProviderMessageID: "SM-crash", From: "+15557654321", Body: "hello"}); err != nil {
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
	apptest.Start(t, apptest.Options{DBURL: dbURL})
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
