package main

// Benchmark "webhook": how many inbound WhatsApp messages per second Parley's
// Twilio webhook stores, and how fast it answers, next to the floor that any
// Go + Postgres service on the same machine pays — a bare chi handler that
// parses the same form and does one pgx insert. The goal is at least
// half the bare handler's throughput at 16 concurrent connections.
//
// Both servers run in this process, on the same database, and are loaded
// with the same request bodies by the same generator, in alternating rounds
// (bare, parley, bare, parley, …) so that drift of the machine — other
// tenants of the VM, autovacuum, a growing messages table — falls on both.
//
// Parley's side is the whole of it: the real router and middleware, the
// integration looked up by its webhook token, the X-Twilio-Signature checked
// with the decrypted auth token, and the Receive transaction (client, live
// chat, message, chat preview, realtime notification), with River and the
// realtime listener running as in production. Afterwards the benchmark
// checks that every 200 stored exactly one inbound message.

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net"
	"net/http"
	"net/url"
	"os"
	"runtime"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"parley/internal/app"
	"parley/internal/config"
	"parley/internal/integration"
	"parley/internal/sandbox"
)

// emptyTwiML is what both servers answer: Twilio needs nothing more.
const emptyTwiML = `<?xml version="1.0" encoding="UTF-8"?><Response></Response>`

// secretKey encrypts the demo integration's credentials. It is fixed, not
// random, so that a second run on the same database can still open them.
var secretKey = []byte("parley-bench-secret-key-32-bytes")

func runWebhook(ctx context.Context, e *env) error {
	o := e.Opts

	progress("starting Parley (sandbox mode, demo tenant)")
	p, err := startParley(ctx, e)
	if err != nil {
		return err
	}
	defer p.stop()

	maxConns := p.app.DB.Pool.Config().MaxConns
	progress("starting the bare handler (pgxpool of %d connections, like Parley's)", maxConns)
	bare, err := startBare(ctx, e.DatabaseURL, maxConns)
	if err != nil {
		return err
	}
	defer bare.stop()

	c, err := newCorpus(p.webhookURL, o.Customers)
	if err != nil {
		return err
	}
	// Bare cycles over the corpus, so it needs no more than a good spread;
	// Parley needs a fresh MessageSid for each request, so the corpus is
	// topped up before each of its phases (see phase below).
	c.grow(50_000)

	targets := []*target{
		newTarget("bare", bare.url, o.Conns, c.cycle),
		newTarget("parley", p.webhookURL, o.Conns, c.fresh),
	}
	defer func() {
		for _, t := range targets {
			t.close()
		}
	}()

	// Parley's next phase needs a fresh request for each it will answer:
	// expect its last phase's rate (before its first phase, the bare
	// handler's, an upper bound) with half as much again to spare.
	lastRate := map[string]float64{}
	expect := func(t *target) float64 {
		if r, ok := lastRate[t.name]; ok {
			return r
		}
		if r, ok := lastRate["bare"]; ok {
			return r
		}
		return 10_000
	}
	// phase runs one warm-up or measured phase and keeps the tallies the
	// final check needs (warm-ups store messages too).
	var parleyOK, parleyErrors, bareOK int
	phase := func(t *target, d time.Duration) result {
		if t.name == "parley" {
			c.ensureFresh(int(math.Ceil(expect(t)*d.Seconds()*1.5)) + 1000)
		}
		r := t.run(ctx, d)
		lastRate[t.name] = r.rate()
		if t.name == "parley" {
			parleyOK += r.ok()
			parleyErrors += r.errors
		} else {
			bareOK += r.ok()
		}
		return r
	}

	if parleyOK, parleyErrors, err = p.openChats(ctx, targets[1], c, e.DatabaseURL); err != nil {
		return err
	}
	var rounds []result
	for round := 1; round <= o.Rounds; round++ {
		for _, t := range targets {
			if o.Warmup > 0 {
				progress("%s round %d: warm-up %s", t.name, round, o.Warmup)
				w := phase(t, o.Warmup)
				progress("  %.0f req/s, %d errors (not counted)", w.rate(), w.errors)
			}
			progress("%s round %d: measuring %s", t.name, round, o.Duration)
			r := phase(t, o.Duration)
			r.round = round
			rounds = append(rounds, r)
			progress("  %.0f req/s, p50 %s, p99 %s, %d errors", r.rate(), ms(r.pct(0.5)), ms(r.pct(0.99)), r.errors)
			if err := ctx.Err(); err != nil {
				return err
			}
		}
	}

	progress("checking what was stored")
	chk, err := check(ctx, e.DatabaseURL, p.tenantID, c.sidPrefix)
	if err != nil {
		return err
	}
	chk.parleyOK, chk.parleyErrors, chk.bareOK = parleyOK, parleyErrors, bareOK
	chk.builtInWindow = c.overflow.Load()
	report(e, o, maxConns, c, rounds, chk)
	return nil
}

