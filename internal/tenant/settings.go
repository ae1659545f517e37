package tenant

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

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
// status an agent's "End chat" proposes, one of the tenant's statuses.
func (s *Service) UpdateChatSettings(ctx context.Context, tid uuid.UUID, st ChatSettings) error {
	f := problem.Fields{}
	if st.IdleMinutes < 1 || st.IdleMinutes > 1440 {
		f.Add("idle_minutes", "Enter a number of minutes from 1 to 1440 (24 hours).")
	}
	return s.db.InTenant(ctx, tid, func(tx pgx.Tx) error {
		if err := CheckStatusTx(ctx, tx, "end_status", st.EndStatus); err != nil {
			p, _ := problem.As(err)
			if p == nil {
				return err
			}
			for k, v := range p.Fields {
				f.Add(k, v)
			}
		}
		if err := f.Err(); err != nil {
			return err
		}
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

// DefaultStatuses are a new tenant's case statuses.
var DefaultStatuses = []string{"open", "pending", "solved", "closed"}

// MaxStatuses and MaxStatusRunes bound Settings → Statuses.
const (
	MaxStatuses    = 20
	MaxStatusRunes = 30
)

// Statuses returns the tenant's case statuses, in the order agents see
// them.
func (s *Service) Statuses(ctx context.Context, tid uuid.UUID) ([]string, error) {
	var st []string
	err := s.db.InTenant(ctx, tid, func(tx pgx.Tx) (err error) { st, err = StatusesTx(ctx, tx); return err })
	if err != nil {
		return nil, fmt.Errorf("statuses: %w", err)
	}
	return st, nil
}

// StatusesTx returns the statuses of the tenant of tx, a tenant
// transaction.
func StatusesTx(ctx context.Context, tx pgx.Tx) ([]string, error) {
	var st []string
	err := tx.QueryRow(ctx, `SELECT statuses FROM tenants WHERE id = current_tenant()`).Scan(&st)
	return st, err
}

// CheckStatusTx refuses a status that is not in the tenant's list, in
// words that name the list; field is the form field the words go next to.
// End chat, the case page, rules and macros all check through it.
func CheckStatusTx(ctx context.Context, tx pgx.Tx, field, status string) error {
	st, err := StatusesTx(ctx, tx)
	if err != nil {
		return fmt.Errorf("statuses: %w", err)
	}
	if slices.Contains(st, status) {
		return nil
	}
	if strings.TrimSpace(status) == "" {
		return problem.Field(field, "Choose a status.")
	}
	return problem.Field(field, fmt.Sprintf("“%s” is not one of this workspace's statuses (%s). An admin can add it in Settings → Statuses.",
		shorten(status, 40), strings.Join(st, ", ")))
}

func shorten(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	return string([]rune(s)[:n-1]) + "…"
}

// UpdateStatuses replaces the tenant's statuses (one per line as typed in
// Settings → Statuses): each 1 to 30 characters, kept in lower case, no
// repeats, 1 to 20 of them. The status End chat proposes must stay in
// the list. Cases keep the status they have.
func (s *Service) UpdateStatuses(ctx context.Context, tid uuid.UUID, typed []string) error {
	var list []string
	for _, t := range typed {
		t = strings.ToLower(strings.Join(strings.Fields(t), " "))
		if t == "" || slices.Contains(list, t) {
			continue
		}
		if utf8.RuneCountInString(t) > MaxStatusRunes {
			return problem.Field("statuses", fmt.Sprintf("“%s” is longer than %d characters; shorten it.", shorten(t, 40), MaxStatusRunes))
		}
		list = append(list, t)
	}
	switch {
	case len(list) == 0:
		return problem.Field("statuses", "Keep at least one status.")
	case len(list) > MaxStatuses:
		return problem.Field("statuses", fmt.Sprintf("Keep at most %d statuses.", MaxStatuses))
	}
	return s.db.InTenant(ctx, tid, func(tx pgx.Tx) error {
		var end string
		if err := tx.QueryRow(ctx, `SELECT chat_end_status FROM tenants WHERE id = current_tenant() FOR UPDATE`).Scan(&end); err != nil {
			return err
		}
		if !slices.Contains(list, end) {
			return problem.Field("statuses", fmt.Sprintf("“%s” is the status End chat proposes: choose another in Settings → Chats before removing it.", end))
		}
		_, err := tx.Exec(ctx, `UPDATE tenants SET statuses = $1 WHERE id = current_tenant()`, list)
		return err
	})
}
