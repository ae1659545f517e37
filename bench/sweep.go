package main

// Benchmark "sweep": the idle sweep (conversation.Service.EndIdleChats, run
// by the periodic job every 15 s) at a million cases. The issue asks: with
// 1,000,000 cases and 100,000 live chats of which 50,000 are idle, the time
// to end all 50,000; and the cost of a sweep that finds nothing (goal
// < 5 ms), which is what every replica pays every 15 s in steady state.
//
// The data is 100 tenants of 10,000 cases each, generated in SQL as the
// DATABASE_URL role; the timed part is the conversation service the
// application builds, on the application's pool (parley_app, row-level
// security on), with a fake clock. The clock is set to sweepNow, years
// before anything else a benchmark stores, so that the sweep — which
// crosses all tenants — ends only this benchmark's chats even in a database
// that holds other data. The benchmark deletes its tenants when done.

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"parley/internal/clock"
	"parley/internal/config"
	"parley/internal/conversation"
	"parley/internal/credential"
	"parley/internal/integration"
	"parley/internal/jobs"
	"parley/internal/media"
	"parley/internal/postgres"
)

// The sweep benchmark's data: every tenant alike.
const (
	sweepTenants       = 100
	sweepCasesEach     = 10_000 // per tenant: 1,000,000 in all
	sweepEndedEach     = 9_000  // ended cases, over the year before sweepNow
	sweepIdleEach      = 500    // live chats idle 10 min to 2 h: 50,000 in all
	sweepActiveEach    = 500    // live chats with activity in the last 10 min
	sweepClientsEach   = 3_000  // customers per tenant (each live chat its own)
	sweepNothingRuns   = 20     // measured runs of the sweep that finds nothing
	sweepTenantPrefix  = "bench-sweep "
	sweepIdleMinutes   = 10 // the tenants' idle timeout (Parley's default)
	sweepNothingGoal   = 5 * time.Millisecond
	sweepActiveSpanSec = 599.0  // active chats: last activity 0 to 599 s ago
	sweepIdleSpanSec   = 6600.0 // idle chats: 601 s to 2 h ago
	sweepEndedSpanSec  = 365 * 86400.0
)

// sweepNow is the sweep's clock: before any other data in the database.
var sweepNow = time.Date(2001, 1, 1, 12, 0, 0, 0, time.UTC)

func runSweep(ctx context.Context, e *env) error {
	conn, err := ownerConn(ctx, e.DatabaseURL)
	if err != nil {
		return err
	}
	defer conn.Close(context.Background())

	progress("deleting what an earlier sweep run left, if anything")
	if err := deleteTenants(ctx, conn, sweepTenantPrefix); err != nil {
		return err
	}
	progress("generating the sweep data: %d tenants × %d cases", sweepTenants, sweepCasesEach)
	started := time.Now()
	tenants, err := generateSweepData(ctx, conn)
	if err != nil {
		return err
	}
	genTime := time.Since(started)
	defer func() {
		progress("deleting the sweep data")
		if err := deleteTenants(context.Background(), conn, sweepTenantPrefix); err != nil {
			progress("  %v", err)
		}
	}()
	sizes, err := sweepSizes(ctx, conn, tenants)
	if err != nil {
		return err
	}
	progress("  generated in %s: %+v", genTime.Round(time.Second), sizes)

	conv, closeConv, err := newConversationService(ctx, e, clock.NewFake(sweepNow))
	if err != nil {
		return err
	}
	defer closeConv()

	progress("sweep: ending %d idle chats", sizes.idle)
	started = time.Now()
	ended, err := conv.EndIdleChats(ctx)
	if err != nil {
		return err
	}
	sweepTime := time.Since(started)
	progress("  ended %d in %s", ended, sweepTime.Round(time.Millisecond))

	progress("sweep that finds nothing: 1 unmeasured + %d measured runs", sweepNothingRuns)
	nothing := func() error {
		n, err := conv.EndIdleChats(ctx)
		if err == nil && n != 0 {
			err = fmt.Errorf("a sweep after the sweep ended %d more chats", n)
		}
		return err
	}
	if err := nothing(); err != nil {
		return err
	}
	empty, err := measure(sweepNothingRuns, nothing)
	if err != nil {
		return err
	}
	progress("  p50 %s, p95 %s", ms(empty.pct(0.5)), ms(empty.pct(0.95)))

	progress("checking the ended chats")
	chk, err := checkSweep(ctx, conn, tenants)
	if err != nil {
		return err
	}
	reportSweep(e, sizes, genTime, ended, sweepTime, empty, chk)
	return nil
}

