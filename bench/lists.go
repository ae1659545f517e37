package main

// Benchmark "lists": the Chats list and the All cases pages at 1,000,000
// cases and 10,000,000 messages in one tenant. The issue asks for the server
// time of page 1 and of a page deep in the list, the goal being flat, with
// p95 < 30 ms.
//
// The tenant and its admin are made by tenant.Service.SignUp, so the admin
// has a password and signs in through /login like anyone; the rest (groups,
// agents, customers, cases, messages) is generated in SQL as the
// DATABASE_URL role, outside the timed part. Each list is then timed twice:
// as the conversation service's call on the application's pool, and as the
// whole page through Parley's handler (router, session, queries, templates),
// served in-process by httptest and measured around the handler. The
// benchmark deletes its tenant when done.

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"os"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"parley/internal/app"
	"parley/internal/clock"
	"parley/internal/config"
	"parley/internal/conversation"
	"parley/internal/postgres"
	"parley/internal/tenant"
)

// The lists benchmark's tenant.
const (
	listsPrefix     = "bench-lists"
	listsEmail      = "lists-admin@bench.parley.test"
	listsPassword   = "bench-lists-password"
	listsCases      = 1_000_000
	listsLive       = 3_000 // live chats: listsLiveOwn in the admin's group, the rest in two others
	listsLiveOwn    = 2_000
	listsClients    = 200_000
	listsAgents     = 20    // besides the admin: 10 in the admin's group, 5 in each other
	listsLargeChat  = 1_000 // messages in the large conversation (a live chat of the admin's)
	listsChunkCases = 50_000
	listsPageSize   = 50    // as the All cases page (httpserver.casesPageSize)
	listsDeepPages  = 2_000 // the deep page is the one after this many
	listsRuns       = 50
	listsWarmup     = 5
	listsGoal       = 30 * time.Millisecond
)

func runLists(ctx context.Context, e *env) error {
	conn, err := ownerConn(ctx, e.DatabaseURL)
	if err != nil {
		return err
	}
	defer conn.Close(context.Background())
	progress("deleting what an earlier lists run left, if anything")
	if err := deleteTenants(ctx, conn, listsPrefix); err != nil {
		return err
	}

	db, err := postgres.Open(ctx, e.AppURL, secretKey)
	if err != nil {
		return err
	}
	defer db.Close()
	progress("signing up the tenant %q (%s)", listsPrefix, listsEmail)
	admin, err := tenant.NewService(db, clock.Real{}).SignUp(ctx, tenant.SignUpForm{
		Company: listsPrefix, Name: "Lena Lists", Email: listsEmail, Password: listsPassword,
	})
	if err != nil {
		return err
	}
	defer func() {
		progress("deleting the lists data")
		if err := deleteTenants(context.Background(), conn, listsPrefix); err != nil {
			progress("  %v", err)
		}
	}()

	progress("generating %d cases and about %d messages in one tenant", listsCases, listsCases*10)
	started := time.Now()
	if err := generateLists(ctx, e.DatabaseURL, conn, admin); err != nil {
		return err
	}
	genTime := time.Since(started)
	d, err := listsSizes(ctx, conn, admin.TenantID)
	if err != nil {
		return err
	}
	progress("  generated in %s: %+v", genTime.Round(time.Second), d)

	// The operations, each as a service call and as a page.
	ops := []*listOp{
		{name: "Chats list (live chats of the agent's groups)", path: "/chats"},
		{name: "All cases, page 1", path: "/cases"},
		{name: fmt.Sprintf("All cases, page %s (keyset)", thousands(listsDeepPages+1)), path: "/cases?after=" + url.QueryEscape(d.deep.String())},
		{name: "All cases, status pending, page 1", path: "/cases?status=pending"},
		{name: "All cases, status open, page 1", path: "/cases?status=open"},
		{name: fmt.Sprintf("Conversation of %s messages (the page adds the chat list)", thousands(d.largeMessages)), path: "/chats/" + strconv.FormatInt(d.largeID, 10)},
	}
	conv, closeConv, err := newConversationService(ctx, e, clock.Real{})
	if err != nil {
		return err
	}
	defer closeConv()
	tid := admin.TenantID
	ops[0].call = func() (int, error) { cs, err := conv.LiveChats(ctx, tid, admin.ID); return len(cs), err }
	casesPage := func(f conversation.CaseFilter) func() (int, error) {
		return func() (int, error) { cs, _, err := conv.Cases(ctx, tid, f, listsPageSize); return len(cs), err }
	}
	ops[1].call = casesPage(conversation.CaseFilter{})
	ops[2].call = casesPage(conversation.CaseFilter{After: d.deep})
	ops[3].call = casesPage(conversation.CaseFilter{Status: "pending"})
	ops[4].call = casesPage(conversation.CaseFilter{Status: "open"})
	ops[5].call = func() (int, error) { ms, err := conv.Messages(ctx, tid, d.largeID); return len(ms), err }

	// The deep page must start right after the cursor SQL found.
	page, _, err := conv.Cases(ctx, tid, conversation.CaseFilter{After: d.deep}, listsPageSize)
	if err != nil {
		return err
	}
	if len(page) == 0 || page[0].ID != d.deepFirst {
		return fmt.Errorf("the deep page does not start with case id %d", d.deepFirst)
	}

	for _, op := range ops {
		progress("service: %s, %d + %d runs", op.name, listsWarmup, listsRuns)
		if op.serviceT, err = timeCall(op.call, &op.rows); err != nil {
			return fmt.Errorf("%s: %w", op.name, err)
		}
		progress("  %d rows, p50 %s, p95 %s", op.rows, ms(op.serviceT.pct(0.5)), ms(op.serviceT.pct(0.95)))
	}

	progress("starting Parley's handler in-process and signing in as %s", listsEmail)
	srv, err := startPages(ctx, e)
	if err != nil {
		return err
	}
	defer srv.stop()
	if err := srv.signIn(listsEmail, listsPassword); err != nil {
		return err
	}
	for _, op := range ops {
		progress("page: GET %s, %d + %d runs", op.path, listsWarmup, listsRuns)
		if op.httpT, op.bytes, err = srv.timeGet(op.path); err != nil {
			return fmt.Errorf("%s: %w", op.name, err)
		}
		progress("  %d bytes, p50 %s, p95 %s", op.bytes, ms(op.httpT.pct(0.5)), ms(op.httpT.pct(0.95)))
	}
	reportLists(e, d, genTime, ops)
	return nil
}

