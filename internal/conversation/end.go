package conversation

import (
	"context"
	"errors"
	"fmt"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"parley/internal/problem"
	"parley/internal/realtime"
	"parley/internal/ruleevent"
	"parley/internal/tenant"
)

// EndChat ends a live chat: it becomes a case in All cases with status,
// and the conversation records who or what ended it (by: "Ana", "idle
// timeout", "rule 'After hours'"). Ending a chat that has already ended is
// a Conflict and changes nothing.
func (s *Service) EndChat(ctx context.Context, tid uuid.UUID, caseID int64, status, by string) error {
	return s.db.InTenant(ctx, tid, func(tx pgx.Tx) error {
		if err := tenant.CheckStatusTx(ctx, tx, "status", status); err != nil {
			return err
		}
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

// reopenTx makes the ended case c a live chat again, assigned to the agent
// replying, and records it; the reply is stored after it, in the same
// transaction. The case keeps its number, group, status and history, and
// ends again by the usual rules (End chat, the idle timeout, rules).
func (s *Service) reopenTx(ctx context.Context, tx pgx.Tx, tid uuid.UUID, agentID int64, c *Case) error {
	if c.IntegrationID == nil {
		return problem.New(problem.Conflict, "The WhatsApp integration of this case was deleted, so it cannot be reopened. Start a new conversation from the client's page.")
	}
	var other int64
	err := tx.QueryRow(ctx, `SELECT number FROM cases WHERE client_id = $1 AND integration_id = $2 AND state = 'live'`, c.ClientID, *c.IntegrationID).Scan(&other)
	if err == nil {
		return problem.New(problem.Conflict, fmt.Sprintf("The client has a live chat on this number already (#%d): reply there. Nothing was sent.", other))
	}
	if !errors.Is(err, pgx.ErrNoRows) {
		return fmt.Errorf("live chat of client %d: %w", c.ClientID, err)
	}
	var name string
	if err := tx.QueryRow(ctx, `SELECT name FROM agents WHERE id = $1`, agentID).Scan(&name); err != nil {
		return notFound(err, "No such agent.")
	}
	now := s.clock.Now()
	if _, err := tx.Exec(ctx, `UPDATE cases SET state = 'live', ended_at = NULL, ended_by = NULL, assignee_id = $2, unread = 0, last_activity_at = $3
		WHERE id = $1`, c.ID, agentID, now); err != nil {
		return fmt.Errorf("reopen case %d: %w", c.ID, err)
	}
	c.State, c.AssigneeID, c.EndedAt, c.EndedBy = StateLive, &agentID, nil, nil
	if err := addEvent(ctx, tx, tid, c.ID, fmt.Sprintf("Case reopened by %s with a reply · assigned to %s", name, name), now); err != nil {
		return err
	}
	return realtime.Notify(ctx, tx, realtime.Event{TenantID: tid, Kind: "case", CaseID: c.ID})
}