// newConversationService builds the conversation service the way the
// application (and the package's tests) do, on the application's pool.
func newConversationService(ctx context.Context, e *env, clk clock.Clock) (*conversation.Service, func(), error) {
	db, err := postgres.Open(ctx, e.AppURL, secretKey)
	if err != nil {
		return nil, nil, err
	}
	mediaDir, err := os.MkdirTemp("", "parley-bench-media-")
	if err != nil {
		db.Close()
		return nil, nil, err
	}
	closeAll := func() { db.Close(); os.RemoveAll(mediaDir) }
	sealer, err := credential.NewSealer(secretKey)
	if err != nil {
		closeAll()
		return nil, nil, err
	}
	store, err := media.Open(ctx, config.DirURL(mediaDir))
	if err != nil {
		closeAll()
		return nil, nil, err
	}
	inserter, err := jobs.NewInserter(db)
	if err != nil {
		closeAll()
		return nil, nil, err
	}
	const baseURL = "http://parley.bench"
	igs := integration.NewService(db, sealer, baseURL, nil)
	return conversation.NewService(db, inserter, igs, store, nil, clk, e.Log, baseURL), closeAll, nil
}

// generateSweepData loads the tenants, their group and integration, their
// customers, cases and the live chats' first messages, and returns the
// tenants' ids. Each statement generates every tenant's rows at once.
//
// Per tenant, case k (0 ≤ k < 10,000) is
//   - ended if k < 9,000, its last activity spread over the year before
//     sweepNow (a third ended by the idle timeout, the rest by an agent);
//   - live and idle if k < 9,500: last activity 10 min 1 s to 2 h before;
//   - live and active otherwise: last activity 0 to 599 s before, so
//     still live at the 10-minute timeout.
//
// Times interleave across tenants (tenant n is n steps off), as if the
// tenants' customers wrote at random, so each round of the sweep (1,000
// chats, oldest first) touches many tenants.
func generateSweepData(ctx context.Context, conn *pgx.Conn) ([]uuid.UUID, error) {
	args := pgx.NamedArgs{
		"tenants": sweepTenants, "cases": sweepCasesEach, "ended": sweepEndedEach, "idle": sweepIdleEach,
		"clients": sweepClientsEach, "now": sweepNow, "prefix": sweepTenantPrefix, "minutes": sweepIdleMinutes,
		"active_step": sweepActiveSpanSec / (sweepTenants * sweepActiveEach),
		"idle_step":   sweepIdleSpanSec / (sweepTenants * sweepIdleEach),
		"ended_step":  sweepEndedSpanSec / (sweepTenants * sweepEndedEach),
	}
	steps := []struct{ what, sql string }{
		// The tenants, numbered n = 1…100, with their group and integration.
		{"tenants", `CREATE TEMP TABLE sweep_t ON COMMIT DROP AS
			SELECT n, gen_random_uuid() AS id, 0::bigint AS group_id, 0::bigint AS integration_id
			FROM generate_series(1, @tenants::int) n`},
		{"", `INSERT INTO tenants (id, name, case_seq, chat_idle_minutes, created_at)
			SELECT id, @prefix::text || lpad(n::text, 3, '0'), @cases::int, @minutes::int, @now::timestamptz - interval '2 years' FROM sweep_t`},
		{"groups", `INSERT INTO groups (tenant_id, name, created_at) SELECT id, 'Support', @now::timestamptz - interval '2 years' FROM sweep_t`},
		{"", `UPDATE sweep_t t SET group_id = g.id FROM groups g WHERE g.tenant_id = t.id`},
		{"integrations", `INSERT INTO integrations (tenant_id, provider, webhook_token, account, credentials, credentials_hint, sender, default_group_id, created_at)
			SELECT id, 'twilio', 'bench-sweep-' || id, 'AC' || lpad(n::text, 32, '0'), '\x00'::bytea, '••••',
				'+1555' || lpad(n::text, 7, '0'), group_id, @now::timestamptz - interval '2 years' FROM sweep_t`},
		{"", `UPDATE sweep_t t SET integration_id = i.id FROM integrations i WHERE i.tenant_id = t.id`},
		// Customers, numbered k = 0…2,999 in each tenant.
		{"clients", `INSERT INTO clients (tenant_id, name, whatsapp, created_channel, created_at, updated_at)
			SELECT t.id, 'Customer ' || k, '+1666' || lpad(k::text, 7, '0'), 'whatsapp',
				@now::timestamptz - interval '1 year', @now::timestamptz - interval '1 year'
			FROM sweep_t t, generate_series(0, @clients::int - 1) k ORDER BY t.n, k`},
		{"", `CREATE TEMP TABLE sweep_c ON COMMIT DROP AS
			SELECT c.tenant_id, c.id, substr(c.whatsapp, 6)::int AS number FROM clients c JOIN sweep_t t ON t.id = c.tenant_id`},
		{"", `CREATE INDEX ON sweep_c (tenant_id, number)`},
		// Fresh statistics for the joins below, whatever the tables held before.
		{"", `ANALYZE sweep_t, sweep_c, clients`},
		// Cases: case k of a tenant belongs to customer k mod 3,000, so the
		// 1,000 live chats of a tenant have 1,000 different customers.
		{"cases", `INSERT INTO cases (tenant_id, number, client_id, integration_id, channel, group_id, state, status, preview, unread,
				created_at, last_activity_at, last_client_message_at, ended_at, ended_by)
			SELECT t.id, k + 1, cl.id, t.integration_id, 'whatsapp', t.group_id,
				CASE WHEN k < @ended::int THEN 'ended' ELSE 'live' END,
				CASE WHEN k >= @ended::int THEN 'open' ELSE (ARRAY['solved', 'solved', 'solved', 'closed', 'pending'])[1 + k % 5] END,
				(ARRAY['Hi, where is my order?', 'Thanks, that worked', 'Can I change the delivery address?', 'ok'])[1 + k % 4],
				CASE WHEN k >= @ended::int AND k % 2 = 0 THEN 1 ELSE 0 END,
				a.at - make_interval(mins => 2 + k % 40), a.at, a.at - make_interval(secs => (k % 3) * 20),
				CASE WHEN k < @ended::int THEN a.at + make_interval(mins => @minutes::int) END,
				CASE WHEN k < @ended::int THEN CASE WHEN k % 3 = 0 THEN 'the idle timeout' ELSE 'Agent ' || (k % 7) END END
			FROM sweep_t t
			CROSS JOIN generate_series(0, @cases::int - 1) k
			CROSS JOIN LATERAL (SELECT CASE
				WHEN k < @ended::int THEN
					@now::timestamptz - interval '1 hour' - make_interval(secs => ((@ended::int - 1 - k) * @tenants::int + t.n) * @ended_step::float8)
				WHEN k < @ended::int + @idle::int THEN
					@now::timestamptz - make_interval(mins => @minutes::int, secs => 1 + ((k - @ended::int) * @tenants::int + t.n - 1) * @idle_step::float8)
				ELSE
					@now::timestamptz - make_interval(secs => ((k - @ended::int - @idle::int) * @tenants::int + t.n - 1) * @active_step::float8)
				END AS at) a
			JOIN sweep_c cl ON cl.tenant_id = t.id AND cl.number = k % @clients::int
			ORDER BY a.at - make_interval(mins => 2 + k % 40)`},
		{"", `ANALYZE cases`},
		// The live chats' first entries: the "Chat started" event and the
		// customer's message.
		{"messages", `INSERT INTO messages (tenant_id, case_id, integration_id, direction, kind, body, status, provider_message_id, created_at, updated_at)
			SELECT c.tenant_id, c.id, CASE WHEN m = 1 THEN c.integration_id END,
				CASE WHEN m = 0 THEN 'internal' ELSE 'in' END, CASE WHEN m = 0 THEN 'event' ELSE 'text' END,
				CASE WHEN m = 0 THEN 'Chat started on WhatsApp (+15550001111)' ELSE c.preview END,
				CASE WHEN m = 0 THEN 'none' ELSE 'received' END,
				CASE WHEN m = 1 THEN 'SMbenchsweep' || lpad(c.id::text, 22, '0') END,
				CASE WHEN m = 0 THEN c.created_at ELSE c.last_client_message_at END,
				CASE WHEN m = 0 THEN c.created_at ELSE c.last_client_message_at END
			FROM cases c JOIN sweep_t t ON t.id = c.tenant_id CROSS JOIN generate_series(0, 1) m
			WHERE c.state = 'live' ORDER BY c.id, m`},
	}
	var ids []uuid.UUID
	err := pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
		for _, s := range steps {
			started := time.Now()
			tag, err := tx.Exec(ctx, s.sql, args)
			if err != nil {
				return fmt.Errorf("generate %s: %w", s.what, err)
			}
			if s.what != "" {
				progress("  %-14s %10d rows  %s", s.what, tag.RowsAffected(), time.Since(started).Round(time.Millisecond))
			}
		}
		rows, _ := tx.Query(ctx, `SELECT id FROM sweep_t ORDER BY n`)
		var err error
		ids, err = pgx.CollectRows(rows, pgx.RowTo[uuid.UUID])
		return err
	})
	if err != nil {
		return nil, err
	}
	return ids, vacuumAnalyze(ctx, conn, "tenants", "groups", "integrations", "clients", "cases", "messages")
}