// listOp is one list timed as a service call and as a page.
type listOp struct {
	name     string
	path     string
	call     func() (rows int, err error)
	rows     int
	bytes    int
	serviceT timings
	httpT    timings
}

// timeCall runs call listsWarmup times unmeasured, then listsRuns times
// measured, and keeps the number of rows of the last run.
func timeCall(call func() (int, error), rows *int) (timings, error) {
	run := func() error {
		n, err := call()
		*rows = n
		return err
	}
	if _, err := measure(listsWarmup, run); err != nil {
		return nil, err
	}
	return measure(listsRuns, run)
}

// generateLists loads the tenant's data. Ids follow time, as in a real
// database: customer k is '+1777' and k in 7 digits; case k (1 … 1,000,000)
// belongs to customer k mod 200,000, and the cases are
//   - ended for k ≤ 997,000, last activity spread over the two years before
//     now: 60 % in the admin's group (Support), 25 % Sales, 15 % Billing;
//     70 % solved, 15 % closed, 10 % pending, 5 % open; nine in ten assigned;
//   - live for the last 3,000: 2,000 in Support, 1,000 in the others, last
//     activity in the last 10 minutes, half assigned, a third unread. The
//     first of them, assigned to the admin, is the large conversation.
//
// Messages: 3 to 17 per case (10 on average; the large conversation
// listsLargeChat): the "Chat started" event, then customer and agent
// messages in turn with now and then a note, and for an ended case the
// "Chat ended" event. Within a chunk of cases they are inserted in time
// order, so that ids follow time and the messages of chats open at the same
// time interleave on disk, as they do when they arrive.
func generateLists(ctx context.Context, databaseURL string, conn *pgx.Conn, admin tenant.Agent) error {
	now := time.Now().UTC()
	args := pgx.NamedArgs{
		"tenant": admin.TenantID, "admin": admin.ID, "now": now, "cases": listsCases, "live": listsLive,
		"live_own": listsLiveOwn, "clients": listsClients, "agents": listsAgents, "large_n": listsLargeChat,
		"live_step":  590.0 / listsLive,
		"ended_step": (2*365*86400.0 - 3600) / (listsCases - listsLive),
	}
	setup := []struct{ what, sql string }{
		{"groups", `INSERT INTO groups (tenant_id, name) VALUES (@tenant, 'Sales'), (@tenant, 'Billing')`},
		// The groups by index: 0 Support (SignUp's, the admin's), 1 Sales, 2 Billing.
		{"", `CREATE TEMP TABLE lists_g ON COMMIT DROP AS
			SELECT (row_number() OVER (ORDER BY id) - 1)::int AS idx, id, '{}'::bigint[] AS agents FROM groups WHERE tenant_id = @tenant`},
		{"agents", `INSERT INTO agents (tenant_id, email, name, role, created_at)
			SELECT @tenant, 'lists-agent-' || lpad(i::text, 2, '0') || '@bench.parley.test',
				(ARRAY['Ana', 'Ben', 'Chloe', 'Dev', 'Eli', 'Fay', 'Gus', 'Hana', 'Ivo', 'Jun'])[1 + i % 10] || ' ' ||
				(ARRAY['Silva', 'Okafor', 'Novak', 'Reyes', 'Tanaka'])[1 + i % 5] || ' ' || i,
				'agent', @now::timestamptz - interval '2 years'
			FROM generate_series(1, @agents::int) i`},
		{"group members", `INSERT INTO group_members (tenant_id, group_id, agent_id)
			SELECT @tenant, g.id, a.id FROM agents a
			JOIN lists_g g ON g.idx = CASE WHEN substr(a.email, 13, 2)::int <= 10 THEN 0 WHEN substr(a.email, 13, 2)::int <= 15 THEN 1 ELSE 2 END
			WHERE a.tenant_id = @tenant AND a.email LIKE 'lists-agent-%'`},
		{"", `UPDATE lists_g g SET agents = (SELECT array_agg(agent_id ORDER BY agent_id) FROM group_members m WHERE m.group_id = g.id AND m.tenant_id = @tenant)`},
		{"integration", `INSERT INTO integrations (tenant_id, provider, webhook_token, account, credentials, credentials_hint, sender, default_group_id, created_at)
			SELECT @tenant::uuid, 'twilio', 'bench-lists-' || @tenant::uuid::text, 'AC' || repeat('7', 32), '\x00'::bytea, '••••',
				'+15550002222', id, @now::timestamptz - interval '2 years' FROM lists_g WHERE idx = 0`},
		{"clients", `INSERT INTO clients (tenant_id, name, whatsapp, created_channel, created_at, updated_at)
			SELECT @tenant,
				(ARRAY['Maria', 'José', 'Wei', 'Amina', 'Lukas', 'Priya', 'Omar', 'Sofia', 'Kenji', 'Zoe'])[1 + k % 10] || ' ' ||
				(ARRAY['García', 'Smith', 'Chen', 'Diallo', 'Müller', 'Patel', 'Haddad', 'Rossi', 'Sato', 'Brown', 'Kowalski'])[1 + (k / 10) % 11],
				'+1777' || lpad(k::text, 7, '0'), 'whatsapp',
				@now::timestamptz - interval '2 years' + make_interval(secs => k * 300), @now::timestamptz - interval '2 years' + make_interval(secs => k * 300)
			FROM generate_series(0, @clients::int - 1) k ORDER BY k`},
		{"", `CREATE TEMP TABLE lists_c ON COMMIT DROP AS
			SELECT id, substr(whatsapp, 6)::int AS number FROM clients WHERE tenant_id = @tenant`},
		{"", `CREATE UNIQUE INDEX ON lists_c (number)`},
		{"", `ANALYZE lists_g, lists_c, clients`},
		{"cases", `INSERT INTO cases (tenant_id, number, client_id, integration_id, channel, group_id, assignee_id, state, status, preview, unread,
				created_at, last_activity_at, last_client_message_at, ended_at, ended_by)
			SELECT @tenant, k, cl.id, i.id, 'whatsapp', g.id,
				CASE WHEN s.live AND s.j = 0 THEN @admin::bigint
					WHEN (s.live AND s.j % 2 = 1) OR (NOT s.live AND k % 10 = 0) THEN NULL
					ELSE g.agents[1 + k % cardinality(g.agents)] END,
				CASE WHEN s.live THEN 'live' ELSE 'ended' END,
				CASE WHEN s.live THEN 'open'
					ELSE (ARRAY['solved', 'solved', 'solved', 'solved', 'solved', 'solved', 'solved', 'solved', 'solved', 'solved',
						'solved', 'solved', 'solved', 'solved', 'closed', 'closed', 'closed', 'pending', 'pending', 'open'])[1 + (k * 7) % 20] END,
				(ARRAY['Hi, where is my order?', 'Thanks, that worked 🙏', 'Can I change the delivery address?', 'ok',
					'The app says my payment failed but the money left my account.', 'Do you deliver on Saturdays?'])[1 + k % 6],
				CASE WHEN s.live AND s.j > 0 AND s.j % 3 = 0 THEN 1 + s.j % 4 ELSE 0 END,
				a.at - make_interval(mins => 5 + k % 115), a.at, a.at - make_interval(secs => (k % 5) * 30),
				CASE WHEN NOT s.live THEN a.at + CASE WHEN k % 3 = 0 THEN interval '10 minutes' ELSE interval '0' END END,
				CASE WHEN NOT s.live THEN CASE WHEN k % 3 = 0 THEN 'the idle timeout' ELSE 'an agent' END END
			FROM generate_series(1, @cases::int) k
			CROSS JOIN LATERAL (SELECT k > @cases::int - @live::int AS live, k - (@cases::int - @live::int) - 1 AS j) s
			CROSS JOIN LATERAL (SELECT
				CASE WHEN s.live THEN CASE WHEN s.j < @live_own::int THEN 0 ELSE 1 + s.j % 2 END
					ELSE CASE WHEN k % 20 < 12 THEN 0 WHEN k % 20 < 17 THEN 1 ELSE 2 END END AS gidx,
				CASE WHEN s.live THEN @now::timestamptz - make_interval(secs => (@live::int - s.j) * @live_step::float8)
					ELSE @now::timestamptz - interval '1 hour' - make_interval(secs => (@cases::int - @live::int - k) * @ended_step::float8) END AS at) a
			JOIN lists_g g ON g.idx = a.gidx
			JOIN lists_c cl ON cl.number = k % @clients::int
			CROSS JOIN (SELECT id FROM integrations WHERE tenant_id = @tenant) i
			ORDER BY k`},
		{"", `UPDATE tenants SET case_seq = @cases::int WHERE id = @tenant`},
		{"", `ANALYZE cases`},
	}
	err := pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
		for _, s := range setup {
			started := time.Now()
			tag, err := tx.Exec(ctx, s.sql, args)
			if err != nil {
				return fmt.Errorf("generate %s: %w", s.what, err)
			}
			if s.what != "" {
				progress("  %-14s %10d rows  %s", s.what, tag.RowsAffected(), time.Since(started).Round(time.Millisecond))
			}
		}
		return nil
	})
	if err != nil {
		return err
	}

	// The messages, a chunk of cases at a time (see loadChunks).
	const messages = `INSERT INTO messages (tenant_id, case_id, integration_id, direction, kind, agent_id, body, status, provider_message_id, created_at, updated_at)
		SELECT c.tenant_id, c.id,
			CASE WHEN r.role IN ('in', 'out') THEN c.integration_id END,
			CASE WHEN r.role IN ('in', 'out') THEN r.role ELSE 'internal' END,
			CASE WHEN r.role IN ('in', 'out') THEN 'text' WHEN r.role = 'note' THEN 'note' ELSE 'event' END,
			CASE WHEN r.role IN ('out', 'note') THEN coalesce(c.assignee_id, @admin::bigint) END,
			CASE r.role
				WHEN 'start' THEN 'Chat started on WhatsApp (+15550002222)'
				WHEN 'end' THEN 'Chat ended by ' || c.ended_by || ' · status ' || c.status
				WHEN 'note' THEN 'Customer called yesterday about the same order, see the previous case.'
				WHEN 'in' THEN (ARRAY['Hi, I ordered last week and the parcel still has not arrived. Can you check?',
					'My order number is 48213, the invoice shows the wrong address.', 'Is anyone there?', 'ok',
					'Can I change the size of the shoes I bought yesterday to 42?', 'Thanks, that worked 🙏'])[1 + (c.number + j) % 6]
				ELSE (ARRAY['Hello! Let me check that for you, one moment please.', 'I have updated the address on your order.',
					'The parcel is with the courier and should arrive tomorrow.', 'You are welcome, have a nice day!'])[1 + (c.number + j) % 4]
			END,
			CASE r.role WHEN 'in' THEN 'received' WHEN 'out' THEN 'read' ELSE 'none' END,
			CASE WHEN r.role IN ('in', 'out') THEN 'SM' || lpad(to_hex(c.number * 4096 + j), 32, '0') END,
			r.at, r.at
		FROM cases c
		CROSS JOIN LATERAL (SELECT CASE WHEN c.number = @large::int THEN @large_n::int ELSE 3 + c.number % 15 END AS n) cnt
		CROSS JOIN LATERAL generate_series(0, cnt.n - 1) j
		CROSS JOIN LATERAL (SELECT
			CASE WHEN j = 0 THEN 'start' WHEN c.state = 'ended' AND j = cnt.n - 1 THEN 'end'
				WHEN j % 13 = 6 THEN 'note' WHEN j % 2 = 1 THEN 'in' ELSE 'out' END AS role,
			CASE WHEN c.state = 'ended' AND j = cnt.n - 1 THEN c.ended_at
				ELSE c.created_at + (c.last_activity_at - c.created_at) * (j::float8 / greatest(cnt.n - 1, 1)) END AS at) r
		WHERE c.tenant_id = @tenant AND c.number BETWEEN @from::int AND @to::int
		ORDER BY r.at, c.number, j`
	args["large"] = listsCases - listsLive + 1
	if err := loadChunks(ctx, databaseURL, messages, args); err != nil {
		return err
	}
	return vacuumAnalyze(ctx, conn, "agents", "groups", "group_members", "clients", "cases", "messages")
}

