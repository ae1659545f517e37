package conversation

import (
	"context"
	"fmt"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"parley/internal/problem"
	"parley/internal/realtime"
	"parley/internal/ruleevent"
)

// Statuses a case can have.
var Statuses = []string{"open", "pending", "solved", "closed"}

// ValidStatus says whether s is a case status.
func ValidStatus(s string) bool {
	for _, v := range Statuses {
		if v == s {
			return true
		}
	}
	return false
}

// EndChat ends a live chat: it becomes a case in All cases with status,
// and the conversation records who or what ended it (by: "Ana", "idle
// timeout", "rule 'After hours'"). Ending a chat that has already ended is
// a Conflict and changes nothing.
func (s *Service) EndChat(ctx context.Context, tid uuid.UUID, caseID int64, status, by string) error {
	if !ValidStatus(status) {
		return problem.Field("status", "Choose a status.")
	}
	return s.db.InTenant(ctx, tid, func(tx pgx.Tx) error {
		return s.endChatTx(ctx, tx, tid, caseID, status, by)
	})
}

func (s *Service) endChatTx(ctx context.Context, tx pgx.Tx, tid uuid.UUID, caseID int64, status, by string) error {
	now := s.clock.Now()
	tag, err := tx.Exec(ctx, `UPDATE cases SET state = 'ended', status = $2, ended_at = $3, ended_by = $4, unread = 0
		WHERE id = $1 AND state = 'live'`, caseID, status, now, by)
	if err == nil && tag.RowsAffected() == 0 {
		var exists bool
		if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT FROM cases WHERE id = $1)`, caseID).Scan(&exists); err != nil {
			return err
		}
		if !exists {
			return problem.New(problem.NotFound, "No such chat.")
		}
		return problem.New(problem.Conflict, "This chat has already ended.")
	}
	if err != nil {
		return fmt.Errorf("end chat %d: %w", caseID, err)
	}
	if err := addEvent(ctx, tx, tid, caseID, fmt.Sprintf("Chat ended by %s · status %s", by, status), now); err != nil {
		return err
	}
	if err := s.events.Fire(ctx, tx, tid, ruleevent.ChatEnded, caseID, 0); err != nil {
		return err
	}
	return realtime.Notify(ctx, tx, realtime.Event{TenantID: tid, Kind: "case", CaseID: caseID})
}
