package main

import (
	"bufio"
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"parley/internal/postgres"
	"parley/internal/sandbox"
)

// R5: Postgres stopped and started again while customers write and agents
// reply, the replicas left running: while it is down they must refuse
// (so that the provider retries) rather than acknowledge, everything
// acknowledged must be stored, and they must recover, event streams
// included, without being restarted.
func runR5(ctx context.Context, w *world, o options, r *row) error {
	before, outage, afterLoad, wait := 10*time.Second, 15*time.Second, 10*time.Second, 3*time.Minute
	if o.Short {
		before, outage, afterLoad, wait = 2*time.Second, 3*time.Second, 3*time.Second, 30*time.Second
	}
	customers, chats, err := w.openChats(ctx, "555", 10)
	if err != nil {
		return err
	}
	a, err := login(ctx, w.baseURL, sandbox.DemoEmail, sandbox.DemoPassword)
	if err != nil {
		return err
	}

	// An agent's page open on each replica, its event stream reconnecting
	// as a browser's EventSource does.
	streamCtx, stopStreams := context.WithCancel(ctx)
	defer stopStreams()
	streams := make([]*sseStream, len(w.replicas))
	for i, rep := range w.replicas {
		streams[i] = &sseStream{}
		go streams[i].follow(streamCtx, a.on(rep.url), fmt.Sprintf("/events?case=%d", chats[0]))
	}

	// Customers write straight to the replicas (signed, as Twilio does),
	// so that every answer is seen; agents reply through the front door.
	var l ledger
	var down atomic.Bool
	var refusedDown, ackedDown, errDown atomic.Int64
	loadCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	for g := range 2 {
		wg.Go(func() {
			for i := 0; loadCtx.Err() == nil; i++ {
				sid := newSid()
				form := twilioInbound(sid, customers[(i+g)%len(customers)], sandbox.DemoTwilioSender, fmt.Sprintf("R5 in %d-%d", g, i))
				st, err := postTwilio(context.WithoutCancel(loadCtx), w.replicas[(i+g)%len(w.replicas)].url, hookPath(w.twilioHook), form, sandbox.DemoTwilioAuthToken, w.twilioHook)
				isDown := down.Load()
				l.mu.Lock()
				l.tried++
				if err == nil && st == http.StatusOK {
					l.inbound = append(l.inbound, sid)
				}
				l.mu.Unlock()
				if isDown {
					switch {
					case err != nil:
						errDown.Add(1)
					case st == http.StatusOK:
						ackedDown.Add(1)
					default:
						refusedDown.Add(1)
					}
				}
				time.Sleep(20 * time.Millisecond)
			}
		})
	}
	wg.Go(func() { w.replyLoad(loadCtx, &l, a, chats, "R5 reply") })

	sleep(ctx, before)
	progress("R5: stopping Postgres for %s", outage)
	down.Store(true)
	if err := postgres.StopCluster(w.pgDir); err != nil {
		cancel()
		wg.Wait()
		return fmt.Errorf("stop Postgres: %w", err)
	}
	sleep(ctx, outage)
	if _, err := postgres.StartCluster(ctx, w.pgDir, postgres.ClusterOptions{Database: "parley"}); err != nil {
		cancel()
		wg.Wait()
		return fmt.Errorf("start Postgres again: %w", err)
	}
	up := time.Now()
	down.Store(false)
	progress("R5: Postgres is back")

	// Recovered: each replica acknowledges a webhook again.
	var recover time.Duration
	for _, rep := range w.replicas {
		for {
			sid := newSid()
			st, err := postTwilio(ctx, rep.url, hookPath(w.twilioHook), twilioInbound(sid, customers[0], sandbox.DemoTwilioSender, "R5 probe"), sandbox.DemoTwilioAuthToken, w.twilioHook)
			if err == nil && st == http.StatusOK {
				l.mu.Lock()
				l.inbound = append(l.inbound, sid)
				l.mu.Unlock()
				break
			}
			if time.Since(up) > 2*time.Minute || ctx.Err() != nil {
				cancel()
				wg.Wait()
				r.fail("replica %d not acknowledging webhooks 2 min after Postgres came back (%d, %v)", rep.n, st, err)
				return nil
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	recover = time.Since(up)
	sleep(ctx, afterLoad)
	cancel()
	wg.Wait()

	// The suite's own pool reconnects too.
	for range 50 {
		if _, err := w.pool.Exec(ctx, `SELECT 1`); err == nil {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}

	// A new message after the restart must reach every open page.
	marker := "R5marker" + randHex(4)
	for _, st := range streams {
		st.watch(marker)
	}
	if _, err := w.sim.Twilio.CustomerSends(ctx, sandbox.InboundMessage{From: customers[0], To: sandbox.DemoTwilioSender, ProfileName: "Fault", Body: marker}); err != nil {
		return fmt.Errorf("customer writes after the restart: %w", err)
	}
	reconnected := 0
	deadline := time.Now().Add(30 * time.Second)
	for _, s := range streams {
		for !s.saw() && time.Now().Before(deadline) {
			time.Sleep(100 * time.Millisecond)
		}
		if s.saw() {
			reconnected++
		}
	}
	stopStreams()

	lost, reached, twice, pending, failed, err := w.check(ctx, &l, wait)
	if err != nil {
		return err
	}
	r.add("webhooks answered during the outage", fmt.Sprintf("%d refused, %d connection errors, %d acknowledged", refusedDown.Load(), errDown.Load(), ackedDown.Load()))
	r.add("webhooks acknowledged", len(uniq(l.inbound)))
	r.zero("acknowledged and lost", lost)
	r.add("replies accepted", len(uniq(l.replies)))
	if len(l.rrefused) > 0 {
		r.add("replies refused", fmt.Sprint(l.rrefused))
	}
	r.add("reached the provider", reached)
	r.zero("twice", twice)
	if len(failed) > 0 {
		r.add("shown to agents as", fmt.Sprint(failed))
	}
	r.add("at the provider but shown queued (status callback lost)", w.unstatused(ctx, &l))
	r.zero(fmt.Sprintf("still queued after %s", wait), pending)
	r.add("time to recover (no restart of Parley)", recover.Round(100*time.Millisecond))
	r.add("event streams reconnected", fmt.Sprintf("%d/%d", reconnected, len(streams)))
	r.zero("open pages not shown the next message", len(streams)-reconnected)
	return nil
}

func sleep(ctx context.Context, d time.Duration) {
	select {
	case <-time.After(d):
	case <-ctx.Done():
	}
}

// sseStream follows a server-sent event stream and reconnects after it
// ends, as EventSource does, watching for one text.
type sseStream struct {
	mu    sync.Mutex
	want  string
	found bool
	n     int // connections opened
}

// watch starts looking for marker in what arrives from now on.
func (s *sseStream) watch(marker string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.want, s.found = marker, false
}

func (s *sseStream) saw() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.found
}

func (s *sseStream) follow(ctx context.Context, a *agent, path string) {
	c := &http.Client{Jar: a.c.Jar, CheckRedirect: a.c.CheckRedirect} // no timeout: a stream
	for ctx.Err() == nil {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, a.base+path, nil)
		req.Header.Set("Accept", "text/event-stream")
		resp, err := c.Do(req)
		if err == nil {
			s.mu.Lock()
			s.n++
			s.mu.Unlock()
			if resp.StatusCode == http.StatusOK {
				sc := bufio.NewScanner(resp.Body)
				sc.Buffer(make([]byte, 1<<20), 16<<20)
				for sc.Scan() {
					s.mu.Lock()
					if s.want != "" && strings.Contains(sc.Text(), s.want) {
						s.found = true
					}
					s.mu.Unlock()
				}
			}
			resp.Body.Close()
		}
		sleep(ctx, time.Second) // EventSource's default retry is ~3 s; quicker here
	}
}
