package rule

import (
	"context"
	"fmt"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"parley/internal/ruleevent"
)

// waitingChats finds, for one waiting rule, the live chats whose wait is
// over and that the rule has not fired for in this waiting period: no
// agent reply since the client's last message, or no client reply since
// the agents' last message, for the rule's minutes.
const waitingChats = `
WITH last AS (
	SELECT c.id AS case_id, c.last_client_message_at AS client_at,
		(SELECT max(m.created_at) FROM messages m WHERE m.tenant_id = c.tenant_id AND m.case_id = c.id AND m.direction = 'out') AS agent_at
	FROM cases c WHERE c.state = 'live'),
w AS (SELECT *, CASE WHEN $2 = 'no_agent_reply' THEN client_at ELSE agent_at END AS since FROM last)
INSERT INTO rule_fires (tenant_id, rule_id, case_id, period_start)
SELECT current_tenant(), $1, w.case_id, w.since FROM w
WHERE w.since IS NOT NULL AND w.since <= $3::timestamptz - make_interval(mins => $4)
	AND CASE WHEN $2 = 'no_agent_reply' THEN w.agent_at IS NULL OR w.agent_at < w.client_at
	         ELSE w.client_at IS NULL OR w.client_at < w.agent_at END
ON CONFLICT DO NOTHING
RETURNING case_id`

// SweepWaiting fires the waiting rules whose wait is over, each once per
// waiting period, as rule events recorded with the firing. A periodic job
// calls it.
func (s *Service) SweepWaiting(ctx context.Context) (int, error) {
	var tenants []uuid.UUID
	err := s.db.InSystem(ctx, func(tx pgx.Tx) error {
		rows, _ := tx.Query(ctx, `SELECT * FROM waiting_rule_tenants()`)
		var err error
		tenants, err = pgx.CollectRows(rows, pgx.RowTo[uuid.UUID])
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("tenants with waiting rules: %w", err)
	}
	fired := 0
	for _, tid := range tenants {
		err := s.db.InTenant(ctx, tid, func(tx pgx.Tx) error {
			rows, _ := tx.Query(ctx, selectRule+` WHERE enabled AND trigger IN ('no_client_reply', 'no_agent_reply') ORDER BY position, id`)
			rules, err := pgx.CollectRows(rows, scan)
			if err != nil {
				return err
			}
			for _, r := range rules {
				rows, _ := tx.Query(ctx, waitingChats, r.ID, r.Trigger, s.clock.Now(), r.Minutes)
				cases, err := pgx.CollectRows(rows, pgx.RowTo[int64])
				if err != nil {
					return fmt.Errorf("waiting chats of rule %d: %w", r.ID, err)
				}
				if len(cases) == 0 {
					continue
				}
				evs := make([]ruleevent.Event, len(cases))
				for i, c := range cases {
					evs[i] = ruleevent.Event{CaseID: c, Chain: ruleevent.NewChain()}
				}
				if err := s.events.Record(ctx, tx, tid, r.Trigger, r.ID, evs); err != nil {
					return err
				}
				fired += len(cases)
			}
			return nil
		})
		if err != nil {
			return fired, err
		}
	}
	return fired, nil
}
