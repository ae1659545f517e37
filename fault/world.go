package main

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"parley/internal/app"
	"parley/internal/config"
	"parley/internal/postgres"
	"parley/internal/sandbox"
)

// world is everything a scenario runs against: a private Postgres, the
// provider simulators (in this process, so that killing a replica loses
// none of what the providers were told), a front door that routes the
// providers' webhooks to a live replica, and the Parley replicas, each a
// real `parley serve` process.
//
//	simulators ──webhook──▶ front door (this process) ──▶ replica 0 | replica 1
//	replicas ──API call──▶ front door /sandbox/… ──▶ simulators
//
// The replicas run with PARLEY_SANDBOX and PARLEY_BASE_URL set to the
// front door: their sandbox transport then sends every provider call to
// the front door's /sandbox/, which this process serves itself.
type world struct {
	dir      string
	bin      string
	pgDir    string
	dbURL    string // the schema owner's
	appURL   string // the serving role's
	baseURL  string // the front door: Parley's public URL
	secret   string
	sim      *sandbox.Sandbox
	pool     *pgxpool.Pool // superuser: counts across tenants
	app      *app.App      // in-process, never started: services to set data up, the router to walk
	replicas []*replica
	next     atomic.Uint64
	log      *slog.Logger

	twilioHook string // the demo Twilio integration's webhook URL (with its retry policy fragment)
	oneMsgHook string
	b          *other // the second tenant, once set up
}

// replica is one `parley serve` process.
type replica struct {
	w    *world
	n    int
	addr string // 127.0.0.1:port
	url  string
	mu   sync.Mutex
	cmd  *exec.Cmd
	done chan struct{}
	logf *os.File
}

func newWorld(ctx context.Context, dir, bin string, replicas int) (*world, error) {
	w := &world{dir: dir, bin: bin, pgDir: filepath.Join(dir, "pg"),
		log: slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelError}))}
	key := make([]byte, 32)
	_, _ = rand.Read(key)
	w.secret = hex.EncodeToString(key)

	progress("starting Postgres in %s", w.pgDir)
	c, err := postgres.StartCluster(ctx, w.pgDir, postgres.ClusterOptions{Database: "parley"})
	if err != nil {
		return nil, err
	}
	w.dbURL = c.URL("parley")
	if err := postgres.MigrateURL(ctx, w.dbURL, w.log); err != nil {
		return w, err
	}
	if w.pool, err = pgxpool.New(ctx, w.dbURL); err != nil {
		return w, err
	}
	// Parley logs in as the serving role, as in production; the ledger's
	// checks read every tenant as the owner.
	w.appURL = postgres.AppURL(w.dbURL, "parley_app")
	if err := postgres.Provision(ctx, w.dbURL, w.appURL, key); err != nil {
		return w, err
	}

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return w, err
	}
	w.baseURL = "http://" + ln.Addr().String()
	w.sim = sandbox.New(w.baseURL, w.log, time.Now)
	// The demo tenant's provider accounts exist before Parley connects them.
	w.sim.Twilio.AddAccount(sandbox.DemoTwilioAccountSID, sandbox.DemoTwilioAuthToken, "Parley sandbox")
	w.sim.Twilio.SeedDemoTemplates(sandbox.DemoTwilioAccountSID)
	w.sim.OneMsg.AddInstance(sandbox.DemoOneMsgInstance, sandbox.DemoOneMsgToken, sandbox.DemoOneMsgPhone)
	w.sim.OneMsg.SeedDemoTemplates(sandbox.DemoOneMsgInstance)
	go func() { _ = http.Serve(ln, w.frontDoor()) }()

	cfg := config.Config{DatabaseURL: w.appURL, BaseURL: w.baseURL, SecretKey: key, LogFormat: "text", MediaURL: config.DirURL(filepath.Join(dir, "media"))}
	if w.app, err = app.New(ctx, app.Params{Config: cfg, Log: w.log, Transport: w.sim.Transport()}); err != nil {
		return w, err
	}

	for i := range replicas {
		r, err := w.startReplica(ctx, i)
		if err != nil {
			return w, err
		}
		w.replicas = append(w.replicas, r)
		if i == 0 {
			// One at a time: the first seeds the demo tenant.
			if err := w.readDemo(ctx, r); err != nil {
				return w, err
			}
		}
	}
	return w, nil
}

// frontDoor serves the simulators under /sandbox/ and passes everything
// else to a live replica, round robin, trying the next one when a replica
// does not answer (it is being killed).
func (w *world) frontDoor() http.Handler {
	return http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, "/sandbox/") {
			w.sim.ServeHTTP(rw, r)
			return
		}
		body, err := io.ReadAll(r.Body)
		if err != nil {
			http.Error(rw, "front door: "+err.Error(), http.StatusBadRequest)
			return
		}
		start := int(w.next.Add(1))
		var lastErr error
		for i := range len(w.replicas) {
			rep := w.replicas[(start+i)%len(w.replicas)]
			target, _ := url.Parse(rep.url)
			failed := false
			p := httputil.NewSingleHostReverseProxy(target)
			p.ErrorHandler = func(_ http.ResponseWriter, _ *http.Request, err error) { failed, lastErr = true, err }
			r2 := r.Clone(r.Context())
			r2.Body = io.NopCloser(strings.NewReader(string(body)))
			r2.ContentLength = int64(len(body))
			p.ServeHTTP(rw, r2)
			if !failed {
				return
			}
		}
		http.Error(rw, fmt.Sprintf("front door: no replica answered: %v", lastErr), http.StatusBadGateway)
	})
}

