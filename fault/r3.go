package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/http"
	"sync"
	"time"

	"parley/internal/sandbox"
)

// ledger is what the load generator knows Parley acknowledged: inbound
// webhooks answered 200 and replies answered 200.
type ledger struct {
	mu       sync.Mutex
	inbound  []string // MessageSids acknowledged
	tried    int
	replies  []string // reply bodies accepted
	rtried   int
	rrefused map[int]int
}

// inboundLoad makes customers write through the Twilio simulator (which
// posts to the front door and retries as Twilio does) until ctx ends; a
// message counts as acknowledged when the simulator got a 200 for it.
func (w *world) inboundLoad(ctx context.Context, l *ledger, customers []string, prefix string) {
	for i := 0; ctx.Err() == nil; i++ {
		sid, err := w.sim.Twilio.CustomerSends(context.WithoutCancel(ctx), sandbox.InboundMessage{
			From: customers[i%len(customers)], To: sandbox.DemoTwilioSender, ProfileName: "Load", Body: fmt.Sprintf("%s %d", prefix, i)})
		l.mu.Lock()
		l.tried++
		if err == nil {
			l.inbound = append(l.inbound, sid)
		}
		l.mu.Unlock()
		time.Sleep(10 * time.Millisecond)
	}
}

// replyLoad posts replies to the chats through the front door until ctx
// ends, each with an idempotency key and tried again on a broken
// connection, as the composer does.
func (w *world) replyLoad(ctx context.Context, l *ledger, a *agent, chats []int64, prefix string) {
	for i := 0; ctx.Err() == nil; i++ {
		body := fmt.Sprintf("%s %d %s", prefix, i, randHex(4))
		key := randHex(16)
		chat := chats[rand.IntN(len(chats))]
		for attempt := 0; attempt < 5 && ctx.Err() == nil; attempt++ {
			st, _, err := a.post(context.WithoutCancel(ctx), fmt.Sprintf("/chats/%d/reply", chat), map[string][]string{"body": {body}, "key": {key}})
			l.mu.Lock()
			l.rtried++
			if err == nil && st == http.StatusOK {
				l.replies = append(l.replies, body)
			} else if err == nil {
				if l.rrefused == nil {
					l.rrefused = map[int]int{}
				}
				l.rrefused[st]++
			}
			l.mu.Unlock()
			if err == nil && st < 500 {
				break
			}
			time.Sleep(100 * time.Millisecond)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// openChats makes n customers write and returns their chats.
func (w *world) openChats(ctx context.Context, prefix string, n int) ([]string, []int64, error) {
	var customers []string
	var chats []int64
	for i := range n {
		c := fmt.Sprintf("+1555%s%04d", prefix, i)
		id, err := w.demoChat(ctx, c)
		if err != nil {
			return nil, nil, err
		}
		customers, chats = append(customers, c), append(chats, id)
	}
	return customers, chats, nil
}

// check compares the ledger with the database and the simulator: every
// acknowledged message stored, every accepted reply at Twilio once.
func (w *world) check(ctx context.Context, l *ledger, pendingWait time.Duration) (lost, reached, twice, pending int, failed map[string]int, err error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := w.count(ctx, `SELECT count(DISTINCT provider_message_id) FROM messages WHERE provider_message_id = ANY($1)`, l.inbound)
	lost = len(uniq(l.inbound)) - n
	deadline := time.Now().Add(pendingWait)
	for {
		// Queued and not handed to the provider: a message the provider
		// took stays 'queued' (Twilio's first status) until its status
		// callback, which an outage may cost.
		pending = w.count(ctx, `SELECT count(*) FROM messages WHERE direction = 'out' AND body = ANY($1) AND status = 'queued' AND provider_message_id IS NULL`, l.replies)
		if pending == 0 || time.Now().After(deadline) {
			break
		}
		time.Sleep(500 * time.Millisecond)
	}
	got := map[string]int{}
	for _, s := range w.sim.Twilio.Sent(sandbox.DemoTwilioAccountSID) {
		got[s.Params.Get("Body")]++
	}
	for _, b := range uniq(l.replies) {
		if got[b] > 0 {
			reached++
		}
		if got[b] > 1 {
			twice += got[b] - 1
		}
	}
	failed = map[string]int{}
	rows, err := w.pool.Query(ctx, `SELECT status, count(*) FROM messages WHERE direction = 'out' AND body = ANY($1) AND status IN ('failed', 'unconfirmed') GROUP BY 1`, l.replies)
	if err != nil {
		return
	}
	defer rows.Close()
	for rows.Next() {
		var s string
		var n int
		if err = rows.Scan(&s, &n); err != nil {
			return
		}
		failed[s] = n
	}
	return lost, reached, twice, pending, failed, rows.Err()
}

// R3: kill -9 of a replica every few seconds while customers write and
// agents reply, the killed replica started again at once.
func runR3(ctx context.Context, w *world, o options, r *row) error {
	customers, chats, err := w.openChats(ctx, "333", 20)
	if err != nil {
		return err
	}
	a, err := login(ctx, w.baseURL, sandbox.DemoEmail, sandbox.DemoPassword)
	if err != nil {
		return err
	}
	// Sends take a while, so that kills find some in flight.
	w.sim.Twilio.SetFaults(sandbox.TwilioFaults{Latency: 200 * time.Millisecond})
	defer w.sim.Twilio.SetFaults(sandbox.TwilioFaults{})
	var l ledger
	loadCtx, cancel := context.WithTimeout(ctx, o.Duration)
	defer cancel()
	var wg sync.WaitGroup
	for range 2 {
		wg.Go(func() { w.inboundLoad(loadCtx, &l, customers, "R3 in") })
		wg.Go(func() { w.replyLoad(loadCtx, &l, a, chats, "R3 reply") })
	}
	every := 5 * time.Second
	if o.Short {
		every = 2 * time.Second
	}
	kills := 0
	for i := 0; ; i++ {
		select {
		case <-loadCtx.Done():
		case <-time.After(every):
			rep := w.replicas[i%len(w.replicas)]
			rep.kill()
			kills++
			if err := rep.start(ctx); err != nil {
				cancel()
				wg.Wait()
				return err
			}
			continue
		}
		break
	}
	wg.Wait()
	// The full run waits the 3 minutes the issue allows for a reply to
	// leave; the short one cannot wait for River to rescue a send the
	// killed replica held (RescueAfter, 90 s in production).
	wait := 3 * time.Minute
	if o.Short {
		wait = 15 * time.Second
	}
	lost, reached, twice, pending, failed, err := w.check(ctx, &l, wait)
	if err != nil {
		return err
	}
	r.add("kills", kills)
	r.add("webhooks acknowledged", len(l.inbound))
	r.zero("acknowledged and lost", lost)
	r.add("replies accepted", len(l.replies))
	if len(l.rrefused) > 0 {
		r.add("replies refused", fmt.Sprint(l.rrefused))
	}
	r.add("reached the provider", reached)
	r.zero("twice", twice)
	if len(failed) > 0 {
		r.add("shown to agents as", fmt.Sprint(failed))
	}
	r.add("at the provider but shown queued (status callback lost)", w.unstatused(ctx, &l))
	if o.Short {
		r.add(fmt.Sprintf("still queued after %s (not counted in -short)", wait), pending)
	} else {
		r.zero("still queued after 3 min", pending)
	}
	return nil
}

// unstatused counts the accepted replies the provider took that still
// show 'queued' to agents: their status callbacks never got through.
func (w *world) unstatused(ctx context.Context, l *ledger) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return w.count(ctx, `SELECT count(*) FROM messages WHERE direction = 'out' AND body = ANY($1) AND status = 'queued' AND provider_message_id IS NOT NULL`, l.replies)
}
