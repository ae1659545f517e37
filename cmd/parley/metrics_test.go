package main

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"testing"

	"parley/internal/config"
	"parley/internal/postgres/pgtest"
)

// With PARLEY_METRICS_ADDR, /metrics is served on that listener only: the
// public address answers 404 for it, and the metrics listener serves
// nothing else. River's queue depth is there from the start.
func TestMetricsOnTheirOwnListener(t *testing.T) {
	free, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	metricsAddr := free.Addr().String()
	free.Close()
	cfg := config.Config{
		DatabaseURL: pgtest.AppURL(pgtest.URL(t)), Addr: "127.0.0.1:0", BaseURL: "http://localhost", MetricsAddr: metricsAddr,
		SecretKey: []byte(pgtest.SecretKey), LogFormat: "text", MediaURL: config.DirURL(t.TempDir()),
	}
	ctx, cancel := context.WithCancel(context.Background())
	addrc := make(chan string, 1)
	done := make(chan error, 1)
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	go func() { done <- serve(ctx, cfg, log, func(addr string) { addrc <- addr }) }()
	t.Cleanup(func() {
		cancel()
		<-done
	})
	var public string
	select {
	case public = <-addrc:
	case err := <-done:
		done <- err // for the cleanup
		t.Fatalf("serve: %v", err)
	}
	get := func(url string) (int, string) {
		t.Helper()
		resp, err := http.Get(url)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if status, _ := get("http://" + public + "/metrics"); status != http.StatusNotFound {
		t.Errorf("public /metrics: %d, want 404", status)
	}
	if status, _ := get("http://" + public + "/healthz"); status != http.StatusOK {
		t.Errorf("public /healthz: %d", status)
	}
	if status, _ := get("http://" + metricsAddr + "/login"); status != http.StatusNotFound {
		t.Errorf("the metrics listener serves /login: %d", status)
	}
	status, body := get("http://" + metricsAddr + "/metrics")
	for _, want := range []string{`river_queue_jobs{queue="default",state="available"}`, `river_queue_jobs{queue="rules",state="retryable"}`, `river_jobs_total{kind="send_message",outcome="error"} 0`, "pgxpool_max_connections"} {
		if status != http.StatusOK || !strings.Contains(body, want) {
			t.Errorf("metrics listener: %d, no %s", status, want)
		}
	}
}