// sweepData is what the benchmark generated, counted in the database.
type sweepData struct {
	tenants, clients, cases, ended, live, idle, messages int64
	scanned                                              int64 // live chats idle 1 to 10 minutes: read and dropped by idle_chats
}

func sweepSizes(ctx context.Context, conn *pgx.Conn, tenants []uuid.UUID) (sweepData, error) {
	d := sweepData{tenants: int64(len(tenants))}
	err := conn.QueryRow(ctx, `SELECT count(*), count(*) FILTER (WHERE state = 'ended'), count(*) FILTER (WHERE state = 'live'),
			count(*) FILTER (WHERE state = 'live' AND last_activity_at <= $2::timestamptz - make_interval(mins => $3)),
			count(*) FILTER (WHERE state = 'live' AND last_activity_at <= $2::timestamptz - interval '1 minute'
				AND last_activity_at > $2::timestamptz - make_interval(mins => $3))
		FROM cases WHERE tenant_id = ANY($1)`, tenants, sweepNow, sweepIdleMinutes).Scan(&d.cases, &d.ended, &d.live, &d.idle, &d.scanned)
	if err != nil {
		return d, fmt.Errorf("count cases: %w", err)
	}
	if err := conn.QueryRow(ctx, `SELECT count(*) FROM clients WHERE tenant_id = ANY($1)`, tenants).Scan(&d.clients); err != nil {
		return d, err
	}
	if err := conn.QueryRow(ctx, `SELECT count(*) FROM messages WHERE tenant_id = ANY($1)`, tenants).Scan(&d.messages); err != nil {
		return d, err
	}
	if want := int64(sweepTenants * sweepIdleEach); d.idle != want {
		return d, fmt.Errorf("generated %d idle chats, want %d", d.idle, want)
	}
	return d, nil
}

