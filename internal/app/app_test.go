package app_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"parley/internal/app"
	"parley/internal/config"
	"parley/internal/postgres"
	"parley/internal/postgres/pgtest"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

// TestNotReadyUntilDemoSeeded: in sandbox mode the server listens while
// Start seeds the demo tenant (seeding reaches the simulators over HTTP).
// In that window /readyz and /sandbox/info answer 503; once Start returns,
// 200 and the two demo integrations. The test holds seeding at its first
// call to a simulator, so the window is there for as long as it looks.
func TestNotReadyUntilDemoSeeded(t *testing.T) {
	ctx := context.Background()
	dbURL := pgtest.URL(t)
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	if err := postgres.MigrateURL(ctx, dbURL, log); err != nil {
		t.Fatal(err)
	}

	var (
		handler  http.Handler
		hold     sync.Once
		reached  = make(chan struct{})
		release  = make(chan struct{})
		released sync.Once
	)
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, "/sandbox/twilio/") || strings.HasPrefix(r.URL.Path, "/sandbox/1msg/") {
			hold.Do(func() { close(reached); <-release })
		}
		handler.ServeHTTP(w, r)
	}))
	base := "http://" + srv.Listener.Addr().String()
	a, err := app.New(ctx, app.Params{Log: log, TestOnly: true, Config: config.Config{
		DatabaseURL: pgtest.AppURL(dbURL), Addr: srv.Listener.Addr().String(), BaseURL: base,
		SecretKey: []byte(pgtest.SecretKey), Sandbox: true, MediaURL: config.DirURL(t.TempDir()),
	}})
	if err != nil {
		t.Fatal(err)
	}
	handler = a.Handler
	srv.Start()
	started := make(chan error, 1)
	t.Cleanup(func() {
		released.Do(func() { close(release) })
		<-started
		srv.Close()
		stopCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = a.Stop(stopCtx)
		a.Close()
	})
	go func() { started <- a.Start(ctx) }()

	get := func(path string) (int, string) {
		t.Helper()
		resp, err := http.Get(base + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}

	select {
	case <-reached:
	case err := <-started:
		started <- err
		t.Fatalf("Start returned (%v) without calling a simulator", err)
	}
	if status, body := get("/readyz"); status != http.StatusServiceUnavailable || !strings.Contains(body, "demo tenant is not seeded yet") {
		t.Errorf("/readyz while seeding: %d %q", status, body)
	}
	if status, body := get("/sandbox/info"); status != http.StatusServiceUnavailable || strings.Contains(body, "integrations") ||
		!strings.Contains(body, "demo tenant is not seeded yet") {
		t.Errorf("/sandbox/info while seeding: %d %q", status, body)
	}

	released.Do(func() { close(release) })
	err = <-started
	started <- err // for the cleanup
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	if status, body := get("/readyz"); status != http.StatusOK {
		t.Errorf("/readyz once seeded: %d %q", status, body)
	}
	status, body := get("/sandbox/info")
	var info struct {
		Integrations []struct{ Provider string }
	}
	if err := json.Unmarshal([]byte(body), &info); err != nil || status != http.StatusOK || len(info.Integrations) != 2 ||
		info.Integrations[0].Provider != "twilio" || info.Integrations[1].Provider != "onemsg" {
		t.Errorf("/sandbox/info once seeded: %d %q (%v)", status, body, err)
	}
}
