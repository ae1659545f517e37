// Package apptest starts the whole of Parley in-process for tests: a fresh
// migrated database, the real job client, the real router on a real port,
// and a headless Chromium driving it.
package apptest

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
	"os/exec"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"parley/internal/app"
	"parley/internal/clock"
	"parley/internal/config"
	"parley/internal/mailpit"
	"parley/internal/postgres"
	"parley/internal/postgres/pgtest"
)

// Env is a running Parley for one test.
type Env struct {
	URL   string
	App   *app.App
	DBURL string
	Clock clock.Clock
	Mail  *mailpit.Server // the mails Parley sent (see mail.go)

	streams *streamCut
}

// Options tune Start.
type Options struct {
	Clock   clock.Clock
	Sandbox bool
	// DBURL reuses an existing migrated database (two replicas on one
	// database); empty makes a fresh one.
	DBURL string
	// Transport carries provider API calls to the test's own simulators.
	Transport http.RoundTripper
	// JobTimeout and RescueAfter shorten the jobs' timings (crash tests).
	JobTimeout, RescueAfter time.Duration
	// SweepBudget shortens how long one media sweep job lists (a store
	// swept in parts).
	SweepBudget time.Duration
	// MediaURL is the attachment store (two replicas share one); empty
	// makes a directory of the test's own.
	MediaURL string
	// Log, when set, receives every log line (debug level and up, JSON
	// as in production) instead of the test's log: tests that read what
	// Parley logs.
	Log io.Writer
	// Configure, when set, changes the app's configuration before it
	// starts (an https base URL, proxy headers, a media link lifetime).
	Configure func(*config.Config)
}

// SecretKey seals the credentials of every test app: a replica a test
// starts itself must use it too.
const SecretKey = pgtest.SecretKey

