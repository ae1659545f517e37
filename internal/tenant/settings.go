package tenant

import (
	"context"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"parley/internal/problem"
)

// ChatSettings are a tenant's chat settings (Settings → Chats).
type ChatSettings struct {
	IdleMinutes int
	EndStatus   string
}

// ChatSettings returns the tenant's chat settings.
func (s *Service) ChatSettings(ctx context.Context, tid uuid.UUID) (ChatSettings, error) {
	var st ChatSettings
	err := s.db.InTenant(ctx, tid, func(tx pgx.Tx) error {
		return tx.QueryRow(ctx, `SELECT chat_idle_minutes, chat_end_status FROM tenants`).Scan(&st.IdleMinutes, &st.EndStatus)
	})
	return st, err
}

// UpdateChatSettings sets the idle timeout (1 to 1440 minutes) and the
// status an agent's "End chat" proposes. The statuses are the
// conversation's: validStatus says which are (conversation.ValidStatus).
func (s *Service) UpdateChatSettings(ctx context.Context, tid uuid.UUID, st ChatSettings, validStatus func(string) bool) error {
	f := problem.Fields{}
	if st.IdleMinutes < 1 || st.IdleMinutes > 1440 {
		f.Add("idle_minutes", "Enter a number of minutes from 1 to 1440 (24 hours).")
	}
	if !validStatus(st.EndStatus) {
		f.Add("end_status", "Choose a status.")
	}
	if err := f.Err(); err != nil {
		return err
	}
	return s.db.InTenant(ctx, tid, func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, `UPDATE tenants SET chat_idle_minutes = $1, chat_end_status = $2`, st.IdleMinutes, st.EndStatus)
		return err
	})
}

// TimeZone is the tenant's time zone for business hours (IANA name).
func (s *Service) TimeZone(ctx context.Context, tid uuid.UUID) (string, error) {
	var z string
	err := s.db.InTenant(ctx, tid, func(tx pgx.Tx) (err error) { z, err = TimeZoneTx(ctx, tx); return err })
	return z, err
}

// TimeZoneTx is the time zone of the tenant of tx, a tenant transaction.
func TimeZoneTx(ctx context.Context, tx pgx.Tx) (string, error) {
	var z string
	err := tx.QueryRow(ctx, `SELECT time_zone FROM tenants WHERE id = current_tenant()`).Scan(&z)
	return z, err
}

// SetTimeZoneTx changes the time zone of the tenant of tx, a tenant
// transaction; the name must be one Go knows (IANA, e.g. "Europe/Berlin").
// Rules read it through their cache: change it through rule's SetTimeZone,
// which empties the cache.
func SetTimeZoneTx(ctx context.Context, tx pgx.Tx, zone string) error {
	zone = strings.TrimSpace(zone)
	if _, err := time.LoadLocation(zone); err != nil || zone == "" || zone == "Local" {
		return problem.Field("time_zone", "Write a time zone such as Europe/Berlin or America/New_York.")
	}
	_, err := tx.Exec(ctx, `UPDATE tenants SET time_zone = $1 WHERE id = current_tenant()`, zone)
	return err
}
