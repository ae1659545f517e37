package auth_test

import (
	"context"
	"testing"
	"time"

	"parley/internal/auth"
	"parley/internal/clock"
	"parley/internal/postgres/pgtest"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

// Wrong passwords count per key until a sign-in clears them; the waits
// double from the sixth; the purge forgets a count an hour old whose wait
// is over, and the limits' counts once three hours old.
func TestThrottleCountsWaitsAndForgets(t *testing.T) {
	ctx := context.Background()
	db, _ := pgtest.New(t)
	clk := clock.NewFake(time.Now().Truncate(time.Microsecond)) // as Postgres keeps it
	th := auth.NewThrottle(db, clk)
	var waits []time.Duration
	for range auth.LoginFreeFailures + 2 {
		w, err := th.LoginFailed(ctx, "203.0.113.5\x00ada@acme.test")
		if err != nil {
			t.Fatal(err)
		}
		waits = append(waits, w)
	}
	if got := waits[auth.LoginFreeFailures-2:]; got[0] != 0 || got[1] != time.Second || got[2] != 2*time.Second || got[3] != 4*time.Second {
		t.Fatalf("waits %v, want 0 until the fifth failure, then 1 s, 2 s, 4 s", waits)
	}
	if w, err := th.LoginWait(ctx, "203.0.113.5\x00ada@acme.test"); err != nil || w != 4*time.Second {
		t.Fatalf("wait %s %v, want 4 s", w, err)
	}
	if w, err := th.LoginWait(ctx, "198.51.100.7\x00ada@acme.test"); err != nil || w != 0 {
		t.Fatalf("another address waits %s %v", w, err)
	}
	if err := th.LoginSucceeded(ctx, "203.0.113.5\x00ada@acme.test"); err != nil {
		t.Fatal(err)
	}
	if w, _ := th.LoginFailed(ctx, "203.0.113.5\x00ada@acme.test"); w != 0 {
		t.Fatalf("after a sign-in the first wrong password waits %s", w)
	}

	counter := th.Counter("signup")
	old := time.Now().Add(-4 * time.Hour).Truncate(time.Hour)
	for _, window := range []time.Time{old, time.Now().Truncate(time.Hour)} {
		if err := counter.Increment("ip:203.0.113.9", window); err != nil {
			t.Fatal(err)
		}
	}
	if cur, prev, err := th.Counter("login").Get("ip:203.0.113.9", time.Now().Truncate(time.Hour), old); err != nil || cur != 0 || prev != 0 {
		t.Fatalf("another limit sees counts %d, %d (%v)", cur, prev, err)
	}
	if n, err := th.PurgeExpired(ctx); err != nil || n != 1 {
		t.Fatalf("purge now: %d %v, want the old window alone", n, err)
	}
	clk.Advance(2 * time.Hour)
	if n, err := th.PurgeExpired(ctx); err != nil || n != 1 {
		t.Fatalf("purge two hours on: %d %v, want the forgotten count", n, err)
	}
	if cur, _, err := counter.Get("ip:203.0.113.9", time.Now().Truncate(time.Hour), old); err != nil || cur != 1 {
		t.Fatalf("this hour's count after the purges: %d %v, want 1", cur, err)
	}
}
