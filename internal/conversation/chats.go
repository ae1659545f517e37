package conversation

import (
	"context"
	"fmt"
	"strings"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"parley/internal/realtime"
)

// inAgentsGroups limits cases to the groups the agent belongs to.
const inAgentsGroups = ` c.group_id IN (SELECT group_id FROM group_members WHERE agent_id = $1)`

// UnreadCap is the most unread messages a chat counts (the badge says 99).
const UnreadCap = 99

// clientMessagesAfter selects a chat's client messages after %s (a
// message id), newest first, at most UnreadCap.
const clientMessagesAfter = `SELECT um.id FROM messages um WHERE um.tenant_id = c.tenant_id AND um.case_id = c.id
	AND um.direction = 'in' AND um.kind NOT IN ('event', 'note') AND um.id > %s ORDER BY um.id DESC LIMIT 99`

// lastReadBy is agent $1's last read message of chat c.
const lastReadBy = `coalesce((SELECT r.last_read_id FROM chat_reads r WHERE r.tenant_id = c.tenant_id AND r.agent_id = $1 AND r.case_id = c.id), 0)`

// selectCaseFor is selectCase with unread counted for agent $1: the
// chat's client messages after the last one the agent read.
var selectCaseFor = strings.Replace(selectCase, "c.unread,",
	"(SELECT count(*)::int FROM ("+fmt.Sprintf(clientMessagesAfter, lastReadBy)+") u) AS unread,", 1)

