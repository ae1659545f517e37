// Package convtest gives a test a fresh database with one tenant, its
// Twilio integration (stored directly: no provider is called) and the
// conversation and rule services of a Parley that runs no River workers:
// jobs are recorded, and the test runs what it needs itself.
package convtest

import (
	"context"
	"io"
	"log/slog"
	"testing"

	"github.com/jackc/pgx/v5"

	"parley/internal/clock"
	"parley/internal/config"
	"parley/internal/conversation"
	"parley/internal/credential"
	"parley/internal/integration"
	"parley/internal/jobs"
	"parley/internal/media"
	"parley/internal/postgres"
	"parley/internal/postgres/pgtest"
	"parley/internal/rule"
	"parley/internal/ruleevent"
	"parley/internal/tenant"
)

// Fixture is what New made.
type Fixture struct {
	DB    *postgres.DB
	URL   string // the database's, for a second Parley or the schema's owner
	Admin tenant.Agent
	IG    integration.Integration
	Conv  *conversation.Service
	// Tenants is the tenant service (chat settings, time zone).
	Tenants *tenant.Service
	Rules   *rule.Service
	// RuleCache is the rules the conversation tells its rule events by: a
	// test that changes rules behind the rule service's back empties it.
	RuleCache *rule.Cache
	// Events records rule events as a change would.
	Events *ruleevent.Recorder
	// MediaDir is where the conversation stores files.
	MediaDir string
	// Integrations is the integration service; a test may set its
	// Transport to stand in for the provider.
	Integrations *integration.Service
	Log          *slog.Logger // discards
}

// New makes the fixture on clk. The package's TestMain must call pgtest.Main.
func New(t testing.TB, clk clock.Clock) *Fixture {
	t.Helper()
	ctx := context.Background()
	db, url := pgtest.New(t)
	tenants := tenant.NewService(db, clk)
	admin, err := tenants.SignUp(ctx, tenant.SignUpForm{Company: "Acme", Name: "Ada", Email: "ada@acme.test", Password: "long enough password"})
	if err != nil {
		t.Fatal(err)
	}
	sealer, _ := credential.NewSealer(make([]byte, 32))
	igs := integration.NewService(db, sealer, "http://parley.test", nil)
	var igID int64
	err = db.InTenant(ctx, admin.TenantID, func(tx pgx.Tx) error {
		token := "hook-" + admin.TenantID.String()
		sealed, _ := sealer.Seal("token", token)
		return tx.QueryRow(ctx, `INSERT INTO integrations (tenant_id, provider, webhook_token, account, credentials, credentials_hint, sender, default_group_id)
			VALUES ($1, 'twilio', $2, 'AC00000000000000000000000000000001', $3, '••••', '+15550001111', (SELECT min(id) FROM groups)) RETURNING id`,
			admin.TenantID, token, sealed).Scan(&igID)
	})
	if err != nil {
		t.Fatal(err)
	}
	ig, err := igs.Get(ctx, admin.TenantID, igID)
	if err != nil {
		t.Fatal(err)
	}
	inserter, err := jobs.NewInserter(db)
	if err != nil {
		t.Fatal(err)
	}
	mediaDir := t.TempDir()
	store, err := media.Open(context.Background(), config.DirURL(mediaDir))
	if err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	cache, events := rule.NewCache(db), ruleevent.NewRecorder(inserter, log)
	conv := conversation.NewService(db, inserter, igs, store, cache, clk, log, "http://parley.test")
	return &Fixture{
		DB: db, URL: url, Admin: admin, IG: ig, Log: log, Conv: conv, Tenants: tenants, RuleCache: cache, Events: events, MediaDir: mediaDir, Integrations: igs,
		Rules: rule.NewService(db, conv, cache, events, clk, log),
	}
}

// Count runs q, a query for one number, as the tenant.
func (f *Fixture) Count(t testing.TB, q string, args ...any) int {
	t.Helper()
	var n int
	err := f.DB.InTenant(context.Background(), f.Admin.TenantID, func(tx pgx.Tx) error {
		return tx.QueryRow(context.Background(), q, args...).Scan(&n)
	})
	if err != nil {
		t.Fatal(err)
	}
	return n
}
