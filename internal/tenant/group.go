package tenant

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"parley/internal/postgres"
	"parley/internal/problem"
	"parley/internal/realtime"
)

// Groups lists the tenant's groups with their members, by name.
func (s *Service) Groups(ctx context.Context, tid uuid.UUID) ([]Group, error) {
	var gs []Group
	err := s.db.InTenant(ctx, tid, func(tx pgx.Tx) error {
		rows, _ := tx.Query(ctx, `SELECT g.id, g.name,
				coalesce(array_agg(m.agent_id ORDER BY m.agent_id) FILTER (WHERE m.agent_id IS NOT NULL), '{}') AS member_ids
			FROM groups g LEFT JOIN group_members m ON m.tenant_id = g.tenant_id AND m.group_id = g.id
			GROUP BY g.tenant_id, g.id ORDER BY lower(g.name), g.id`)
		var err error
		gs, err = pgx.CollectRows(rows, pgx.RowToStructByName[Group])
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("list groups: %w", err)
	}
	return gs, nil
}

// Group returns one group of the tenant.
func (s *Service) Group(ctx context.Context, tid uuid.UUID, id int64) (Group, error) {
	gs, err := s.Groups(ctx, tid)
	if err != nil {
		return Group{}, err
	}
	for _, g := range gs {
		if g.ID == id {
			return g, nil
		}
	}
	return Group{}, problem.New(problem.NotFound, "No such group.")
}

// CreateGroup adds a group.
func (s *Service) CreateGroup(ctx context.Context, tid uuid.UUID, name string) (Group, error) {
	name = strings.TrimSpace(name)
	if err := checkGroupName(name); err != nil {
		return Group{}, err
	}
	g := Group{Name: name}
	err := s.db.InTenant(ctx, tid, func(tx pgx.Tx) error {
		return tx.QueryRow(ctx, `INSERT INTO groups (tenant_id, name) VALUES ($1, $2) RETURNING id`, tid, name).Scan(&g.ID)
	})
	if postgres.IsUniqueViolation(err, "groups_name_key") {
		return Group{}, problem.Field("name", "A group with this name already exists.")
	}
	if err != nil {
		return Group{}, fmt.Errorf("create group %q: %w", name, err)
	}
	return g, nil
}

// UpdateGroup renames a group and sets its members in one go.
func (s *Service) UpdateGroup(ctx context.Context, tid uuid.UUID, id int64, name string, memberIDs []int64) error {
	name = strings.TrimSpace(name)
	if err := checkGroupName(name); err != nil {
		return err
	}
	err := s.db.InTenant(ctx, tid, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `UPDATE groups SET name = $2 WHERE id = $1`, id, name)
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			return problem.New(problem.NotFound, "No such group.")
		}
		if _, err := tx.Exec(ctx, `DELETE FROM group_members WHERE group_id = $1 AND NOT (agent_id = ANY($2))`, id, memberIDs); err != nil {
			return err
		}
		// Only agents of this tenant exist in the tenant's view, so a
		// foreign id inserts nothing.
		if _, err = tx.Exec(ctx, `INSERT INTO group_members (tenant_id, group_id, agent_id)
			SELECT $1, $2, a.id FROM agents a WHERE a.id = ANY($3) ON CONFLICT DO NOTHING`, tid, id, memberIDs); err != nil {
			return err
		}
		// Agents' open pages now show the group's chats, or stop showing them.
		return realtime.Notify(ctx, tx, realtime.Event{TenantID: tid, Kind: realtime.KindTeam})
	})
	var pe *problem.Error
	switch {
	case errors.As(err, &pe):
		return err
	case postgres.IsUniqueViolation(err, "groups_name_key"):
		return problem.Field("name", "A group with this name already exists.")
	case err != nil:
		return fmt.Errorf("update group %d: %w", id, err)
	}
	return nil
}

func checkGroupName(name string) error {
	f := problem.Fields{}
	checkText(f, "name", name, "Group name", 100)
	return f.Err()
}
