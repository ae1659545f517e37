package conversation

import (
	"context"
	"fmt"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"parley/internal/realtime"
)

// inAgentsGroups limits cases to the groups the agent belongs to.
const inAgentsGroups = ` c.group_id IN (SELECT group_id FROM group_members WHERE agent_id = $1)`

// LiveChats lists the live chats of the agent's groups: unassigned first,
// then the longest-waiting client first.
func (s *Service) LiveChats(ctx context.Context, tid uuid.UUID, agentID int64) ([]Case, error) {
	var cs []Case
	err := s.db.InTenant(ctx, tid, func(tx pgx.Tx) error {
		rows, _ := tx.Query(ctx, selectCase+` WHERE c.state = 'live' AND`+inAgentsGroups+`
			ORDER BY (c.assignee_id IS NOT NULL), c.unread = 0, coalesce(c.last_client_message_at, c.created_at), c.id LIMIT 500`, agentID)
		var err error
		cs, err = pgx.CollectRows(rows, pgx.RowToStructByName[Case])
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("live chats: %w", err)
	}
	return cs, nil
}

// WaitingCount is the green indicator's number: live chats of the agent's
// groups with client messages no agent has read (new chats included).
func (s *Service) WaitingCount(ctx context.Context, tid uuid.UUID, agentID int64) (int, error) {
	var n int
	err := s.db.InTenant(ctx, tid, func(tx pgx.Tx) error {
		return tx.QueryRow(ctx, `SELECT count(*) FROM cases c WHERE c.state = 'live' AND c.unread > 0 AND`+inAgentsGroups, agentID).Scan(&n)
	})
	if err != nil {
		return 0, fmt.Errorf("count waiting chats: %w", err)
	}
	return n, nil
}

// MarkRead records that an agent has seen the chat's client messages.
func (s *Service) MarkRead(ctx context.Context, tid uuid.UUID, caseID int64) error {
	return s.db.InTenant(ctx, tid, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `UPDATE cases SET unread = 0 WHERE id = $1 AND unread > 0`, caseID)
		if err != nil {
			return fmt.Errorf("mark chat %d read: %w", caseID, err)
		}
		if tag.RowsAffected() == 0 {
			return nil
		}
		return realtime.Notify(ctx, tx, realtime.Event{TenantID: tid, Kind: "case", CaseID: caseID})
	})
}
