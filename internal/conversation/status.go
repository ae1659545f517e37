package conversation

import (
	"context"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"

	"parley/internal/channel"
	"parley/internal/integration"
	"parley/internal/realtime"
	"parley/internal/ruleevent"
)

// statusRank orders delivery statuses; statuses only move forward.
var statusRank = map[string]int{"queued": 0, "sent": 1, "delivered": 2, "read": 3}

// ReceiveStatus applies a delivery status from a provider's webhook; one
// that overtook Parley's record of the send is applied a moment later.
func (s *Service) ReceiveStatus(ctx context.Context, ig integration.Integration, st channel.Status) error {
	found, err := s.ApplyStatus(ctx, ig, st)
	if err != nil || found {
		return err
	}
	return s.deferStatus(ctx, ig, st)
}

// ApplyStatus moves an outgoing message's delivery status forward (sent →
// delivered → read), or to failed with the provider's error explained, and
// never backwards. It reports false when no message has the provider id
// (yet: the status can overtake the send's own answer).
//
// Statuses that arrive while others are being applied are applied
// together (batch.go): each message sends three or four, so under load
// they outnumber every other write.
func (s *Service) ApplyStatus(ctx context.Context, ig integration.Integration, st channel.Status) (bool, error) {
	u := &statusUpdate{ig: ig, st: st}
	s.statuses.submit(u)
	if u.err != nil {
		return false, fmt.Errorf("apply status %q of %s on integration %d: %w", st.Status, st.ProviderMessageID, ig.ID, u.err)
	}
	return u.found, nil
}

// statusUpdate is one status to apply, and what became of it.
type statusUpdate struct {
	ig    integration.Integration
	st    channel.Status
	found bool // a message has the status's provider id
	err   error
}

// deliveryState is where an outgoing message's status stands while a batch of
// statuses is applied to it.
type deliveryState struct {
	id, caseID int64
	status     string
	code, text string // the provider's error, explained, once failed
	changed    bool
}

// applyStatuses applies one tenant's statuses in one transaction: one
// statement locks their messages, the statuses move them in the order they
// arrived, and one statement writes what changed.
func (s *Service) applyStatuses(ctx context.Context, tid uuid.UUID, us []*statusUpdate) error {
	igs := make([]int64, len(us))
	ids := make([]string, len(us))
	for i, u := range us {
		igs[i], ids[i] = u.ig.ID, u.st.ProviderMessageID
	}
	type key struct {
		ig int64
		id string
	}
	msgs := map[key]*deliveryState{}
	first := &pgx.Batch{}
	// In id order, so that two batches lock shared messages in one order.
	first.Queue(`SELECT m.integration_id, m.provider_message_id, m.id, m.case_id, m.status
		FROM messages m JOIN unnest($1::bigint[], $2::text[]) AS s(integration_id, provider_message_id)
		  ON m.integration_id = s.integration_id AND m.provider_message_id = s.provider_message_id
		ORDER BY m.id FOR UPDATE OF m`, igs, ids).Query(func(rows pgx.Rows) error {
		for rows.Next() {
			var k key
			d := &deliveryState{}
			if err := rows.Scan(&k.ig, &k.id, &d.id, &d.caseID, &d.status); err != nil {
				return err
			}
			msgs[k] = d
		}
		return rows.Err()
	})
	return s.db.InTenantFrom(ctx, tid, first, func(tx pgx.Tx) error {
		var failed []ruleevent.Event
		for _, u := range us {
			d := msgs[key{u.ig.ID, u.st.ProviderMessageID}]
			u.found = d != nil
			if d != nil && d.advance(u.st) && d.status == channel.StatusFailed {
				failed = append(failed, ruleevent.Event{CaseID: d.caseID, MessageID: d.id, Chain: ruleevent.NewChain()})
			}
		}
		var changed []*deliveryState
		var notes []realtime.Event
		seen := map[int64]bool{}
		for _, d := range msgs {
			if !d.changed {
				continue
			}
			changed = append(changed, d)
			if !seen[d.caseID] {
				seen[d.caseID] = true
				notes = append(notes, realtime.Event{TenantID: tid, Kind: "message", CaseID: d.caseID})
			}
		}
		if len(changed) == 0 {
			return nil
		}
		ids := make([]int64, len(changed))
		statuses, codes, texts := make([]string, len(changed)), make([]string, len(changed)), make([]string, len(changed))
		for i, d := range changed {
			ids[i], statuses[i], codes[i], texts[i] = d.id, d.status, d.code, d.text
		}
		if _, err := tx.Exec(ctx, `UPDATE messages m SET status = s.status, updated_at = $5,
			error_code = CASE WHEN s.status = 'failed' THEN nullif(s.code, '') ELSE m.error_code END,
			error_message = CASE WHEN s.status = 'failed' THEN s.text ELSE m.error_message END
			FROM unnest($1::bigint[], $2::text[], $3::text[], $4::text[]) AS s(id, status, code, text)
			WHERE m.id = s.id`, ids, statuses, codes, texts, s.clock.Now()); err != nil {
			return fmt.Errorf("update the status of %d messages: %w", len(changed), err)
		}
		if err := s.events.Record(ctx, tx, tid, ruleevent.MessageFailed, 0, failed); err != nil {
			return err
		}
		return realtime.NotifyMany(ctx, tx, notes)
	})
}