// LiveChats lists the live chats of the agent's groups: unassigned first,
// then the longest-waiting client first. Unread counts the client
// messages this agent has not read.
func (s *Service) LiveChats(ctx context.Context, tid uuid.UUID, agentID int64) ([]Case, error) {
	var cs []Case
	err := s.db.InTenant(ctx, tid, func(tx pgx.Tx) error {
		rows, _ := tx.Query(ctx, selectCaseFor+` WHERE c.state = 'live' AND`+inAgentsGroups+`
			ORDER BY (c.assignee_id IS NOT NULL), coalesce(c.last_client_message_at, c.created_at), c.id LIMIT 500`, agentID)
		var err error
		cs, err = pgx.CollectRows(rows, pgx.RowToStructByName[Case])
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("live chats: %w", err)
	}
	return cs, nil
}

// CaseFor is one chat or case, its unread counted for the agent.
func (s *Service) CaseFor(ctx context.Context, tid uuid.UUID, agentID, id int64) (Case, error) {
	var c Case
	err := s.db.InTenant(ctx, tid, func(tx pgx.Tx) error {
		rows, _ := tx.Query(ctx, selectCaseFor+` WHERE c.id = $2`, agentID, id)
		var err error
		c, err = pgx.CollectExactlyOneRow(rows, pgx.RowToStructByName[Case])
		return notFound(err, "No such chat or case.")
	})
	return c, err
}

// WaitingCount is the green indicator's number for an agent: the new
// chats of their groups (unassigned, with client messages they have not
// read) and the client messages they have not read in the live chats
// assigned to them.
func (s *Service) WaitingCount(ctx context.Context, tid uuid.UUID, agentID int64) (int, error) {
	var n int
	err := s.db.InTenant(ctx, tid, func(tx pgx.Tx) error {
		return tx.QueryRow(ctx, `SELECT coalesce(sum(CASE WHEN c.assignee_id = $1 THEN u.n WHEN c.assignee_id IS NULL AND u.n > 0 THEN 1 ELSE 0 END), 0)::int
			FROM cases c, LATERAL (SELECT count(*) AS n FROM (`+fmt.Sprintf(clientMessagesAfter, lastReadBy)+`) x) u
			WHERE c.state = 'live' AND (c.assignee_id IS NULL AND`+inAgentsGroups+` OR c.assignee_id = $1)`, agentID).Scan(&n)
	})
	if err != nil {
		return 0, fmt.Errorf("count waiting chats: %w", err)
	}
	return n, nil
}

// MarkRead records that the agent has seen the chat's messages, up to its
// last one; other agents' unread stay.
func (s *Service) MarkRead(ctx context.Context, tid uuid.UUID, agentID, caseID int64) error {
	return s.db.InTenant(ctx, tid, func(tx pgx.Tx) error {
		return markReadTx(ctx, tx, tid, agentID, caseID)
	})
}

func markReadTx(ctx context.Context, tx pgx.Tx, tid uuid.UUID, agentID, caseID int64) error {
	var last int64
	err := tx.QueryRow(ctx, `WITH m AS (SELECT max(id) AS id FROM messages WHERE tenant_id = $1 AND case_id = $3)
		INSERT INTO chat_reads (tenant_id, agent_id, case_id, last_read_id) SELECT $1, $2, $3, m.id FROM m WHERE m.id IS NOT NULL
		ON CONFLICT (tenant_id, agent_id, case_id) DO UPDATE SET last_read_id = excluded.last_read_id, read_at = now()
			WHERE chat_reads.last_read_id < excluded.last_read_id
		RETURNING last_read_id`, tid, agentID, caseID).Scan(&last)
	if err == pgx.ErrNoRows {
		return nil // nothing new read
	}
	if err != nil {
		return fmt.Errorf("mark chat %d read: %w", caseID, err)
	}
	return realtime.Notify(ctx, tx, realtime.Event{TenantID: tid, Kind: realtime.KindRead, CaseID: caseID, Agent: agentID, Message: last})
}

// Reads are an agent's last read message by live chat.
func (s *Service) Reads(ctx context.Context, tid uuid.UUID, agentID int64) (map[int64]int64, error) {
	out := map[int64]int64{}
	err := s.db.InTenant(ctx, tid, func(tx pgx.Tx) error {
		rows, _ := tx.Query(ctx, `SELECT r.case_id, r.last_read_id FROM chat_reads r JOIN cases c ON c.tenant_id = r.tenant_id AND c.id = r.case_id
			WHERE r.agent_id = $1 AND c.state = 'live'`, agentID)
		var id, last int64
		_, err := pgx.ForEachRow(rows, []any{&id, &last}, func() error { out[id] = last; return nil })
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("read state: %w", err)
	}
	return out, nil
}

// ChatRow is a chat as the live list shows it to every agent, with its
// latest client messages' ids (newest first, at most UnreadCap) from which
// each agent's unread is counted.
type ChatRow struct {
	Case
	InIDs []int64
}

// Unread is how many of the row's client messages come after lastRead.
func (r ChatRow) Unread(lastRead int64) int {
	n := 0
	for _, id := range r.InIDs {
		if id > lastRead {
			n++
		}
	}
	return n
}

var selectChatRow = strings.Replace(selectCase, "\n\tFROM cases c", ", array("+fmt.Sprintf(clientMessagesAfter, "0")+") AS in_ids\n\tFROM cases c", 1)

// ChangedChats loads the chats with these ids and the live chats of these
// senders (a client's number or user id on an integration), whatever their
// state, for the live list.
func (s *Service) ChangedChats(ctx context.Context, tid uuid.UUID, ids []int64, senders []realtime.Sender) ([]ChatRow, error) {
	var out []ChatRow
	igs := make([]int64, len(senders))
	nums := make([]string, len(senders))
	for i, sd := range senders {
		igs[i], nums[i] = sd.IntegrationID, sd.Number
	}
	err := s.db.InTenant(ctx, tid, func(tx pgx.Tx) error {
		if len(senders) > 0 {
			rows, _ := tx.Query(ctx, `SELECT c.id FROM unnest($1::bigint[], $2::text[]) AS s(ig, num)
				CROSS JOIN LATERAL (SELECT id FROM clients WHERE whatsapp = s.num UNION SELECT id FROM clients WHERE whatsapp_user_id = s.num) cl
				JOIN cases c ON c.client_id = cl.id AND c.integration_id = s.ig AND c.state = 'live'`, igs, nums)
			more, err := pgx.CollectRows(rows, pgx.RowTo[int64])
			if err != nil {
				return err
			}
			ids = append(ids, more...)
		}
		if len(ids) == 0 {
			return nil
		}
		rows, _ := tx.Query(ctx, `SELECT x.* FROM (SELECT DISTINCT unnest($1::bigint[]) AS id) i, LATERAL (`+selectChatRow+` WHERE c.id = i.id) x`, ids)
		var err error
		out, err = pgx.CollectRows(rows, pgx.RowToStructByName[ChatRow])
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("changed chats: %w", err)
	}
	return out, nil
}
