package main

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"

	"parley/internal/conversation"
	"parley/internal/sandbox"
)

// Outbound drain: 10,000 replies queued across 200 chats while the send
// queue is paused, then the queue resumes against the Twilio simulator
// answering 5 % of the creates it accepts with a lost answer (a broken
// connection, a 5xx or an unreadable 201). The figure is the time until
// no reply is queued; the check is that the simulator received each reply
// exactly once.
const (
	drainChats   = 200
	drainReplies = 10_000
	drainLost    = 0.05
)

func runDrain(ctx context.Context, e *env) error {
	p, err := startParley(ctx, e)
	if err != nil {
		return err
	}
	defer p.stop()
	sim := p.app.Sandbox.Twilio
	admin, err := p.app.Tenants.Authenticate(ctx, sandbox.DemoEmail, sandbox.DemoPassword)
	if err != nil {
		return err
	}

	progress("opening %d chats: each customer writes first (not measured)", drainChats)
	for i := range drainChats {
		in := sandbox.InboundMessage{From: fmt.Sprintf("+1555300%04d", i), To: sandbox.DemoTwilioSender, ProfileName: "Drain", Body: "hello"}
		if _, err := sim.CustomerSends(ctx, in); err != nil {
			return fmt.Errorf("customer %d writes: %w", i, err)
		}
	}
	chats, err := p.app.Conversations.LiveChats(ctx, admin.TenantID, admin.ID)
	if err != nil {
		return err
	}
	if len(chats) < drainChats {
		return fmt.Errorf("%d live chats, want %d", len(chats), drainChats)
	}

	progress("pausing the send queue and queuing %d replies (not measured)", drainReplies)
	if err := p.app.Jobs.QueuePause(ctx, river.QueueDefault, nil); err != nil {
		return err
	}
	start := time.Now()
	var next atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for range 8 {
		wg.Go(func() {
			for i := next.Add(1) - 1; i < drainReplies; i = next.Add(1) - 1 {
				chat := chats[i%drainChats]
				r := conversation.Reply{Body: fmt.Sprintf("Drain reply %d", i)}
				if _, err := p.app.Conversations.SendReply(ctx, admin.TenantID, admin.ID, chat.ID, r); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		return fmt.Errorf("queue replies: %w", err)
	}
	progress("  queued in %s", time.Since(start).Round(time.Millisecond))

	queued := func() (n, unconfirmed, failed int, err error) {
		err = p.app.DB.InTenant(ctx, admin.TenantID, func(tx pgx.Tx) error {
			return tx.QueryRow(ctx, `SELECT count(*) FILTER (WHERE status = 'queued'), count(*) FILTER (WHERE status = 'unconfirmed'),
				count(*) FILTER (WHERE status = 'failed') FROM messages WHERE direction = 'out'`).Scan(&n, &unconfirmed, &failed)
		})
		return
	}
	lost := []sandbox.LostAnswer{sandbox.LostReset, sandbox.LostServerError, sandbox.LostUnreadable}
	sim.SetFaults(sandbox.TwilioFaults{LostAnswerRate: drainLost, LostAnswers: lost})
	progress("resuming the send queue: %d replies to drain, %.0f %% of accepted creates lose their answer", drainReplies, drainLost*100)
	start = time.Now()
	if err := p.app.Jobs.QueueResume(ctx, river.QueueDefault, nil); err != nil {
		return err
	}
	var left, unconfirmed, failed int
	lastReport := start
	for {
		if left, unconfirmed, failed, err = queued(); err != nil {
			return err
		}
		if left == 0 {
			break
		}
		if time.Since(start) > 10*time.Minute {
			return fmt.Errorf("%d replies still queued after 10 minutes", left)
		}
		if time.Since(lastReport) > 5*time.Second {
			progress("  %d replies queued after %s", left, time.Since(start).Round(time.Second))
			lastReport = time.Now()
		}
		time.Sleep(200 * time.Millisecond) // each look counts every reply: a cost on the measured database
	}
	drained := time.Since(start)
	sim.SetFaults(sandbox.TwilioFaults{})

	received := map[string]int{}
	creates := sim.Sent(sandbox.DemoTwilioAccountSID)
	for _, s := range creates {
		received[s.Params.Get("Body")]++
	}
	twice, missing := 0, 0
	for i := range drainReplies {
		switch received[fmt.Sprintf("Drain reply %d", i)] {
		case 0:
			missing++
		case 1:
		default:
			twice++
		}
	}
	var lookups int
	if err := p.app.DB.InSystem(ctx, func(tx pgx.Tx) error {
		return tx.QueryRow(ctx, `SELECT count(*) FROM river_job WHERE kind = 'send_message' AND attempt > 1`).Scan(&lookups)
	}); err != nil {
		return err
	}

	w := e.Out
	fmt.Fprintf(w, "### drain\n\n%d replies across %d chats, queued while the send queue was paused; Twilio simulator answering %.0f %% of accepted creates with a lost answer (reset, 5xx, unreadable 201).\n\n",
		drainReplies, drainChats, drainLost*100)
	fmt.Fprintf(w, "| figure | value |\n|---|---:|\n")
	fmt.Fprintf(w, "| time to drain (resume → none queued) | %s |\n", drained.Round(10*time.Millisecond))
	fmt.Fprintf(w, "| replies per second | %.0f |\n", float64(drainReplies)/drained.Seconds())
	fmt.Fprintf(w, "| creates the simulator accepted | %d |\n", len(creates))
	fmt.Fprintf(w, "| replies it received (distinct) | %d |\n", drainReplies-missing)
	fmt.Fprintf(w, "| received twice or more | %d |\n", twice)
	fmt.Fprintf(w, "| never received | %d |\n", missing)
	fmt.Fprintf(w, "| sends that needed another attempt (lost answers settled by a lookup) | %d |\n", lookups)
	fmt.Fprintf(w, "| ended unconfirmed / failed | %d / %d |\n\n", unconfirmed, failed)
	if twice > 0 || missing > 0 || unconfirmed > 0 || failed > 0 {
		return errors.New("drain check failed: every reply must reach the simulator exactly once")
	}
	return nil
}
