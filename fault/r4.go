package main

import (
	"context"
	"fmt"
	"sync"
	"time"

	"parley/internal/sandbox"
)

// R4: the provider down (every API call answered 5xx) for a minute, then
// slow (2 s a call), then back, while agents reply: every reply accepted
// must reach the provider once, or be shown to the agent as failed, and
// none may stay queued.
func runR4(ctx context.Context, w *world, o options, r *row) error {
	down, slow, after, wait := 60*time.Second, 30*time.Second, 10*time.Second, 5*time.Minute
	if o.Short {
		down, slow, after, wait = 4*time.Second, 4*time.Second, 2*time.Second, 60*time.Second
	}
	_, chats, err := w.openChats(ctx, "444", 10)
	if err != nil {
		return err
	}
	a, err := login(ctx, w.baseURL, sandbox.DemoEmail, sandbox.DemoPassword)
	if err != nil {
		return err
	}
	defer w.sim.Twilio.SetFaults(sandbox.TwilioFaults{})
	var l ledger
	loadCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	wg.Go(func() { w.replyLoad(loadCtx, &l, a, chats, "R4 reply") })

	phase := func(name string, f sandbox.TwilioFaults, d time.Duration) int {
		l.mu.Lock()
		before := len(l.replies)
		l.mu.Unlock()
		progress("R4: provider %s for %s", name, d)
		w.sim.Twilio.SetFaults(f)
		select {
		case <-time.After(d):
		case <-ctx.Done():
		}
		l.mu.Lock()
		defer l.mu.Unlock()
		return len(l.replies) - before
	}
	inDown := phase("down (5xx)", sandbox.TwilioFaults{ServerErrorRate: 1}, down)
	inSlow := phase("slow (2 s a call)", sandbox.TwilioFaults{Latency: 2 * time.Second}, slow)
	back := time.Now()
	inBack := phase("back", sandbox.TwilioFaults{}, after)
	cancel()
	wg.Wait()
	if ctx.Err() != nil {
		return ctx.Err()
	}

	lost, reached, twice, pending, failed, err := w.check(ctx, &l, wait)
	if err != nil {
		return err
	}
	recovered := time.Since(back).Round(time.Second)
	shown := 0
	for _, n := range failed {
		shown += n
	}
	_ = lost // no inbound load here
	accepted := len(uniq(l.replies))
	r.add("replies accepted", fmt.Sprintf("%d (%d while down, %d while slow, %d after)", accepted, inDown, inSlow, inBack))
	if len(l.rrefused) > 0 {
		r.add("replies refused", fmt.Sprint(l.rrefused))
	}
	r.add("reached the provider", reached)
	if pending == 0 {
		r.add("all out within", fmt.Sprintf("%s of the provider's return", recovered))
	}
	r.zero("twice", twice)
	r.add("failures shown to agents", shown)
	if len(failed) > 0 {
		r.add("as", fmt.Sprint(failed))
	}
	r.add("at the provider but shown queued (status callback lost)", w.unstatused(ctx, &l))
	r.zero(fmt.Sprintf("still queued %s after the provider came back", wait), pending)
	r.zero("accepted and neither sent nor shown as failed", accepted-reached-shown-pending)
	return nil
}