// Start runs Parley on a random loopback port until the test ends.
func Start(t testing.TB, opts Options) *Env {
	t.Helper()
	ctx := context.Background()
	if opts.DBURL == "" {
		opts.DBURL = pgtest.URL(t)
	}
	if opts.Clock == nil {
		opts.Clock = clock.Real{}
	}
	if opts.MediaURL == "" {
		opts.MediaURL = config.DirURL(t.TempDir())
	}
	var handler atomic.Value
	streams := &streamCut{open: map[*context.CancelFunc]bool{}}
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/events" {
			r = streams.hold(r)
			defer streams.release(r)
		}
		handler.Load().(http.Handler).ServeHTTP(w, r)
	}))
	base := "http://" + srv.Listener.Addr().String()
	cfg := config.Config{
		DatabaseURL: pgtest.AppURL(opts.DBURL),
		Addr:        srv.Listener.Addr().String(),
		BaseURL:     base,
		SecretKey:   []byte(SecretKey),
		LogFormat:   "text",
		Sandbox:     opts.Sandbox,
		MediaURL:    opts.MediaURL,
	}
	mails := startMailpit(t)
	cfg.SMTPURL = mails.SMTPURL()
	if opts.Configure != nil {
		opts.Configure(&cfg)
	}
	log := slog.New(slog.NewTextHandler(newTestWriter(t), &slog.HandlerOptions{Level: slog.LevelWarn}))
	if opts.Log != nil {
		log = slog.New(slog.NewJSONHandler(opts.Log, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	if err := postgres.MigrateURL(ctx, opts.DBURL, log); err != nil {
		t.Fatal(err)
	}
	if err := postgres.Provision(ctx, opts.DBURL, cfg.DatabaseURL, cfg.SecretKey); err != nil {
		t.Fatal(err)
	}
	a, err := app.New(ctx, app.Params{Config: cfg, Log: log, Clock: opts.Clock, TestOnly: true,
		Transport: opts.Transport, JobTimeout: opts.JobTimeout, RescueAfter: opts.RescueAfter, SweepBudget: opts.SweepBudget})
	if err != nil {
		t.Fatal(err)
	}
	handler.Store(a.Handler)
	srv.Start()
	// Registered before Start, so that a start that fails halfway stops
	// what it started before the test ends.
	t.Cleanup(func() {
		srv.CloseClientConnections()
		srv.Close()
		stopCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = a.Stop(stopCtx)
		a.Close()
	})
	if err := a.Start(ctx); err != nil {
		t.Fatal(err)
	}
	return &Env{URL: base, App: a, DBURL: opts.DBURL, Clock: opts.Clock, Mail: mails, streams: streams}
}

// CutStreams cuts the pages' event streams and refuses new ones while
// during runs, as a network outage would: what happens meanwhile reaches
// a page only by its stream's catch-up once the browser reconnects.
func (e *Env) CutStreams(during func()) {
	e.streams.cut(true)
	defer e.streams.cut(false)
	during()
}

// streamCut tracks the open event streams of an Env to cut them.
type streamCut struct {
	mu   sync.Mutex
	down bool
	open map[*context.CancelFunc]bool
}

type streamKey struct{}

// hold registers an event stream; while the streams are cut it drops the
// connection unanswered, which the browser takes for a network error.
func (c *streamCut) hold(r *http.Request) *http.Request {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.down {
		panic(http.ErrAbortHandler)
	}
	ctx, cancel := context.WithCancel(r.Context())
	c.open[&cancel] = true
	return r.WithContext(context.WithValue(ctx, streamKey{}, &cancel))
}

func (c *streamCut) release(r *http.Request) {
	cancel := r.Context().Value(streamKey{}).(*context.CancelFunc)
	c.mu.Lock()
	delete(c.open, cancel)
	c.mu.Unlock()
	(*cancel)()
}

func (c *streamCut) cut(down bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.down = down
	if down {
		for cancel := range c.open {
			(*cancel)()
		}
	}
}

// testWriter sends the app's log lines to the test's log while the test
// runs, and drops those that background goroutines (a simulator's late
// status callback, say) write after it has ended: testing panics on a log
// after the end.
type testWriter struct {
	t    testing.TB
	mu   sync.Mutex
	done bool
}

func newTestWriter(t testing.TB) *testWriter {
	w := &testWriter{t: t}
	// Registered first, so it runs last, after the app has stopped.
	t.Cleanup(func() {
		w.mu.Lock()
		w.done = true
		w.mu.Unlock()
	})
	return w
}

func (w *testWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.done {
		w.t.Log(strings.TrimRight(string(p), "\n"))
	}
	return len(p), nil
}

// Client is an HTTP client with its own cookies that does not follow
// redirects, so tests see where the server sends them.
func (e *Env) Client() *http.Client {
	jar, _ := cookiejar.New(nil)
	return &http.Client{
		Jar:           jar,
		Timeout:       30 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// Post posts a form and returns the status, the Location and the body.
func (e *Env) Post(t testing.TB, c *http.Client, path string, form url.Values) (int, string, string) {
	t.Helper()
	resp, err := c.PostForm(e.URL+path, form)
	if err != nil {
		t.Fatalf("POST %s: %v", path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header.Get("Location"), string(b)
}

// Get fetches a page and returns the status and body.
func (e *Env) Get(t testing.TB, c *http.Client, path string) (int, string) {
	t.Helper()
	resp, err := c.Get(e.URL + path)
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// SignUp creates a tenant through the sign-up form and returns a client
// signed in as its admin.
func (e *Env) SignUp(t testing.TB, company, email string) *http.Client {
	t.Helper()
	c := e.Client()
	status, _, body := e.Post(t, c, "/signup", url.Values{
		"company": {company}, "name": {"Admin of " + company}, "email": {email}, "password": {"long enough password"},
	})
	if status != http.StatusOK || !strings.Contains(body, "Check your mail") {
		t.Fatalf("sign up %s: %d\n%s", email, status, body)
	}
	// The mail's link confirms the email and signs the new admin in.
	if status, body := e.Get(t, c, e.LinkIn(t, email, 1, "/verify/")); status != http.StatusSeeOther {
		t.Fatalf("confirm %s: %d\n%s", email, status, body)
	}
	return c
}

// browsers bounds how many Chromium processes run at once: on a 2-core
// machine more only make each slower. A test takes all the browsers it
// needs at once (under taking), so that two tests can never each hold one
// and wait for the other's.
var (
	browsers = make(chan struct{}, 2)
	taking   sync.Mutex
)

// Browser returns a chromedp context on a fresh headless Chromium, closed
// when the test ends. A missing browser fails the test: nothing is skipped.
func Browser(t testing.TB) context.Context {
	t.Helper()
	return Browsers(t, 1)[0]
}

// Browsers returns n browsers (at most 2), each a Chromium of its own: a
// background tab may be frozen, so each actor of a test gets one.
func Browsers(t testing.TB, n int) []context.Context {
	t.Helper()
	if n < 1 || n > cap(browsers) {
		t.Fatalf("apptest: %d browsers asked for, 1 to %d run at once", n, cap(browsers))
	}
	taking.Lock()
	for range n {
		browsers <- struct{}{}
	}
	taking.Unlock()
	t.Cleanup(func() {
		for range n {
			<-browsers
		}
	})
	out := make([]context.Context, n)
	for i := range out {
		out[i] = startBrowser(t)
	}
	return out
}

func startBrowser(t testing.TB) context.Context {
	t.Helper()
	path := ""
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			path = p
			break
		}
	}
	if path == "" {
		t.Fatal("no Chromium found: browser tests need it (make test installs Debian's chromium)")
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(path),
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-quic", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 900),
	)
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(actx)
	// Start the browser now, without a deadline (a deadline on the first
	// run would kill the browser when it passes).
	if err := chromedp.Do(ctx); err != nil {
		cancel()
		cancelAlloc()
		t.Fatalf("start chromium: %v", err)
	}
	t.Cleanup(func() { cancel(); cancelAlloc() })
	return ctx
}

// Step runs browser actions with a deadline, failing the test with what
// was being done.
func Step(t testing.TB, ctx context.Context, what string, actions ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	sctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := chromedp.Do(sctx, actions...); err != nil {
		shot := screenshot(ctx)
		t.Fatalf("browser: %s: %v%s", what, err, shot)
	}
}

// TextOf returns the visible text of the first element matching css.
func TextOf(t testing.TB, ctx context.Context, css string) string {
	t.Helper()
	sctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	s, err := chromedp.Run(sctx, chromedp.Text(chromedp.CSS(css)))
	if err != nil {
		t.Fatalf("browser: read %s: %v%s", css, err, screenshot(ctx))
	}
	return s
}

// screenshot saves the page when PARLEY_TEST_SCREENSHOTS names a directory,
// to see what the agent saw when a browser test failed.
func screenshot(ctx context.Context) string {
	dir := os.Getenv("PARLEY_TEST_SCREENSHOTS")
	if dir == "" {
		return ""
	}
	sctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	b, err := chromedp.Run(sctx, chromedp.FullScreenshot(100))
	if err != nil {
		return ""
	}
	f, err := os.CreateTemp(dir, "fail-*.png")
	if err != nil {
		return ""
	}
	defer f.Close()
	_, _ = f.Write(b)
	return " (screenshot: " + f.Name() + ")"
}

// Shot saves a screenshot named name when PARLEY_TEST_SCREENSHOTS names a
// directory, to look at what an agent sees.
func Shot(t testing.TB, ctx context.Context, name string) {
	t.Helper()
	dir := os.Getenv("PARLEY_TEST_SCREENSHOTS")
	if dir == "" {
		return
	}
	sctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	b, err := chromedp.Run(sctx, chromedp.FullScreenshot(100))
	if err == nil {
		_ = os.WriteFile(dir+"/"+name+".png", b, 0o644)
	}
}

// WaitText waits until the first element matching css contains want; live
// updates may replace the element meanwhile, so it reads it afresh.
func WaitText(t testing.TB, ctx context.Context, css, want string) {
	t.Helper()
	js := fmt.Sprintf(`(function(){var e=document.querySelector(%q);return e?e.textContent:""})()`, css)
	deadline := time.Now().Add(30 * time.Second)
	var got string
	for time.Now().Before(deadline) {
		sctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		got, _ = chromedp.Run(sctx, chromedp.Evaluate[string](js))
		cancel()
		if strings.Contains(got, want) {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("browser: %s shows %q, want %q%s", css, got, want, screenshot(ctx))
}
