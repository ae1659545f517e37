// Package auth signs agents in and out: sessions kept in Postgres (so any
// replica serves any agent), and the lookup of the signed-in agent on every
// request, which is also what ends a deactivated agent's sessions at once.
package auth

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/alexedwards/scs/pgxstore"
	"github.com/alexedwards/scs/v2"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"parley/internal/clock"
	"parley/internal/postgres"
	"parley/internal/realtime"
	"parley/internal/tenant"
)

const (
	keyTenant = "tenant_id"
	keyAgent  = "agent_id"
	keyEpoch  = "session_epoch" // the agent's SessionEpoch at sign-in
)

// Sessions manages agents' sign-in sessions.
type Sessions struct {
	*scs.SessionManager
	db    *postgres.DB
	clock clock.Clock
}

// NewSessions stores sessions in the sessions table. Cookies are HttpOnly,
// SameSite=Lax, and Secure when secure is true (an https base URL).
func NewSessions(db *postgres.DB, c clock.Clock, secure bool) *Sessions {
	m := scs.New()
	// The periodic purge job deletes expired rows; no goroutine per replica.
	m.Store = pgxstore.NewWithCleanupInterval(db.Pool, 0)
	m.Lifetime = 14 * 24 * time.Hour
	m.IdleTimeout = 3 * 24 * time.Hour
	m.Cookie.Name = "parley_session"
	m.Cookie.HttpOnly = true
	m.Cookie.SameSite = http.SameSiteLaxMode
	m.Cookie.Secure = secure
	m.Cookie.Persist = true
	return &Sessions{SessionManager: m, db: db, clock: c}
}

// SignIn starts a session for agent, with a fresh token (no fixation).
func (s *Sessions) SignIn(ctx context.Context, a tenant.Agent) error {
	if err := s.RenewToken(ctx); err != nil {
		return fmt.Errorf("renew session token: %w", err)
	}
	s.Remove(ctx, keyPendingTenant)
	s.Remove(ctx, keyPendingAgent)
	s.Remove(ctx, keyPendingTries)
	s.Put(ctx, keyTenant, a.TenantID.String())
	s.Put(ctx, keyAgent, a.ID)
	s.Put(ctx, keyEpoch, a.SessionEpoch)
	return nil
}

const (
	keyPendingTenant = "pending_tenant_id"
	keyPendingAgent  = "pending_agent_id"
	keyPendingTries  = "pending_tries"
	// MaxCodeTries is how many wrong second-factor codes one password
	// entry allows.
	MaxCodeTries = 5
)

// BeginSecondFactor records that agent gave the right password and now owes
// a one-time code; the session is not signed in until SignIn.
func (s *Sessions) BeginSecondFactor(ctx context.Context, a tenant.Agent) error {
	if err := s.RenewToken(ctx); err != nil {
		return fmt.Errorf("renew session token: %w", err)
	}
	s.Remove(ctx, keyTenant)
	s.Remove(ctx, keyAgent)
	s.Put(ctx, keyPendingTenant, a.TenantID.String())
	s.Put(ctx, keyPendingAgent, a.ID)
	s.Put(ctx, keyPendingTries, 0)
	return nil
}

// PendingSecondFactor returns the agent who owes a code, if any.
func (s *Sessions) PendingSecondFactor(ctx context.Context) (uuid.UUID, int64, bool) {
	tid, err := uuid.Parse(s.GetString(ctx, keyPendingTenant))
	id := s.GetInt64(ctx, keyPendingAgent)
	if err != nil || id == 0 {
		return uuid.Nil, 0, false
	}
	return tid, id, true
}

// WrongCode counts a wrong code; after MaxCodeTries the password must be
// given again (false).
func (s *Sessions) WrongCode(ctx context.Context) bool {
	n := s.GetInt(ctx, keyPendingTries) + 1
	if n >= MaxCodeTries {
		s.Remove(ctx, keyPendingTenant)
		s.Remove(ctx, keyPendingAgent)
		s.Remove(ctx, keyPendingTries)
		return false
	}
	s.Put(ctx, keyPendingTries, n)
	return true
}

// SignOut ends the session; the agent's pages that held it stop their
// live updates (realtime.KindSignedOut).
func (s *Sessions) SignOut(ctx context.Context) error {
	tid, agent, signedIn := s.Current(ctx)
	if err := s.Destroy(ctx); err != nil {
		return fmt.Errorf("destroy session: %w", err)
	}
	if !signedIn {
		return nil
	}
	return s.db.InSystem(ctx, func(tx pgx.Tx) error {
		return realtime.Notify(ctx, tx, realtime.Event{TenantID: tid, Kind: realtime.KindSignedOut, Agent: agent})
	})
}

// Alive says whether the request's session is still stored (not signed
// out, not expired): a request as long as an event stream checks it now
// and then.
func (s *Sessions) Alive(ctx context.Context) (bool, error) {
	token := s.Token(ctx)
	if token == "" {
		return false, nil
	}
	_, found, err := s.Store.Find(token)
	if err != nil {
		return false, fmt.Errorf("find session: %w", err)
	}
	return found, nil
}

// Current returns who the session belongs to, if anyone.
func (s *Sessions) Current(ctx context.Context) (uuid.UUID, int64, bool) {
	tid, err := uuid.Parse(s.GetString(ctx, keyTenant))
	id := s.GetInt64(ctx, keyAgent)
	if err != nil || id == 0 {
		return uuid.Nil, 0, false
	}
	return tid, id, true
}

// Holds says whether the session, signed in as agent a, still holds: it
// was signed in after a's last password reset.
func (s *Sessions) Holds(ctx context.Context, a tenant.Agent) bool {
	return s.GetInt(ctx, keyEpoch) == a.SessionEpoch
}

// PurgeExpired deletes expired sessions; the periodic purge job calls it.
func (s *Sessions) PurgeExpired(ctx context.Context) (int64, error) {
	var n int64
	err := s.db.InSystem(ctx, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `DELETE FROM sessions WHERE expiry < $1`, s.clock.Now())
		n = tag.RowsAffected()
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("purge expired sessions: %w", err)
	}
	return n, nil
}
