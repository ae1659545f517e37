package httpserver_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/riverqueue/river"

	"parley/internal/app/apptest"
)

// httpSeries matches the http_request_duration_seconds series in a scrape.
var httpSeries = regexp.MustCompile(`(?m)^http_request_duration_seconds_count\{[^}]*\}`)

// Anyone can send any method name; labels come from closed sets, so
// random methods add no series (issue 22: 3,000 requests added 45,000).
func TestRandomMethodsAddNoMetricSeries(t *testing.T) {
	t.Parallel()
	env := apptest.Start(t, apptest.Options{})
	c := env.Client()
	send := func(method, path string) {
		req, _ := http.NewRequest(method, env.URL+path, nil)
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	paths := []string{"/login", "/nowhere", "/webhooks/1msg/x", "/static/app.css"}
	for _, p := range paths {
		send("WARMUP", p)
	}
	env.Get(t, c, "/metrics") // its own series, before counting
	_, before := env.Get(t, c, "/metrics")
	for i := range 300 {
		send(fmt.Sprintf("M%dX%d", i, rand.IntN(1e9)), paths[i%len(paths)])
	}
	_, after := env.Get(t, c, "/metrics")
	b, a := httpSeries.FindAllString(before, -1), httpSeries.FindAllString(after, -1)
	if len(a) != len(b) {
		t.Errorf("%d series before 300 random methods, %d after", len(b), len(a))
	}
	if !strings.Contains(after, `method="other"`) || strings.Contains(after, "WARMUP") || regexp.MustCompile(`method="M\d`).MatchString(after) {
		t.Errorf("a made-up method is a label:\n%s", strings.Join(a, "\n"))
	}
}

// River's queue depth is exported by queue and state from the start, and
// counts what waits: a job scheduled for tomorrow shows at once.
func TestQueueDepthIsAlwaysExported(t *testing.T) {
	t.Parallel()
	env := apptest.Start(t, apptest.Options{})
	c := env.Client()
	_, body := env.Get(t, c, "/metrics")
	for _, q := range []string{"default", "rules"} {
		for _, s := range []string{"available", "pending", "scheduled", "running", "retryable", "discarded"} {
			if want := fmt.Sprintf(`river_queue_jobs{queue=%q,state=%q}`, q, s); !strings.Contains(body, want) {
				t.Errorf("no %s", want)
			}
		}
	}
	if !strings.Contains(body, `river_jobs_total{kind="send_message",outcome="ok"} 0`) {
		t.Error("river_jobs_total has no series for sends before one ran")
	}
	if _, err := env.App.Jobs.Insert(context.Background(), purgeArgs{}, &river.InsertOpts{ScheduledAt: time.Now().Add(24 * time.Hour)}); err != nil {
		t.Fatal(err)
	}
	if _, body = env.Get(t, c, "/metrics"); !strings.Contains(body, `river_queue_jobs{queue="default",state="scheduled"} 1`) {
		t.Errorf("a scheduled job is not counted:\n%s", regexp.MustCompile(`(?m)^river_queue_jobs.*$`).FindAllString(body, -1))
	}
}