// loadChunks runs the messages statement for every chunk of listsChunkCases
// cases, each chunk committed on its own, on one connection per CPU (the
// load is bound by Postgres's CPU, one core per connection), with every
// index of messages in place. It reports its progress on stderr.
func loadChunks(ctx context.Context, databaseURL, sql string, args pgx.NamedArgs) error {
	type chunk struct{ from, to int }
	chunks := make(chan chunk)
	go func() {
		defer close(chunks)
		for from := 1; from <= listsCases; from += listsChunkCases {
			select {
			case chunks <- chunk{from, min(from+listsChunkCases-1, listsCases)}:
			case <-ctx.Done():
				return
			}
		}
	}()
	var (
		mu        sync.Mutex
		rows      int64
		casesDone int
		firstErr  error
	)
	started := time.Now()
	var wg sync.WaitGroup
	for range max(1, min(runtime.NumCPU(), 4)) {
		wg.Go(func() {
			conn, err := ownerConn(ctx, databaseURL)
			if err == nil {
				defer conn.Close(context.Background())
			}
			for c := range chunks {
				if err != nil {
					continue // drain the chunks, so that the feeder ends
				}
				a := pgx.NamedArgs{"from": c.from, "to": c.to}
				for k, v := range args {
					a[k] = v
				}
				var tag pgconn.CommandTag
				if tag, err = conn.Exec(ctx, sql, a); err != nil {
					err = fmt.Errorf("generate messages of cases %d to %d: %w", c.from, c.to, err)
					continue
				}
				mu.Lock()
				rows += tag.RowsAffected()
				casesDone += c.to - c.from + 1
				elapsed := time.Since(started)
				left := time.Duration(float64(elapsed) * float64(listsCases-casesDone) / float64(casesDone))
				progress("  messages %10d rows (%3d %% of the cases)  %.0f rows/s, %s so far, about %s to go",
					rows, 100*casesDone/listsCases, float64(rows)/elapsed.Seconds(), elapsed.Round(time.Second), left.Round(time.Second))
				mu.Unlock()
			}
			if err != nil {
				mu.Lock()
				if firstErr == nil {
					firstErr = err
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if firstErr == nil {
		firstErr = ctx.Err()
	}
	return firstErr
}

// listsData is what the benchmark generated, counted in the database, and
// the positions it needs.
type listsData struct {
	cases, ended, live, liveOwn, clients, messages int64
	pending, open                                  int64
	largeID, largeMessages                         int64
	deep                                           conversation.Cursor // the last case of page listsDeepPages
	deepFirst                                      int64               // the first case of the page after
	casesBytes, messagesBytes                      int64
	sharedBuffers                                  string
}

func listsSizes(ctx context.Context, conn *pgx.Conn, tid uuid.UUID) (listsData, error) {
	var d listsData
	err := conn.QueryRow(ctx, `SELECT count(*), count(*) FILTER (WHERE state = 'ended'), count(*) FILTER (WHERE state = 'live'),
			count(*) FILTER (WHERE state = 'live' AND group_id = (SELECT min(id) FROM groups WHERE tenant_id = $1)),
			count(*) FILTER (WHERE state = 'ended' AND status = 'pending'), count(*) FILTER (WHERE state = 'ended' AND status = 'open')
		FROM cases WHERE tenant_id = $1`, tid).Scan(&d.cases, &d.ended, &d.live, &d.liveOwn, &d.pending, &d.open)
	if err != nil {
		return d, fmt.Errorf("count cases: %w", err)
	}
	if err := conn.QueryRow(ctx, `SELECT count(*) FROM clients WHERE tenant_id = $1`, tid).Scan(&d.clients); err != nil {
		return d, err
	}
	if err := conn.QueryRow(ctx, `SELECT count(*) FROM messages WHERE tenant_id = $1`, tid).Scan(&d.messages); err != nil {
		return d, err
	}
	err = conn.QueryRow(ctx, `SELECT c.id, (SELECT count(*) FROM messages m WHERE m.tenant_id = c.tenant_id AND m.case_id = c.id)
		FROM cases c WHERE c.tenant_id = $1 AND c.number = $2`, tid, listsCases-listsLive+1).Scan(&d.largeID, &d.largeMessages)
	if err != nil {
		return d, fmt.Errorf("find the large conversation: %w", err)
	}
	// The deep page's cursor, straight from SQL rather than by walking
	// 2,000 pages: the last case of page 2,000 in All cases' order.
	deep := `SELECT ended_activity_at, id FROM cases WHERE tenant_id = $1 AND state = 'ended'
		ORDER BY ended_activity_at DESC, id DESC OFFSET $2 LIMIT 1`
	if err := conn.QueryRow(ctx, deep, tid, listsDeepPages*listsPageSize-1).Scan(&d.deep.At, &d.deep.ID); err != nil {
		return d, fmt.Errorf("deep cursor: %w", err)
	}
	var at time.Time
	if err := conn.QueryRow(ctx, deep, tid, listsDeepPages*listsPageSize).Scan(&at, &d.deepFirst); err != nil {
		return d, fmt.Errorf("deep cursor: %w", err)
	}
	err = conn.QueryRow(ctx, `SELECT pg_total_relation_size('cases'), pg_total_relation_size('messages'), current_setting('shared_buffers')`).
		Scan(&d.casesBytes, &d.messagesBytes, &d.sharedBuffers)
	return d, err
}

// pages is Parley's whole handler served in-process, with a clock on it:
// every request's server time is measured around the handler (router,
// middleware, session, queries, templates), the network left out.
type pages struct {
	srv    *httptest.Server
	app    *app.App
	media  string
	took   chan time.Duration // the server time of each request, in order
	client *http.Client
}

func startPages(ctx context.Context, e *env) (*pages, error) {
	mediaDir, err := os.MkdirTemp("", "parley-bench-media-")
	if err != nil {
		return nil, err
	}
	p := &pages{media: mediaDir, took: make(chan time.Duration, 1)}
	var handler atomic.Value
	p.srv = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		started := time.Now()
		handler.Load().(http.Handler).ServeHTTP(w, r)
		select {
		case p.took <- time.Since(started):
		default: // a request nobody waits for (after a failed one): not kept
		}
	}))
	base := "http://" + p.srv.Listener.Addr().String()
	cfg := config.Config{
		DatabaseURL: e.AppURL, Addr: p.srv.Listener.Addr().String(), BaseURL: base, SecretKey: secretKey,
		LogLevel: slog.LevelWarn, LogFormat: "text", MediaURL: config.DirURL(mediaDir),
	}
	// No Start: pages need neither the job client nor the realtime hub,
	// and the idle sweep must not end the generated live chats.
	if p.app, err = app.New(ctx, app.Params{Config: cfg, Log: e.Log}); err != nil {
		p.srv.Close()
		os.RemoveAll(mediaDir)
		return nil, err
	}
	handler.Store(p.app.Handler)
	p.srv.Start()
	jar, _ := cookiejar.New(nil)
	p.client = &http.Client{
		Jar: jar, Timeout: 30 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	return p, nil
}

func (p *pages) stop() {
	p.srv.Close()
	p.app.Close()
	os.RemoveAll(p.media)
}

// signIn posts the login form; the session cookie stays in the client's jar.
func (p *pages) signIn(email, password string) error {
	resp, err := p.client.PostForm(p.srv.URL+"/login", url.Values{"email": {email}, "password": {password}})
	if err != nil {
		return err
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	<-p.took
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/" {
		return fmt.Errorf("sign in as %s: %s to %q", email, resp.Status, resp.Header.Get("Location"))
	}
	return nil
}

// timeGet fetches path listsWarmup times unmeasured, then listsRuns times
// measured, and returns the server times and the size of the page.
func (p *pages) timeGet(path string) (timings, int, error) {
	var size int
	get := func() (time.Duration, error) {
		resp, err := p.client.Get(p.srv.URL + path)
		if err != nil {
			return 0, err
		}
		b, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		took := <-p.took // sent when the handler returned, before the body ended
		if err != nil {
			return 0, err
		}
		if resp.StatusCode != http.StatusOK {
			return 0, fmt.Errorf("GET %s: %s", path, resp.Status)
		}
		size = len(b)
		return took, nil
	}
	for range listsWarmup {
		if _, err := get(); err != nil {
			return nil, 0, err
		}
	}
	t := make(timings, 0, listsRuns)
	for range listsRuns {
		d, err := get()
		if err != nil {
			return nil, 0, err
		}
		t = append(t, d)
	}
	return t, size, nil
}

func reportLists(e *env, d listsData, genTime time.Duration, ops []*listOp) {
	w := e.Out
	fmt.Fprintf(w, "### lists: Chats list and All cases at %s cases and %s messages in one tenant\n\n", thousands(d.cases), thousands(d.messages))
	fmt.Fprintf(w, "Data (generated in SQL in %s, not timed, messages loaded with their indexes in place, then VACUUM ANALYZE): "+
		"one tenant with %s customers and %s cases — %s ended over two years (%s pending, %s open), %s live chats of which %s "+
		"in the signed-in agent's group — and %s messages (3 to 17 per case, 10 on average; the large conversation %s). "+
		"cases %s, messages %s on disk with their indexes; shared_buffers %s.\n\n",
		genTime.Round(time.Second), thousands(d.clients), thousands(d.cases), thousands(d.ended), thousands(d.pending), thousands(d.open),
		thousands(d.live), thousands(d.liveOwn), thousands(d.messages), thousands(d.largeMessages),
		mb(d.casesBytes), mb(d.messagesBytes), d.sharedBuffers)
	fmt.Fprintf(w, "Each list %d times after %d unmeasured: **service** is the `conversation.Service` call (`LiveChats`, `Cases` "+
		"with %d a page, `Messages`) on the application's pool; **page** is the server time of `GET` through Parley's whole handler "+
		"(router, session, the page's queries, templates), measured around the handler of an in-process server, signed in through "+
		"`/login`. The deep page follows a keyset cursor taken from SQL at the last case of page %s.\n\n",
		listsRuns, listsWarmup, listsPageSize, thousands(listsDeepPages))
	fmt.Fprintln(w, "| list | rows | service p50 | service p95 | service max | page | page p50 | page p95 | page max | goal p95 < 30 ms |")
	fmt.Fprintln(w, "|---|---:|---:|---:|---:|---|---:|---:|---:|---|")
	for _, op := range ops {
		fmt.Fprintf(w, "| %s | %s | %s | %s | %s | `%s` %.0f kB | %s | %s | %s | %s |\n",
			op.name, thousands(int64(op.rows)), ms(op.serviceT.pct(0.5)), ms(op.serviceT.pct(0.95)), ms(op.serviceT.pct(1)),
			shortPath(op.path), float64(op.bytes)/1000, ms(op.httpT.pct(0.5)), ms(op.httpT.pct(0.95)), ms(op.httpT.pct(1)),
			goal(op.httpT.pct(0.95), listsGoal))
	}
	first, deep := ops[1], ops[2]
	fmt.Fprintf(w, "\nFlat: page %s against page 1, p95: %.2f× as a service call, %.2f× as a page.\n\n",
		thousands(listsDeepPages+1), float64(deep.serviceT.pct(0.95))/float64(first.serviceT.pct(0.95)),
		float64(deep.httpT.pct(0.95))/float64(first.httpT.pct(0.95)))
}

// shortPath keeps a path readable in the table: the cursor is long.
func shortPath(p string) string {
	if len(p) > 24 {
		return p[:22] + "…"
	}
	return p
}

// mb formats a size in megabytes.
func mb(b int64) string { return fmt.Sprintf("%s MB", thousands(b>>20)) }
