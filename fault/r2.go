package main

import (
	"context"
	"fmt"
	"net/http"
	"sync"

	"parley/internal/sandbox"
)

// R2: every webhook delivered three times at once, to two replicas, as a
// provider's retries and a load balancer make it happen: each message must
// be stored once.
func runR2(ctx context.Context, w *world, o options, r *row) error {
	n := 300
	if o.Short {
		n = 60
	}
	type delivery struct {
		id   string
		send func(rep *replica) (int, error)
	}
	var ds []delivery
	for i := range n {
		from := fmt.Sprintf("+1555222%04d", i%50)
		if i%2 == 0 {
			sid := newSid()
			form := twilioInbound(sid, from, sandbox.DemoTwilioSender, fmt.Sprintf("Thrice %d", i))
			ds = append(ds, delivery{sid, func(rep *replica) (int, error) {
				return postTwilio(ctx, rep.url, hookPath(w.twilioHook), form, sandbox.DemoTwilioAuthToken, w.twilioHook)
			}})
		} else {
			id := newWamid()
			body := oneMsgInbound([]string{id}, from, fmt.Sprintf("Thrice %d", i))
			ds = append(ds, delivery{id, func(rep *replica) (int, error) {
				return postJSON(ctx, rep.url+hookPath(w.oneMsgHook), body)
			}})
		}
	}
	acked := make([]bool, len(ds))
	var mu sync.Mutex
	posts, ok := 0, 0
	sem := make(chan struct{}, 8)
	var wg sync.WaitGroup
	for i, d := range ds {
		for copyN := range 3 {
			sem <- struct{}{}
			wg.Go(func() {
				defer func() { <-sem }()
				st, err := d.send(w.replicas[(i+copyN)%len(w.replicas)])
				mu.Lock()
				defer mu.Unlock()
				posts++
				if err == nil && st == http.StatusOK {
					ok++
					acked[i] = true
				}
			})
		}
	}
	wg.Wait()
	ids := make([]string, len(ds))
	for i, d := range ds {
		ids[i] = d.id
	}
	stored := map[string]int{}
	rows, err := w.pool.Query(ctx, `SELECT provider_message_id, count(*) FROM messages WHERE provider_message_id = ANY($1) GROUP BY 1`, ids)
	if err != nil {
		return err
	}
	for rows.Next() {
		var id string
		var c int
		if err := rows.Scan(&id, &c); err != nil {
			return err
		}
		stored[id] = c
	}
	rows.Close()
	ackedN, lost, dups, total := 0, 0, 0, 0
	for i, d := range ds {
		total += stored[d.id]
		if stored[d.id] > 1 {
			dups += stored[d.id] - 1
		}
		if acked[i] {
			ackedN++
			if stored[d.id] == 0 {
				lost++
			}
		}
	}
	r.add("messages", len(ds))
	r.add("deliveries", posts)
	r.add("answered 200", ok)
	r.add("messages acknowledged", ackedN)
	r.add("stored", total)
	r.zero("duplicates", dups)
	r.zero("acknowledged and lost", lost)
	r.zero("never acknowledged", len(ds)-ackedN)
	return nil
}
