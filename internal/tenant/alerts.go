package tenant

import (
	"context"
	"fmt"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
)

// Alerts are an agent's own choice of how new client messages reach them
// besides the indicator: a desktop notification, a sound. Both are off
// until the agent turns them on.
type Alerts struct {
	Desktop bool
	Sound   bool
}

// AlertsOf returns the agent's alerts.
func (s *Service) AlertsOf(ctx context.Context, tid uuid.UUID, agentID int64) (Alerts, error) {
	var a Alerts
	err := s.db.InTenant(ctx, tid, func(tx pgx.Tx) error {
		return tx.QueryRow(ctx, `SELECT alert_desktop, alert_sound FROM agents WHERE id = $1`, agentID).Scan(&a.Desktop, &a.Sound)
	})
	if err != nil {
		return a, fmt.Errorf("alerts of agent %d: %w", agentID, err)
	}
	return a, nil
}

// SetAlerts records the agent's alerts.
func (s *Service) SetAlerts(ctx context.Context, tid uuid.UUID, agentID int64, a Alerts) error {
	return s.db.InTenant(ctx, tid, func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, `UPDATE agents SET alert_desktop = $2, alert_sound = $3 WHERE id = $1`, agentID, a.Desktop, a.Sound)
		if err != nil {
			return fmt.Errorf("set alerts of agent %d: %w", agentID, err)
		}
		return nil
	})
}