// parley is Parley running in this process, as `parley serve --sandbox` would.
type parley struct {
	app        *app.App
	srv        *http.Server
	mediaDir   string
	baseURL    string
	tenantID   uuid.UUID
	webhookURL string // the demo Twilio integration's webhook
}

// startParley serves Parley on a loopback port like apptest does, seeds the
// demo tenant with its sandbox Twilio integration and finds its webhook URL.
func startParley(ctx context.Context, e *env) (*parley, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	mediaDir, err := os.MkdirTemp("", "parley-bench-media-")
	if err != nil {
		ln.Close()
		return nil, err
	}
	addr := ln.Addr().String()
	cfg := config.Config{
		DatabaseURL: e.AppURL,
		Addr:        addr,
		BaseURL:     "http://" + addr,
		SecretKey:   secretKey,
		LogLevel:    slog.LevelWarn,
		LogFormat:   "text",
		Sandbox:     true,
		MediaURL:    config.DirURL(mediaDir),
	}
	a, err := app.New(ctx, app.Params{Config: cfg, Log: e.Log})
	if err != nil {
		ln.Close()
		os.RemoveAll(mediaDir)
		return nil, err
	}
	p := &parley{app: a, mediaDir: mediaDir, baseURL: cfg.BaseURL, srv: newServer(a.Handler)}
	go func() { _ = p.srv.Serve(ln) }()
	// Start seeds the demo integration over HTTP: the server must serve first.
	if err := a.Start(ctx); err != nil {
		p.stop()
		return nil, err
	}
	admin, err := a.Tenants.Authenticate(ctx, sandbox.DemoEmail, sandbox.DemoPassword)
	if err != nil {
		p.stop()
		return nil, fmt.Errorf("sign in as the demo admin: %w", err)
	}
	p.tenantID = admin.TenantID
	list, err := a.Integrations.List(ctx, admin.TenantID)
	if err != nil {
		p.stop()
		return nil, err
	}
	for _, ig := range list {
		if ig.Provider == integration.Twilio && ig.Account == sandbox.DemoTwilioAccountSID {
			p.webhookURL = a.Integrations.WebhookURL(ig)
		}
	}
	if p.webhookURL == "" {
		p.stop()
		return nil, errors.New("the demo tenant has no sandbox Twilio integration")
	}
	return p, nil
}

// openChats sends the customers' first messages (not measured) until each
// of them has a live chat: the rounds then measure the common case, a
// client writing in their chat. Opening a chat is rarer and costs more (a
// client, a case and its number, an event).
// Then it analyzes the database, as pgbench does after generating its
// data, and as autovacuum would have by then: plans made on tables still
// without statistics are not what a running Parley executes. It returns how
// many requests were answered 200 and how many not.
func (p *parley) openChats(ctx context.Context, t *target, c *corpus, databaseURL string) (ok, errs int, err error) {
	progress("opening a chat for each of the %d customers (not measured)", c.customers)
	start := time.Now()
	for {
		var live int
		err := p.app.DB.InTenant(ctx, p.tenantID, func(tx pgx.Tx) error {
			return tx.QueryRow(ctx, `SELECT count(*) FROM cases WHERE state = 'live'`).Scan(&live)
		})
		if err != nil {
			return ok, errs, err
		}
		if live >= c.customers {
			progress("  %d chats open after %s (%d requests, %d errors)", live, time.Since(start).Round(100*time.Millisecond), ok, errs)
			return ok, errs, analyze(ctx, databaseURL)
		}
		c.ensureFresh(c.customers * 4)
		r := t.run(ctx, time.Second)
		ok, errs = ok+r.ok(), errs+r.errors
	}
}

// analyze updates the planner's statistics of the whole database (on its
// own connection: the app's connections run as parley_app, which may not).
func analyze(ctx context.Context, databaseURL string) error {
	conn, err := pgx.Connect(ctx, databaseURL)
	if err != nil {
		return err
	}
	defer conn.Close(ctx)
	_, err = conn.Exec(ctx, "ANALYZE")
	return err
}