// sweepCheck is what the database holds after the sweeps.
type sweepCheck struct {
	ended         int64 // cases ended at the sweep's time
	endedIdle     int64 // …of those, generated idle, ended by the idle timeout with the tenant's end status
	oneEvent      int64 // …of those, with exactly one end event
	events        int64 // end events recorded at the sweep's time, in all
	stillLive     int64 // live chats left
	stillLiveIdle int64 // …of those, idle (must be none)
}

func checkSweep(ctx context.Context, conn *pgx.Conn, tenants []uuid.UUID) (sweepCheck, error) {
	var c sweepCheck
	err := conn.QueryRow(ctx, `SELECT count(*) FILTER (WHERE ended_at = $2),
			count(*) FILTER (WHERE ended_at = $2 AND ended_by = $4 AND status = 'solved'
				AND last_activity_at <= $2::timestamptz - make_interval(mins => $3)),
			count(*) FILTER (WHERE state = 'live'),
			count(*) FILTER (WHERE state = 'live' AND last_activity_at <= $2::timestamptz - make_interval(mins => $3))
		FROM cases WHERE tenant_id = ANY($1)`, tenants, sweepNow, sweepIdleMinutes, conversation.IdleEndedBy).
		Scan(&c.ended, &c.endedIdle, &c.stillLive, &c.stillLiveIdle)
	if err != nil {
		return c, fmt.Errorf("check ended chats: %w", err)
	}
	// The end events: one per chat ended by the sweep, and no other.
	err = conn.QueryRow(ctx, `SELECT count(*) FILTER (WHERE n = 1) FROM (
			SELECT (SELECT count(*) FROM messages m WHERE m.tenant_id = c.tenant_id AND m.case_id = c.id
				AND m.kind = 'event' AND m.body LIKE 'Chat ended by%') AS n
			FROM cases c WHERE c.tenant_id = ANY($1) AND c.ended_at = $2) x`, tenants, sweepNow).Scan(&c.oneEvent)
	if err != nil {
		return c, fmt.Errorf("check end events: %w", err)
	}
	err = conn.QueryRow(ctx, `SELECT count(*) FROM messages WHERE tenant_id = ANY($1) AND kind = 'event' AND body LIKE 'Chat ended by%'`,
		tenants).Scan(&c.events)
	return c, err
}