// advance applies st to the message and reports whether its status
// changed: forward only (sent → delivered → read), and to failed only
// before it was delivered.
func (d *deliveryState) advance(st channel.Status) bool {
	cur, known := statusRank[d.status]
	if st.Status == channel.StatusFailed {
		if d.status == channel.StatusDelivered || d.status == channel.StatusRead || d.status == channel.StatusFailed {
			return false
		}
		d.status, d.code, d.text = channel.StatusFailed, st.ErrorCode, channel.Explain(st.ErrorCode, st.ErrorText)
		d.changed = true
		return true
	}
	next, ok := statusRank[st.Status]
	if !ok || !known || cur >= next {
		return false // unknown, old news, or already failed
	}
	d.status, d.changed = st.Status, true
	return true
}

// StatusArgs is a delivery status that arrived before its message's send
// finished recording the provider id; the job applies it shortly after.
type StatusArgs struct {
	TenantID      uuid.UUID      `json:"tenant_id"`
	IntegrationID int64          `json:"integration_id"`
	Status        channel.Status `json:"status"`
}

// Kind names the job.
func (StatusArgs) Kind() string { return "apply_status" }

// InsertOpts: errors (a database that does not answer) are tried again a
// few times; waiting for the message is the worker's own patience.
func (StatusArgs) InsertOpts() river.InsertOpts { return river.InsertOpts{MaxAttempts: 6} }

// deferStatus queues st to be applied again in a moment.
func (s *Service) deferStatus(ctx context.Context, ig integration.Integration, st channel.Status) error {
	_, err := s.queue.Insert(ctx, StatusArgs{TenantID: ig.TenantID, IntegrationID: ig.ID, Status: st},
		&river.InsertOpts{ScheduledAt: time.Now().Add(time.Second)})
	return err
}

// Statuses a provider gave up posting: replies it accepted whose status
// stayed queued or sent StatusPatience after they were created are asked
// about once, up to StatusHorizon after.
const (
	StatusPatience = 10 * time.Minute
	StatusHorizon  = time.Hour
)

// CheckStalledStatuses asks the provider where each stalled reply stands
// (channel.Provider.Status) and applies the answer as if its callback had
// come; the periodic job calls it. Each reply is asked about once: the
// sweep records the question before asking, so another replica's sweep
// skips it. It returns how many answers moved a reply on.
func (s *Service) CheckStalledStatuses(ctx context.Context) (int, error) {
	type stalled struct {
		tid        uuid.UUID
		ig         int64
		providerID string
	}
	var todo []stalled
	now := s.clock.Now()
	find := fmt.Sprintf(`SELECT tenant_id, message_id FROM stalled_sends($1::timestamptz - interval '%d seconds', $1::timestamptz - interval '%d seconds', $2)`,
		int(StatusHorizon.Seconds()), int(StatusPatience.Seconds()))
	_, err := s.sweep(ctx, find,
		func(ctx context.Context, tx pgx.Tx, tid uuid.UUID, ids []int64) (int, error) {
			rows, _ := tx.Query(ctx, `UPDATE messages SET status_checked_at = $2 WHERE id = ANY($1) AND status_checked_at IS NULL
				RETURNING integration_id, provider_message_id`, ids, now)
			var ig int64
			var pid string
			_, err := pgx.ForEachRow(rows, []any{&ig, &pid}, func() error {
				todo = append(todo, stalled{tid, ig, pid})
				return nil
			})
			return 0, err
		})
	if err != nil {
		return 0, fmt.Errorf("claim stalled statuses: %w", err)
	}
	answered := 0
	for _, m := range todo {
		ig, err := s.integrations.Cached(ctx, m.tid, m.ig)
		if err != nil {
			continue // deleted since: nothing to ask
		}
		prov, err := s.integrations.Provider(ig)
		if err != nil {
			continue
		}
		st, err := prov.Status(ctx, m.providerID)
		if err != nil {
			s.log.WarnContext(ctx, "stalled status: the provider could not tell", "tenant_id", m.tid, "provider_message_id", m.providerID, "err", err)
			continue
		}
		if st.Status == channel.StatusQueued {
			continue
		}
		if _, err := s.ApplyStatus(ctx, ig, st); err != nil {
			return answered, err
		}
		answered++
	}
	return answered, nil
}