func (p *parley) stop() {
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	_ = p.srv.Shutdown(ctx)
	_ = p.app.Stop(ctx)
	p.app.Close()
	os.RemoveAll(p.mediaDir)
}

// newServer is an http.Server set up like `parley serve` sets up its own.
func newServer(h http.Handler) *http.Server {
	return &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 120 * time.Second}
}

// bareServer is the baseline: a chi router with one route that parses the
// form and does one insert through a pgxpool — no middleware, no signature,
// no tenant, no transaction.
type bareServer struct {
	url  string
	pool *pgxpool.Pool
	srv  *http.Server
}

func startBare(ctx context.Context, databaseURL string, maxConns int32) (*bareServer, error) {
	cfg, err := pgxpool.ParseConfig(databaseURL)
	if err != nil {
		return nil, err
	}
	cfg.MaxConns = maxConns
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, err
	}
	// A fresh table for every run, so the row count can be checked.
	if _, err := pool.Exec(ctx, `DROP TABLE IF EXISTS bench_bare;
		CREATE TABLE bench_bare (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, sid text NOT NULL, body text NOT NULL, created_at timestamptz NOT NULL)`); err != nil {
		pool.Close()
		return nil, fmt.Errorf("create bench_bare: %w", err)
	}
	r := chi.NewRouter()
	r.Post("/hook", func(w http.ResponseWriter, r *http.Request) {
		if err := r.ParseForm(); err != nil {
			http.Error(w, "malformed form", http.StatusBadRequest)
			return
		}
		if _, err := pool.Exec(r.Context(), `INSERT INTO bench_bare (sid, body, created_at) VALUES ($1, $2, now())`,
			r.PostForm.Get("MessageSid"), r.PostForm.Get("Body")); err != nil {
			http.Error(w, "temporary failure", http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "text/xml; charset=utf-8")
		_, _ = w.Write([]byte(emptyTwiML))
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		pool.Close()
		return nil, err
	}
	b := &bareServer{url: "http://" + ln.Addr().String() + "/hook", pool: pool, srv: newServer(r)}
	go func() { _ = b.srv.Serve(ln) }()
	return b, nil
}

func (b *bareServer) stop() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = b.srv.Shutdown(ctx)
	_, _ = b.pool.Exec(ctx, `DROP TABLE IF EXISTS bench_bare`)
	b.pool.Close()
}

// corpus holds the pre-built webhook requests: what Twilio would post for a
// customer's WhatsApp text to the demo sender, signed for Parley's webhook
// URL. Request i is a pure function of i, so the corpus can be built in
// parallel and, should a phase outrun it, extended on the spot (counted in
// overflow and reported, since that work then falls in the timed window).
//
// Between phases only the benchmark goroutine touches reqs; during a phase
// the workers only read it, so it needs no lock.
type corpus struct {
	webhookURL string
	sidPrefix  string // "SM" + 8 random hex digits: this run's MessageSids
	customers  int
	reqs       []payload
	nextFresh  atomic.Int64 // Parley: the first request never sent
	nextCycle  atomic.Int64 // bare: goes round the corpus
	overflow   atomic.Int64 // requests built inside a timed window
}

func newCorpus(webhookURL string, customers int) (*corpus, error) {
	var b [4]byte
	if _, err := rand.Read(b[:]); err != nil {
		return nil, err
	}
	return &corpus{webhookURL: webhookURL, sidPrefix: "SM" + hex.EncodeToString(b[:]), customers: customers}, nil
}

// texts are what the customers write.
var texts = []string{
	"Hi, I ordered last week and the parcel still has not arrived. Can you check?",
	"Hello! Do you deliver on Saturdays?",
	"My order number is 48213, the invoice shows the wrong address.",
	"Thanks, that worked 🙏",
	"Can I change the size of the shoes I bought yesterday to 42?",
	"Is anyone there?",
	"The app says my payment failed but the money left my account.",
	"ok",
}