func reportSweep(e *env, d sweepData, genTime time.Duration, ended int, sweepTime time.Duration, empty timings, c sweepCheck) {
	w := e.Out
	fmt.Fprintf(w, "### sweep: idle sweep at %s cases\n\n", thousands(d.cases))
	fmt.Fprintf(w, "Data (generated in SQL in %s, not timed): %d tenants alike, each with one group, one Twilio integration, "+
		"%s customers and %s cases — %s in all: %s ended over the year before, %s live chats, of which %s idle "+
		"(last activity 10 min 1 s to 2 h before the sweep) and the rest active in the last 10 minutes; "+
		"%s messages (the live chats' first two). Idle timeout %d minutes (the default) in every tenant. "+
		"Times interleave across tenants, so each round of the sweep (1,000 chats, oldest first) spans many tenants.\n\n",
		genTime.Round(time.Second), d.tenants, thousands(d.clients/d.tenants), thousands(d.cases/d.tenants), thousands(d.cases),
		thousands(d.ended), thousands(d.live), thousands(d.idle), thousands(d.messages), sweepIdleMinutes)
	fmt.Fprintf(w, "Timed: `conversation.Service.EndIdleChats` as the periodic job calls it, on the application's pool "+
		"(parley_app, row-level security on), with a fake clock at %s (before any other data, so that only these chats are idle): "+
		"one call that ends them all, then 1 unmeasured and %d measured calls that find nothing.\n",
		sweepNow.Format("2006-01-02 15:04 UTC"), sweepNothingRuns)
	fmt.Fprintln(w)
	fmt.Fprintln(w, "| sweep | chats ended | time | chats/s |")
	fmt.Fprintln(w, "|---|---:|---:|---:|")
	fmt.Fprintf(w, "| %s idle of %s live chats | %s | %.2f s | %s |\n\n",
		thousands(d.idle), thousands(d.live), thousands(int64(ended)), sweepTime.Seconds(), thousands(int64(float64(ended)/sweepTime.Seconds())))
	fmt.Fprintln(w, "| sweep that finds nothing | runs | p50 | p95 | max | goal < 5 ms (p95) |")
	fmt.Fprintln(w, "|---|---:|---:|---:|---:|---|")
	fmt.Fprintf(w, "| %s live chats, none idle | %d | %s | %s | %s | %s |\n\n",
		thousands(c.stillLive), len(empty), ms(empty.pct(0.5)), ms(empty.pct(0.95)), ms(empty.pct(1)), goal(empty.pct(0.95), sweepNothingGoal))
	fmt.Fprintf(w, "Of the live chats left, %s had been idle more than 1 minute but less than the tenants' %d: "+
		"`idle_chats` bounds its index range by the shortest timeout any tenant has chosen, so an empty sweep "+
		"does not read them (only those in the 10-second bin of that bound, whose time it checks).\n\n", thousands(d.scanned), sweepIdleMinutes)
	ok := func(b bool) string {
		if b {
			return "ok"
		}
		return "**MISMATCH**"
	}
	idle := d.idle
	fmt.Fprintf(w, "Check: EndIdleChats reported %s ended; %s cases have the sweep's end time, %s of them generated idle and ended "+
		"by the idle timeout with status solved, %s with exactly one end event; %s end events in all: %s.\n",
		thousands(int64(ended)), thousands(c.ended), thousands(c.endedIdle), thousands(c.oneEvent), thousands(c.events),
		ok(int64(ended) == idle && c.ended == idle && c.endedIdle == idle && c.oneEvent == idle && c.events == idle))
	fmt.Fprintf(w, "Check: %s live chats left, %d of them idle: %s.\n\n",
		thousands(c.stillLive), c.stillLiveIdle, ok(c.stillLive == d.live-idle && c.stillLiveIdle == 0))
}
