package rule

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"parley/internal/macro"
	"parley/internal/ruleevent"
)

// SeedExamples gives a new tenant two ready rules, turned off, and the
// macro the first one sends: "After hours: send the after-hours macro"
// and "No agent reply for 5 minutes: move to the group".
func (s *Service) SeedExamples(ctx context.Context, tid uuid.UUID) error {
	return s.cache.change(ctx, tid, func(tx pgx.Tx) error {
		var groupID int64
		if err := tx.QueryRow(ctx, `SELECT min(id) FROM groups`).Scan(&groupID); err != nil {
			return fmt.Errorf("example rules: %w", err)
		}
		afterHours, err := macro.CreateTx(ctx, tx, tid, macro.General, macro.Form{Title: "After hours",
			Body: "Thanks for your message! We are away now and answer from 9:00 to 18:00, Monday to Friday."})
		if err != nil {
			return fmt.Errorf("after-hours macro: %w", err)
		}
		m, g := strconv.FormatInt(afterHours.ID, 10), strconv.FormatInt(groupID, 10)
		examples := []Rule{
			{Name: "After hours: send the after-hours macro", Trigger: ruleevent.ChatStarted, Match: "any",
				Conditions: []Condition{{"outside_hours", "09:00-18:00"}, {"weekdays", "sat,sun"}},
				Actions:    []Action{{"send_macro", m}}},
			{Name: "No agent reply for 5 minutes: move to the group", Trigger: ruleevent.NoAgentReply, Minutes: 5, Match: "all",
				Actions: []Action{{"assign_group", g}}},
		}
		for i, r := range examples {
			conds, _ := json.Marshal(r.Conditions)
			acts, _ := json.Marshal(r.Actions)
			if _, err := tx.Exec(ctx, `INSERT INTO rules (tenant_id, name, enabled, position, trigger, minutes, match, conditions, actions)
				VALUES ($1, $2, false, $3, $4, nullif($5, 0), $6, $7, $8)`, tid, r.Name, i+1, r.Trigger, r.Minutes, r.Match, conds, acts); err != nil {
				return fmt.Errorf("example rule: %w", err)
			}
		}
		return nil
	})
}