// build makes request i: a unique MessageSid, one of the customers (spread
// by a hash of i, so each customer writes now and then, in one live chat
// per customer), and the signature Twilio would put on it.
func (c *corpus) build(i int64) payload {
	h := splitmix64(uint64(i))
	customer := int(h % uint64(c.customers))
	number := fmt.Sprintf("+1555%07d", 3_000_000+customer)
	sid := fmt.Sprintf("%s%024x", c.sidPrefix, i)
	form := url.Values{
		"SmsMessageSid":    {sid},
		"NumMedia":         {"0"},
		"ProfileName":      {fmt.Sprintf("Customer %04d", customer)},
		"MessageType":      {"text"},
		"SmsSid":           {sid},
		"WaId":             {number[1:]},
		"SmsStatus":        {"received"},
		"Body":             {texts[(h>>32)%uint64(len(texts))]},
		"To":               {"whatsapp:" + sandbox.DemoTwilioSender},
		"NumSegments":      {"1"},
		"ReferralNumMedia": {"0"},
		"MessageSid":       {sid},
		"AccountSid":       {sandbox.DemoTwilioAccountSID},
		"From":             {"whatsapp:" + number},
		"ApiVersion":       {"2010-04-01"},
	}
	return payload{
		body:      []byte(form.Encode()),
		signature: sandbox.SignTwilio(sandbox.DemoTwilioAuthToken, c.webhookURL, form),
	}
}

// grow builds requests up to n, on every CPU, before a phase starts.
func (c *corpus) grow(n int) {
	from := len(c.reqs)
	if n <= from {
		return
	}
	started := time.Now()
	c.reqs = slices.Grow(c.reqs, n-from)[:n]
	workers := runtime.GOMAXPROCS(0)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := from + w; i < n; i += workers {
				c.reqs[i] = c.build(int64(i))
			}
		})
	}
	wg.Wait()
	progress("  built %d signed requests in %s (outside the timed window)", n-from, time.Since(started).Round(time.Millisecond))
}

// ensureFresh makes sure at least n requests remain that Parley has not been sent.
func (c *corpus) ensureFresh(n int) { c.grow(int(c.nextFresh.Load()) + n) }

// fresh is the next request never sent to Parley: each MessageSid once.
func (c *corpus) fresh() payload {
	i := c.nextFresh.Add(1) - 1
	if i < int64(len(c.reqs)) {
		return c.reqs[i]
	}
	c.overflow.Add(1)
	return c.build(i)
}

// cycle goes round the corpus, for the bare handler, which does not care
// whether a MessageSid comes again.
func (c *corpus) cycle() payload {
	i := c.nextCycle.Add(1) - 1
	return c.reqs[i%int64(len(c.reqs))]
}

// meanBody is the mean size of a request body in bytes.
func (c *corpus) meanBody() int {
	n := min(len(c.reqs), 1000)
	total := 0
	for _, p := range c.reqs[:n] {
		total += len(p.body)
	}
	return total / max(n, 1)
}

// splitmix64 scatters consecutive integers (a fixed, well-mixed hash).
func splitmix64(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9
	x = (x ^ (x >> 27)) * 0x94d049bb133111eb
	return x ^ (x >> 31)
}

// stored is what the database holds after the run, next to what the load
// generator saw.
type stored struct {
	messages, distinctSIDs, chats, bareRows int64
	parleyOK, parleyErrors, bareOK          int
	builtInWindow                           int64
	chatUpdates, heapOnly                   int64 // cases rows updated, and of those heap-only (HOT)
}

// check counts the inbound messages with this run's MessageSids (as the
// DATABASE_URL role, which owns the tables, so row-level security does not
// hide them) and the bare handler's rows.
func check(ctx context.Context, databaseURL string, tenantID uuid.UUID, sidPrefix string) (stored, error) {
	var s stored
	conn, err := pgx.Connect(ctx, databaseURL)
	if err != nil {
		return s, err
	}
	defer conn.Close(ctx)
	err = conn.QueryRow(ctx, `SELECT count(*), count(DISTINCT provider_message_id), count(DISTINCT case_id)
		FROM messages WHERE tenant_id = $1 AND direction = 'in' AND provider_message_id LIKE $2`,
		tenantID, sidPrefix+"%").Scan(&s.messages, &s.distinctSIDs, &s.chats)
	if err != nil {
		return s, fmt.Errorf("count stored messages: %w", err)
	}
	if err := conn.QueryRow(ctx, `SELECT count(*) FROM bench_bare`).Scan(&s.bareRows); err != nil {
		return s, fmt.Errorf("count bench_bare: %w", err)
	}
	// The statistics of the whole run (a fresh database), as last reported
	// by the backends: they lag by up to a second.
	if err := conn.QueryRow(ctx, `SELECT n_tup_upd, n_tup_hot_upd FROM pg_stat_user_tables WHERE relname = 'cases'`).
		Scan(&s.chatUpdates, &s.heapOnly); err != nil {
		return s, fmt.Errorf("read the statistics of cases: %w", err)
	}
	return s, nil
}

