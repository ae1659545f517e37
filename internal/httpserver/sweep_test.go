package httpserver_test

import (
	"crypto/rand"
	"encoding/hex"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"parley/internal/app/apptest"
	"parley/internal/config"
)

// The media sweep of a store too large for one job goes on in further
// jobs, each from the page where the last stopped, until every orphaned
// file is gone.
func TestMediaSweepGoesOnInFurtherJobs(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "media")
	tenantDir := filepath.Join(dir, uuid.NewString())
	if err := os.MkdirAll(tenantDir, 0o700); err != nil {
		t.Fatal(err)
	}
	old := time.Now().Add(-2 * time.Hour) // past the hour a row may take
	for range 1001 {                      // three pages of 500
		name := make([]byte, 16)
		_, _ = rand.Read(name)
		path := filepath.Join(tenantDir, hex.EncodeToString(name))
		if err := os.WriteFile(path, []byte("half a crash"), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Chtimes(path, old, old); err != nil {
			t.Fatal(err)
		}
	}
	// Each job lists one page, then queues the rest.
	env := apptest.Start(t, apptest.Options{MediaURL: config.DirURL(dir), SweepBudget: time.Nanosecond})
	left := func() int {
		files, err := os.ReadDir(tenantDir)
		if err != nil && !os.IsNotExist(err) {
			t.Fatal(err)
		}
		return len(files)
	}
	deadline := time.Now().Add(30 * time.Second)
	for left() > 0 {
		if time.Now().After(deadline) {
			t.Fatalf("%d orphaned files left after 30 s", left())
		}
		time.Sleep(50 * time.Millisecond)
	}
	// One job per page, each completed (River records completions in
	// batches, a moment later).
	jobs := func() int {
		var n int
		if err := env.App.DB.InSystem(t.Context(), func(tx pgx.Tx) error {
			return tx.QueryRow(t.Context(), `SELECT count(*) FROM river_job WHERE kind = 'sweep_media' AND state = 'completed'`).Scan(&n)
		}); err != nil {
			t.Fatal(err)
		}
		return n
	}
	eventually(t, "three sweep jobs completed", func() bool { return jobs() >= 3 })
}