func (w *world) startReplica(ctx context.Context, n int) (*replica, error) {
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	r := &replica{w: w, n: n, addr: "127.0.0.1:" + strconv.Itoa(port)}
	r.url = "http://" + r.addr
	if r.logf, err = os.Create(filepath.Join(w.dir, fmt.Sprintf("replica%d.log", n))); err != nil {
		return nil, err
	}
	return r, r.start(ctx)
}

// start runs `parley serve` and waits until it is ready.
func (r *replica) start(ctx context.Context) error {
	cmd := exec.Command(r.w.bin, "serve")
	cmd.Env = append(os.Environ(),
		"DATABASE_URL="+r.w.appURL,
		"PARLEY_ADDR="+r.addr,
		"PARLEY_BASE_URL="+r.w.baseURL,
		"PARLEY_SECRET_KEY="+r.w.secret,
		"PARLEY_SANDBOX=true",
		"PARLEY_LOG_LEVEL=warn",
		"PARLEY_LOG_FORMAT=text",
		"PARLEY_MEDIA_URL="+config.DirURL(filepath.Join(r.w.dir, "media")),
	)
	cmd.Stdout, cmd.Stderr = r.logf, r.logf
	fmt.Fprintf(r.logf, "---- start %s\n", time.Now().Format(time.RFC3339Nano))
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start replica %d: %w", r.n, err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	r.mu.Lock()
	r.cmd, r.done = cmd, done
	r.mu.Unlock()
	deadline := time.Now().Add(60 * time.Second)
	for {
		resp, err := http.Get(r.url + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case <-done:
			return fmt.Errorf("replica %d exited while starting; see %s", r.n, r.logf.Name())
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("replica %d not ready after 60 s; see %s", r.n, r.logf.Name())
		}
	}
}

// kill sends SIGKILL and waits for the process to be gone.
func (r *replica) kill() {
	r.mu.Lock()
	cmd, done := r.cmd, r.done
	r.mu.Unlock()
	if cmd == nil {
		return
	}
	_ = cmd.Process.Signal(syscall.SIGKILL)
	<-done
}

// stop ends the replica gracefully (SIGTERM), then kills it after 30 s.
func (r *replica) stop() {
	r.mu.Lock()
	cmd, done := r.cmd, r.done
	r.mu.Unlock()
	if cmd == nil {
		return
	}
	_ = cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		r.kill()
	}
}

// rssKB is the process's resident set (VmRSS) in KiB, 0 when unknown.
func (r *replica) rssKB() int {
	r.mu.Lock()
	cmd := r.cmd
	r.mu.Unlock()
	if cmd == nil {
		return 0
	}
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", cmd.Process.Pid))
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "VmRSS:"); ok {
			n, _ := strconv.Atoi(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")))
			return n
		}
	}
	return 0
}

// readDemo reads the demo integrations' webhook URLs from the replica's
// own /sandbox/info and registers the Twilio one with the simulator (1msg
// was told by Parley itself when it connected).
func (w *world) readDemo(ctx context.Context, r *replica) error {
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, r.url+"/sandbox/info", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	var info struct {
		Integrations []struct {
			Provider   string `json:"provider"`
			WebhookURL string `json:"webhook_url"`
		} `json:"integrations"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&info); err != nil {
		return fmt.Errorf("sandbox info: %w", err)
	}
	for _, ig := range info.Integrations {
		switch ig.Provider {
		case "twilio":
			w.twilioHook = ig.WebhookURL
		case "onemsg":
			w.oneMsgHook = ig.WebhookURL
		}
	}
	if w.twilioHook == "" || w.oneMsgHook == "" {
		return errors.New("sandbox info names no demo Twilio or 1msg webhook")
	}
	w.sim.Twilio.AddSender(sandbox.DemoTwilioAccountSID, sandbox.DemoTwilioSender, w.twilioHook)
	return nil
}

func (w *world) close() {
	for _, r := range w.replicas {
		r.stop()
		if r.logf != nil {
			r.logf.Close()
		}
	}
	if w.app != nil {
		w.app.Close()
	}
	if w.pool != nil {
		w.pool.Close()
	}
	if err := postgres.StopCluster(w.pgDir); err != nil {
		progress("stop Postgres: %v", err)
	}
}

// count runs a counting query across tenants.
func (w *world) count(ctx context.Context, q string, args ...any) int {
	var n int
	if err := w.pool.QueryRow(ctx, q, args...).Scan(&n); err != nil {
		progress("count %q: %v", q, err)
		return -1
	}
	return n
}

func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// progress reports what the suite is doing, on stderr.
func progress(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "%s  %s\n", time.Now().Format("15:04:05"), fmt.Sprintf(format, args...))
}