// report writes the benchmark's markdown.
func report(e *env, o options, maxConns int32, c *corpus, rounds []result, s stored) {
	w := e.Out
	fmt.Fprintf(w, "### webhook: Twilio inbound webhook, %d connections\n\n", o.Conns)
	fmt.Fprintf(w, "Closed loop, %d keep-alive connections; each round %s warm-up (not counted) then %s measured; "+
		"targets alternate, %d rounds each. Both get the same bodies: signed Twilio WhatsApp inbound forms "+
		"(%d bytes on average) from %d customers, a unique MessageSid each.\n\n",
		o.Conns, o.Warmup, o.Duration, o.Rounds, c.meanBody(), o.Customers)
	fmt.Fprintf(w, "- **bare**: chi router, `POST /hook` → `ParseForm`, one pgx `INSERT`, empty TwiML; pgxpool of %d.\n", maxConns)
	fmt.Fprintf(w, "- **parley**: the whole app in-process (sandbox mode): middleware, integration by token, signature check, "+
		"`Receive` transaction, River and the realtime listener running; its default pgxpool of %d.\n\n", maxConns)
	fmt.Fprintln(w, "| target | round | requests | req/s | p50 | p90 | p99 | max | errors |")
	fmt.Fprintln(w, "|---|---:|---:|---:|---:|---:|---:|---:|---:|")
	row := func(r result, round string) {
		fmt.Fprintf(w, "| %s | %s | %d | %.0f | %s | %s | %s | %s | %d |\n",
			r.target, round, r.ok(), r.rate(), ms(r.pct(0.50)), ms(r.pct(0.90)), ms(r.pct(0.99)), ms(r.pct(1)), r.errors)
	}
	byTarget := map[string][]result{}
	for _, r := range rounds {
		row(r, strconv.Itoa(r.round))
		byTarget[r.target] = append(byTarget[r.target], r)
	}
	bare, parl := merge("**bare**", byTarget["bare"]), merge("**parley**", byTarget["parley"])
	row(bare, "all")
	row(parl, "all")

	ratio := parl.rate() / bare.rate()
	verdict := "met"
	if ratio < 0.5 {
		verdict = "not met"
	}
	fmt.Fprintf(w, "\n**parley / bare throughput: %.2f×** (goal ≥ 0.5×: %s); Parley's p50 is %.1f× and its p99 %.1f× the bare handler's.\n\n",
		ratio, verdict, float64(parl.pct(0.5))/float64(bare.pct(0.5)), float64(parl.pct(0.99))/float64(bare.pct(0.99)))
	fmt.Fprintln(w, "requests: answered 200; req/s: those per second of the round; p50…max: latency of those, from sending to the answer read; "+
		"errors: other statuses and transport errors; all: the rounds together.")
	fmt.Fprintln(w)

	ok := func(b bool) string {
		if b {
			return "ok"
		}
		return "**MISMATCH**"
	}
	fmt.Fprintf(w, "Check: Parley answered 200 to %d webhooks (warm-ups included; %d errors) and stored %d inbound messages "+
		"with this run's MessageSids (%d distinct), in %d chats: %s.\n",
		s.parleyOK, s.parleyErrors, s.messages, s.distinctSIDs, s.chats,
		ok(int64(s.parleyOK) == s.messages && s.messages == s.distinctSIDs))
	fmt.Fprintf(w, "Check: the bare handler answered 200 to %d requests and `bench_bare` has %d rows: %s.\n",
		s.bareOK, s.bareRows, ok(int64(s.bareOK) == s.bareRows))
	if s.chatUpdates > 0 {
		fmt.Fprintf(w, "Chat updates: %d, of which %.0f %% heap-only (no index entry written).\n",
			s.chatUpdates, 100*float64(s.heapOnly)/float64(s.chatUpdates))
	}
	if s.builtInWindow > 0 {
		fmt.Fprintf(w, "Note: Parley outran the pre-built corpus; %d requests were built inside a phase.\n", s.builtInWindow)
	}
	reasons := map[string]int{}
	for _, r := range rounds {
		for k, v := range r.reasons {
			reasons[r.target+": "+k] += v
		}
	}
	if len(reasons) > 0 {
		keys := make([]string, 0, len(reasons))
		for k := range reasons {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		fmt.Fprintln(w, "\nErrors in measured rounds:")
		for _, k := range keys {
			fmt.Fprintf(w, "- %s ×%d\n", k, reasons[k])
		}
	}
	fmt.Fprintln(w)
}
