package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"sync"
	"time"
)

// A closed-loop HTTP load generator, kept lean because it shares the CPUs
// with the server under test and with Postgres: each worker owns one
// keep-alive connection, sends a pre-built request, waits for the answer,
// records how long it took and sends the next. Nothing is built, encoded or
// signed inside the loop; the request bodies come ready from a corpus.

// payload is one pre-built request: a form body and the headers that go
// with it.
type payload struct {
	body      []byte
	signature string // X-Twilio-Signature; targets that do not check it ignore it
}

// target is one HTTP endpoint under load, with its own clients (one per
// worker) that live across phases so connections stay open from warm-up to
// measurement.
type target struct {
	name    string
	url     string
	next    func() payload // called concurrently by the workers
	clients []*http.Client
}

func newTarget(name, url string, conns int, next func() payload) *target {
	t := &target{name: name, url: url, next: next}
	for range conns {
		t.clients = append(t.clients, &http.Client{
			Timeout: 30 * time.Second,
			Transport: &http.Transport{
				DialContext:         (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
				MaxIdleConns:        conns,
				MaxIdleConnsPerHost: conns,
				IdleConnTimeout:     2 * time.Minute,
				DisableCompression:  true,
			},
		})
	}
	return t
}

// close drops the target's idle connections.
func (t *target) close() {
	for _, c := range t.clients {
		c.CloseIdleConnections()
	}
}

// result is what one phase of load measured.
type result struct {
	target  string
	round   int
	elapsed time.Duration   // from the first request sent to the last answer received
	lat     []time.Duration // latency of every 200 answer, sorted
	errors  int             // non-200 answers and transport errors
	reasons map[string]int  // why, e.g. "status 500" or the transport error
}

// ok is the number of requests answered 200.
func (r result) ok() int { return len(r.lat) }

// rate is 200 answers per second.
func (r result) rate() float64 { return float64(r.ok()) / r.elapsed.Seconds() }

// pct is the q-quantile (0 < q ≤ 1) of the 200 answers' latency.
func (r result) pct(q float64) time.Duration {
	if len(r.lat) == 0 {
		return 0
	}
	i := int(float64(len(r.lat))*q+0.5) - 1
	return r.lat[max(0, min(i, len(r.lat)-1))]
}

// merge combines the rounds of one target: requests and time add up, and the
// percentiles are those of all requests together.
func merge(name string, rs []result) result {
	m := result{target: name, reasons: map[string]int{}}
	for _, r := range rs {
		m.elapsed += r.elapsed
		m.lat = append(m.lat, r.lat...)
		m.errors += r.errors
		for k, v := range r.reasons {
			m.reasons[k] += v
		}
	}
	slices.Sort(m.lat)
	return m
}

// run loads the target with one worker per client for d: each worker sends
// requests back to back until d has passed, then finishes the one in flight.
func (t *target) run(ctx context.Context, d time.Duration) result {
	type tally struct {
		lat     []time.Duration
		errors  int
		reasons map[string]int
	}
	tallies := make([]tally, len(t.clients))
	var wg sync.WaitGroup
	start := time.Now()
	deadline := start.Add(d)
	for i, client := range t.clients {
		tl := &tallies[i]
		tl.lat = make([]time.Duration, 0, 4096)
		tl.reasons = map[string]int{}
		wg.Go(func() {
			for ctx.Err() == nil && time.Now().Before(deadline) {
				p := t.next()
				req, err := http.NewRequestWithContext(ctx, http.MethodPost, t.url, bytes.NewReader(p.body))
				if err != nil {
					panic(err) // the URL is ours: cannot happen
				}
				req.Header["Content-Type"] = []string{"application/x-www-form-urlencoded"}
				req.Header["X-Twilio-Signature"] = []string{p.signature}
				sent := time.Now()
				resp, err := client.Do(req)
				if err != nil {
					tl.errors++
					tl.reasons[err.Error()]++
					continue
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				took := time.Since(sent)
				if resp.StatusCode != http.StatusOK {
					tl.errors++
					tl.reasons[fmt.Sprintf("status %d", resp.StatusCode)]++
					continue
				}
				tl.lat = append(tl.lat, took)
			}
		})
	}
	wg.Wait()
	r := result{target: t.name, elapsed: time.Since(start), reasons: map[string]int{}}
	for _, tl := range tallies {
		r.lat = append(r.lat, tl.lat...)
		r.errors += tl.errors
		for k, v := range tl.reasons {
			r.reasons[k] += v
		}
	}
	slices.Sort(r.lat)
	return r
}

// ms formats a latency in milliseconds.
func ms(d time.Duration) string { return fmt.Sprintf("%.2f ms", float64(d)/float64(time.Millisecond)) }
