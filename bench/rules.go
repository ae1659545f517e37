package main

import (
	"context"
	"fmt"
	"math"
	"time"

	"github.com/jackc/pgx/v5"

	"parley/internal/rule"
	"parley/internal/ruleevent"
)

// rulesCount is how many enabled rules the rules benchmark gives the tenant.
const rulesCount = 50

// runRules measures what automation rules cost the webhook: the same
// Twilio inbound load with no rules and with 50 enabled rules (each runs
// on every client message; their conditions do not match, as most rules'
// do not: half test the text, half the chat), and whether the rule jobs
// keep up: the rule events waiting, sampled every second while the load
// runs.
func runRules(ctx context.Context, e *env) error {
	o := e.Opts
	progress("starting Parley (sandbox mode, demo tenant)")
	p, err := startParley(ctx, e)
	if err != nil {
		return err
	}
	defer p.stop()
	c, err := newCorpus(p.webhookURL, o.Customers)
	if err != nil {
		return err
	}
	t := newTarget("parley", p.webhookURL, o.Conns, c.fresh)
	defer t.close()

	if _, _, err := p.openChats(ctx, t, c, e.DatabaseURL); err != nil {
		return err
	}
	progress("creating %d rules, turned off", rulesCount)
	var ids []int64
	for i := range rulesCount {
		// Half test the text, which the webhook can tell alone; half test
		// the chat (a tag no chat has), so that every message records its
		// rule event and the rule job reads its chat.
		cond := rule.Condition{Field: "text_contains", Value: fmt.Sprintf("no client writes this %d", i)}
		if i%2 == 1 {
			cond = rule.Condition{Field: "tag", Value: fmt.Sprintf("vip-%d", i)}
		}
		id, err := p.app.Rules.Save(ctx, p.tenantID, 0, rule.Rule{
			Name: fmt.Sprintf("Rule %d", i+1), Enabled: false, Trigger: ruleevent.ClientMessage, Match: "all",
			Conditions: []rule.Condition{cond},
			Actions:    []rule.Action{{Kind: "add_note", Value: "matched"}},
		})
		if err != nil {
			return err
		}
		ids = append(ids, id)
	}
	setRules := func(on bool) error {
		for _, id := range ids {
			if err := p.app.Rules.SetEnabled(ctx, p.tenantID, id, on); err != nil {
				return err
			}
		}
		return nil
	}
	queue := func() (int, error) {
		var n int
		err := p.app.DB.InTenant(ctx, p.tenantID, func(tx pgx.Tx) error {
			return tx.QueryRow(ctx, `SELECT count(*) FROM rule_event_list`).Scan(&n)
		})
		return n, err
	}

	type row struct {
		label              string
		round              int
		res                result
		qStart, qMax, qEnd int
		drained            time.Duration
	}
	var rows []row
	rate := 2000.0
	for round := 1; round <= o.Rounds; round++ {
		for _, on := range []bool{false, true} {
			label := "no rules"
			if on {
				label = fmt.Sprintf("%d rules", rulesCount)
			}
			if err := setRules(on); err != nil {
				return err
			}
			c.ensureFresh(int(math.Ceil(rate*(o.Duration+o.Warmup).Seconds()*1.5)) + 1000)
			if o.Warmup > 0 {
				progress("%s round %d: warm-up %s", label, round, o.Warmup)
				t.run(ctx, o.Warmup)
			}
			r := row{label: label, round: round}
			if r.qStart, err = queue(); err != nil {
				return err
			}
			progress("%s round %d: measuring %s", label, round, o.Duration)
			done := make(chan result, 1)
			go func() { done <- t.run(ctx, o.Duration) }()
			tick := time.NewTicker(time.Second)
		sample:
			for {
				select {
				case r.res = <-done:
					break sample
				case <-tick.C:
					if n, err := queue(); err == nil && n > r.qMax {
						r.qMax = n
					}
				}
			}
			tick.Stop()
			if r.qEnd, err = queue(); err != nil {
				return err
			}
			start := time.Now()
			for n := r.qEnd; n > 0; n, _ = queue() {
				time.Sleep(100 * time.Millisecond)
			}
			r.drained = time.Since(start)
			rate = r.res.rate()
			progress("  %.0f req/s, rule events waiting: %d at start, at most %d, %d at the end (drained in %s)", rate, r.qStart, r.qMax, r.qEnd, r.drained.Round(time.Millisecond))
			rows = append(rows, r)
		}
	}

	w := e.Out
	fmt.Fprintf(w, "### rules: Twilio inbound webhook with %d enabled rules, %d connections\n\n", rulesCount, o.Conns)
	fmt.Fprintf(w, "Closed loop, %d keep-alive connections, %s measured per phase after %s of warm-up; phases alternate (no rules, %d rules). Each client message records its rule event in its transaction; the tenant's rule job runs the events, reading each event's chat and evaluating the %d rules (conditions that do not match: half on the text, half on the chat). \"Waiting\" is the rule events not yet run, sampled every second.\n\n", o.Conns, o.Duration, o.Warmup, rulesCount, rulesCount)
	fmt.Fprintln(w, "| rules | round | requests | req/s | p50 | p99 | errors | events waiting at start | max | at end | drained after |")
	fmt.Fprintln(w, "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
	sums := map[string][2]float64{}
	for _, r := range rows {
		fmt.Fprintf(w, "| %s | %d | %d | %.0f | %s | %s | %d | %d | %d | %d | %s |\n", r.label, r.round, r.res.ok(), r.res.rate(),
			ms(r.res.pct(0.5)), ms(r.res.pct(0.99)), r.res.errors, r.qStart, r.qMax, r.qEnd, r.drained.Round(time.Millisecond))
		s := sums[r.label]
		sums[r.label] = [2]float64{s[0] + float64(r.res.ok()), s[1] + r.res.elapsed.Seconds()}
	}
	none, with := sums["no rules"], sums[fmt.Sprintf("%d rules", rulesCount)]
	ratio := (with[0] / with[1]) / (none[0] / none[1])
	verdict := "met"
	if ratio < 0.9 {
		verdict = "not met"
	}
	fmt.Fprintf(w, "\n**%d rules / no rules throughput: %.2f×** (goal ≥ 0.9×: %s).\n\n", rulesCount, ratio, verdict)
	return nil
}
