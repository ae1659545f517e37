package rule

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"parley/internal/macro"
	"parley/internal/problem"
)

// List returns the tenant's rules in the order they run.
func (s *Service) List(ctx context.Context, tid uuid.UUID) ([]Rule, error) {
	var rs []Rule
	err := s.db.InTenant(ctx, tid, func(tx pgx.Tx) error {
		rows, _ := tx.Query(ctx, selectRule+` ORDER BY position, id`)
		var err error
		if rs, err = pgx.CollectRows(rows, scan); err != nil {
			return err
		}
		ref, err := loadRefs(ctx, tx)
		for i := range rs {
			rs[i].Broken = ref.broken(rs[i])
		}
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("list rules: %w", err)
	}
	return rs, nil
}

// refs are the ids of the tenant's groups, integrations, general macros
// and agents that rules may name, read once for a check, a listing or a run.
type refs map[string]map[string]bool

const selectRefs = `SELECT 'group', id::text FROM groups UNION ALL SELECT 'integration', id::text FROM integrations
	UNION ALL SELECT 'macro', id::text FROM (` + macro.SelectGeneralIDs + `) m UNION ALL SELECT 'agent', id::text FROM agents`

func loadRefs(ctx context.Context, tx pgx.Tx) (refs, error) {
	rows, _ := tx.Query(ctx, selectRefs)
	return scanRefs(rows)
}

func scanRefs(rows pgx.Rows) (refs, error) {
	out := refs{"group": {}, "integration": {}, "macro": {}, "agent": {}}
	var kind, id string
	_, err := pgx.ForEachRow(rows, []any{&kind, &id}, func() error {
		out[kind][id] = true
		return nil
	})
	return out, err
}

// broken says which group, integration or macro a rule names that no
// longer exists, or "".
func (ref refs) broken(r Rule) string {
	for _, c := range r.Conditions {
		if (c.Field == "integration" || c.Field == "group") && !ref[c.Field][c.Value] {
			return "its " + c.Field + " was deleted"
		}
	}
	for _, a := range r.Actions {
		switch {
		case a.Kind == "assign_group" && !ref["group"][a.Value]:
			return "its group was deleted"
		case a.Kind == "send_macro" && !ref["macro"][a.Value]:
			return "its macro was deleted"
		}
	}
	return ""
}

// SetEnabled turns a rule on or off.
func (s *Service) SetEnabled(ctx context.Context, tid uuid.UUID, id int64, on bool) error {
	return s.cache.change(ctx, tid, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `UPDATE rules SET enabled = $2 WHERE id = $1`, id, on)
		if err == nil && tag.RowsAffected() == 0 {
			return problem.New(problem.NotFound, "No such rule.")
		}
		return err
	})
}

// Move swaps a rule with the one before it (up) or after it in the order
// rules run.
func (s *Service) Move(ctx context.Context, tid uuid.UUID, id int64, up bool) error {
	return s.cache.change(ctx, tid, func(tx pgx.Tx) error {
		rows, _ := tx.Query(ctx, `SELECT id FROM rules ORDER BY position, id FOR UPDATE`)
		ids, err := pgx.CollectRows(rows, pgx.RowTo[int64])
		if err != nil {
			return err
		}
		i := slices.Index(ids, id)
		if i < 0 {
			return problem.New(problem.NotFound, "No such rule.")
		}
		j := i + 1
		if up {
			j = i - 1
		}
		if j < 0 || j >= len(ids) {
			return nil
		}
		ids[i], ids[j] = ids[j], ids[i]
		_, err = tx.Exec(ctx, `UPDATE rules SET position = array_position($1::bigint[], id)`, ids)
		return err
	})
}

// Save creates (id 0) or changes a rule after checking it.
func (s *Service) Save(ctx context.Context, tid uuid.UUID, id int64, r Rule) (int64, error) {
	if err := s.check(ctx, tid, &r); err != nil {
		return 0, err
	}
	conds, _ := json.Marshal(r.Conditions)
	acts, _ := json.Marshal(r.Actions)
	err := s.cache.change(ctx, tid, func(tx pgx.Tx) error {
		if id == 0 {
			return tx.QueryRow(ctx, `INSERT INTO rules (tenant_id, name, enabled, position, trigger, minutes, match, conditions, actions)
				VALUES ($1, $2, $3, (SELECT coalesce(max(position), 0) + 1 FROM rules), $4, nullif($8, 0), $5, $6, $7) RETURNING id`,
				tid, r.Name, r.Enabled, r.Trigger, r.Match, conds, acts, r.Minutes).Scan(&id)
		}
		tag, err := tx.Exec(ctx, `UPDATE rules SET name = $2, enabled = $3, trigger = $4, match = $5, conditions = $6, actions = $7, minutes = nullif($8, 0) WHERE id = $1`,
			id, r.Name, r.Enabled, r.Trigger, r.Match, conds, acts, r.Minutes)
		if err == nil && tag.RowsAffected() == 0 {
			return problem.New(problem.NotFound, "No such rule.")
		}
		return err
	})
	return id, err
}

// Delete removes a rule.
func (s *Service) Delete(ctx context.Context, tid uuid.UUID, id int64) error {
	return s.cache.change(ctx, tid, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `DELETE FROM rules WHERE id = $1`, id)
		if err == nil && tag.RowsAffected() == 0 {
			return problem.New(problem.NotFound, "No such rule.")
		}
		return err
	})
}
