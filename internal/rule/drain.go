package rule

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
)

// drainChunk is how many events a run reads at once; drainFor is how long
// one rule job takes events before it leaves the rest to the next (River
// gives a job a minute); an event whose rules failed maxEventAttempts times
// is dropped (and logged), so that it does not hold up the tenant's others.
const (
	drainChunk       = 2000
	drainFor         = 20 * time.Second
	maxEventAttempts = 5
)

// Drain runs the tenant's recorded rule events in the order they were
// recorded (the rule job calls it). Runs of one tenant take turns: while
// another run is taking the events, Drain returns ErrBusy.
func (s *Service) Drain(ctx context.Context, tid uuid.UUID) (err error) {
	err = s.db.InTenant(ctx, tid, func(tx pgx.Tx) error {
		// Exclusive: the transactions that recorded events and saw this run
		// queued have committed; those that come after see it started.
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(hashtextextended('rule_queue ' || current_tenant(), 0))`); err != nil {
			return err
		}
		return tx.QueryRow(ctx, `UPDATE rule_queues SET queued = false, draining_until = now() + $1::interval
			WHERE tenant_id = current_tenant() AND (draining_until IS NULL OR draining_until < now()) RETURNING true`,
			2*drainFor).Scan(nil)
	})
	if errors.Is(err, pgx.ErrNoRows) {
		return ErrBusy
	}
	if err != nil {
		return fmt.Errorf("start rule run: %w", err)
	}
	more := true
	defer func() {
		// Let the next run in; if this one stopped early, queue it.
		ctx := context.WithoutCancel(ctx)
		end := s.db.InTenant(ctx, tid, func(tx pgx.Tx) error {
			if _, err := tx.Exec(ctx, `UPDATE rule_queues SET draining_until = NULL WHERE tenant_id = current_tenant()`); err != nil {
				return err
			}
			if more {
				return s.events.QueueRun(ctx, tx, tid)
			}
			return nil
		})
		if end != nil && err == nil {
			err = fmt.Errorf("end rule run: %w", end)
		}
	}()
	for stop := time.Now().Add(drainFor); more && time.Now().Before(stop); {
		var (
			evs []event
			ref refs
		)
		err := s.db.InTenant(ctx, tid, func(tx pgx.Tx) error {
			b := &pgx.Batch{}
			// The first drainChunk events waiting: those of the first rows
			// that hold as many (or of all rows), cut at drainChunk.
			b.Queue(`WITH upto AS (
					SELECT id FROM (SELECT id, sum(cardinality(case_ids) - done) OVER w AS n, lead(id) OVER w IS NULL AS last
						FROM rule_events WINDOW w AS (ORDER BY id)) r
					WHERE n >= $1 OR last ORDER BY id LIMIT 1)
				SELECT e.id, e.ord, e.trigger, e.case_id, coalesce(e.message_id, 0), coalesce(e.rule_id, 0), e.chain, e.depth, coalesce(m.body, '')
				FROM (SELECT * FROM rule_event_list WHERE id <= (SELECT id FROM upto) ORDER BY id, ord LIMIT $1) e
				LEFT JOIN messages m ON m.tenant_id = e.tenant_id AND m.id = e.message_id
				ORDER BY e.id, e.ord`, drainChunk).Query(func(rows pgx.Rows) (err error) {
				evs, err = pgx.CollectRows(rows, func(row pgx.CollectableRow) (ev event, err error) {
					err = row.Scan(&ev.ID, &ev.ord, &ev.Trigger, &ev.CaseID, &ev.MessageID, &ev.RuleID, &ev.Chain.ID, &ev.Chain.Depth, &ev.text)
					ev.lower = strings.ToLower(ev.text)
					return ev, err
				})
				return err
			})
			b.Queue(selectRefs).Query(func(rows pgx.Rows) (err error) { ref, err = scanRefs(rows); return err })
			return tx.SendBatch(ctx, b).Close()
		})
		if err != nil {
			return fmt.Errorf("read rule events: %w", err)
		}
		if len(evs) == 0 {
			more = false
			break
		}
		n, runErr := s.run(ctx, tid, ref, evs)
		if err := s.forget(ctx, tid, evs[:n]); err != nil {
			return err
		}
		if errors.As(runErr, new(eventFailed)) {
			if err := s.failed(ctx, tid, evs[n], runErr); err != nil {
				return errors.Join(runErr, err)
			}
		}
		if runErr != nil {
			return runErr
		}
		more = len(evs) == drainChunk
	}
	return nil
}

// forget takes the events that ran (in the order they were read) off
// their rows, and deletes the rows none of whose events wait any more.
func (s *Service) forget(ctx context.Context, tid uuid.UUID, evs []event) error {
	if len(evs) == 0 {
		return nil
	}
	err := s.db.InTenant(ctx, tid, func(tx pgx.Tx) error { return forgetTx(ctx, tx, evs) })
	if err != nil {
		return fmt.Errorf("forget rule events that ran: %w", err)
	}
	return nil
}

func forgetTx(ctx context.Context, tx pgx.Tx, evs []event) error {
	var rows []int64
	var upto []int32 // the last event of each row that ran
	for _, ev := range evs {
		if n := len(rows); n > 0 && rows[n-1] == ev.ID {
			upto[n-1] = int32(ev.ord)
		} else {
			rows, upto = append(rows, ev.ID), append(upto, int32(ev.ord))
		}
	}
	_, err := tx.Exec(ctx, `WITH ran AS (SELECT * FROM unnest($1::bigint[], $2::int[]) AS r(id, upto)),
			gone AS (DELETE FROM rule_events e USING ran WHERE e.id = ran.id AND ran.upto >= cardinality(e.case_ids))
		UPDATE rule_events e SET done = ran.upto, attempts = 0 FROM ran WHERE e.id = ran.id AND ran.upto < cardinality(e.case_ids)`, rows, upto)
	return err
}

// failed counts a failed attempt at ev's rules (ev is its row's next
// event), and drops the event after maxEventAttempts.
func (s *Service) failed(ctx context.Context, tid uuid.UUID, ev event, why error) error {
	ctx = context.WithoutCancel(ctx)
	return s.db.InTenant(ctx, tid, func(tx pgx.Tx) error {
		var attempts int
		err := tx.QueryRow(ctx, `UPDATE rule_events SET attempts = attempts + 1 WHERE id = $1 RETURNING attempts`, ev.ID).Scan(&attempts)
		if err != nil || attempts < maxEventAttempts {
			return err
		}
		s.log.ErrorContext(ctx, "rules: event dropped after failed runs", "tenant_id", tid, "case_id", ev.CaseID, "trigger", ev.Trigger, "attempts", attempts, "err", why)
		return forgetTx(ctx, tx, []event{ev})
	})
}

// ErrBusy says another run is taking the tenant's rule events.
var ErrBusy = errors.New("another rule run is taking the events")
