package conversation

import (
	"context"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"parley/internal/realtime"
)

// sweepBatch bounds one round of a sweep; a sweep repeats rounds until a
// round finds fewer.
const sweepBatch = 1000

// IdleEndedBy is what the conversation records when the idle timeout ends
// a chat.
const IdleEndedBy = "the idle timeout"

// EndIdleChats ends every live chat, in every tenant, with no message from
// either side for its tenant's idle timeout (Settings → Chats). Each chat
// ends once: the update re-checks that the chat is live and idle, so a
// message that arrived meanwhile keeps it open and a second sweep (another
// replica) ends nothing twice. The periodic sweep job calls it.
func (s *Service) EndIdleChats(ctx context.Context) (int, error) {
	return s.sweep(ctx, `SELECT tenant_id, case_id FROM idle_chats($1, $2)`, s.endIdleBatch)
}

// CloseWindows marks live chats whose 24-hour window has closed as
// templates only, records it in the conversation and pushes it to agents'
// browsers. A new client message reopens the window.
func (s *Service) CloseWindows(ctx context.Context) (int, error) {
	return s.sweep(ctx, `SELECT tenant_id, case_id FROM closed_windows($1, $2)`, s.closeWindowBatch)
}

// sweep runs find (a cross-tenant function) in rounds and handles each
// tenant's share of a round in one tenant transaction.
func (s *Service) sweep(ctx context.Context, find string, handle func(context.Context, pgx.Tx, uuid.UUID, []int64) (int, error)) (int, error) {
	total := 0
	for {
		now := s.clock.Now()
		byTenant := map[uuid.UUID][]int64{}
		found := 0
		err := s.db.InSystem(ctx, func(tx pgx.Tx) error {
			rows, _ := tx.Query(ctx, find, now, sweepBatch)
			var tid uuid.UUID
			var id int64
			_, err := pgx.ForEachRow(rows, []any{&tid, &id}, func() error {
				byTenant[tid] = append(byTenant[tid], id)
				found++
				return nil
			})
			return err
		})
		if err != nil {
			return total, fmt.Errorf("sweep: %w", err)
		}
		for tid, ids := range byTenant {
			err := s.db.InTenant(ctx, tid, func(tx pgx.Tx) error {
				n, err := handle(ctx, tx, tid, ids)
				total += n
				return err
			})
			if err != nil {
				return total, fmt.Errorf("sweep tenant %s: %w", tid, err)
			}
		}
		if found < sweepBatch {
			return total, nil
		}
	}
}

func (s *Service) endIdleBatch(ctx context.Context, tx pgx.Tx, tid uuid.UUID, ids []int64) (int, error) {
	now := s.clock.Now()
	rows, _ := tx.Query(ctx, `UPDATE cases c SET state = 'ended', status = t.chat_end_status, ended_at = $2, ended_by = $3, unread = 0
		FROM tenants t
		WHERE c.id = ANY($1) AND c.state = 'live' AND c.last_activity_at <= $2::timestamptz - make_interval(mins => t.chat_idle_minutes)
		RETURNING c.id, c.status, t.chat_idle_minutes`, ids, now, IdleEndedBy)
	var ended []realtime.Event
	var id int64
	var status string
	var minutes int // the tenant's, the same on every row
	if _, err := pgx.ForEachRow(rows, []any{&id, &status, &minutes}, func() error {
		ended = append(ended, realtime.Event{TenantID: tid, Kind: "case", CaseID: id})
		return nil
	}); err != nil {
		return 0, err
	}
	text := fmt.Sprintf("Chat ended by %s (%d minutes without messages) · status %s", IdleEndedBy, minutes, status)
	return len(ended), recordSweep(ctx, tx, tid, ended, text, now)
}

func (s *Service) closeWindowBatch(ctx context.Context, tx pgx.Tx, tid uuid.UUID, ids []int64) (int, error) {
	now := s.clock.Now()
	// The same conditions as closed_windows, checked again under the lock:
	// a message that arrived meanwhile keeps the window open.
	rows, _ := tx.Query(ctx, `UPDATE cases c SET window_closed_at = $2::timestamptz
		FROM cases x, client_window(x.tenant_id, x.client_id, x.integration_id) w
		WHERE x.tenant_id = c.tenant_id AND x.id = c.id AND c.id = ANY($1) AND c.state = 'live'
			AND w.last_client_message_at <= $2::timestamptz - interval '24 hours'
			AND w.last_client_message_at > c.created_at - interval '24 hours'
			AND (c.window_closed_at IS NULL OR c.window_closed_at < w.last_client_message_at + interval '24 hours')
		RETURNING c.id`, ids, now)
	var closed []realtime.Event
	var id int64
	if _, err := pgx.ForEachRow(rows, []any{&id}, func() error {
		closed = append(closed, realtime.Event{TenantID: tid, Kind: "window", CaseID: id})
		return nil
	}); err != nil {
		return 0, err
	}
	return len(closed), recordSweep(ctx, tx, tid, closed, "The 24-hour window closed: only an approved template can be sent", now)
}

// recordSweep adds the same system event to each swept chat and notifies
// browsers, in two statements however many chats there are.
func recordSweep(ctx context.Context, tx pgx.Tx, tid uuid.UUID, evs []realtime.Event, text string, now time.Time) error {
	if len(evs) == 0 {
		return nil
	}
	ids := make([]int64, len(evs))
	for i, ev := range evs {
		ids[i] = ev.CaseID
	}
	if _, err := tx.Exec(ctx, `INSERT INTO messages (tenant_id, case_id, direction, kind, body, status, created_at, updated_at)
		SELECT $1, id, 'internal', 'event', $3, 'none', $4, $4 FROM unnest($2::bigint[]) AS id`, tid, ids, text, now); err != nil {
		return fmt.Errorf("record sweep events: %w", err)
	}
	return realtime.NotifyMany(ctx, tx, evs)
}
