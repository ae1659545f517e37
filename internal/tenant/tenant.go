// Package tenant holds tenants (the companies using Parley), their agents and
// groups: sign-up, sign-in checks, invitations and group membership.
package tenant

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"net/mail"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"parley/internal/clock"
	"parley/internal/postgres"
	"parley/internal/problem"
	"parley/internal/realtime"
)

// Roles an agent can have.
const (
	RoleAdmin = "admin"
	RoleAgent = "agent"
)

// InvitationTTL is how long an invitation link works.
const InvitationTTL = 7 * 24 * time.Hour

// Tenant is one customer company.
type Tenant struct {
	ID          uuid.UUID
	Name        string
	RequireTOTP bool // every agent needs a second factor
}

// Agent is a person of a tenant who answers clients.
type Agent struct {
	TenantID    uuid.UUID
	ID          int64
	Email       string
	Name        string
	Role        string
	Active      bool
	HasPassword bool
	CreatedAt   time.Time
	SeenAt      *time.Time // last sign of an open page (see MarkOnline)
	Away        bool       // said so: takes no round-robin chats
	HasTOTP     bool       // signs in with a second factor
	// EnterBreaksLine: in the reply box, Enter breaks the line and
	// Shift+Enter sends (by default Enter sends).
	EnterBreaksLine bool
	// SessionEpoch grows when the password is reset: sessions signed in
	// under an earlier one are over.
	SessionEpoch int
	Online       bool `db:"-"`
}

// OnlineFor is how long an agent counts as online after their open page
// last showed a sign of life (it does every 25 seconds).
const OnlineFor = time.Minute

// OnlineSince is the earliest sign of life of an agent online at now.
func OnlineSince(now time.Time) time.Time { return now.Add(-OnlineFor) }

// SetEnterBreaksLine records the agent's choice of what Enter does in the
// reply box.
func (s *Service) SetEnterBreaksLine(ctx context.Context, tid uuid.UUID, agentID int64, breaks bool) error {
	return s.db.InTenant(ctx, tid, func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, `UPDATE agents SET enter_breaks_line = $2 WHERE id = $1`, agentID, breaks)
		if err != nil {
			return fmt.Errorf("set enter key of agent %d: %w", agentID, err)
		}
		return nil
	})
}

// SetAway records that the agent is away (or back): round-robin rules
// pass them over while they are.
func (s *Service) SetAway(ctx context.Context, tid uuid.UUID, agentID int64, away bool) error {
	return s.db.InTenant(ctx, tid, func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, `UPDATE agents SET away = $2 WHERE id = $1`, agentID, away)
		return err
	})
}

// MarkOnline records that the agent has a page open now.
func (s *Service) MarkOnline(ctx context.Context, tid uuid.UUID, agentID int64) error {
	return s.db.InTenant(ctx, tid, func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, `UPDATE agents SET seen_at = $2 WHERE id = $1`, agentID, s.clock.Now())
		return err
	})
}

// IsAdmin says whether the agent may open Settings.
func (a Agent) IsAdmin() bool { return a.Role == RoleAdmin }

// Group is a team of agents; every case belongs to one.
type Group struct {
	ID        int64
	Name      string
	MemberIDs []int64
}

// Service is the tenant domain.
type Service struct {
	db      *postgres.DB
	clock   clock.Clock
	mailing Accounts
}

// NewService returns the tenant service.
func NewService(db *postgres.DB, c clock.Clock) *Service {
	return &Service{db: db, clock: c, mailing: Accounts{Log: slog.Default()}}
}

// SignUpForm is what the sign-up page posts.
type SignUpForm struct {
	Company, Name, Email, Password string
	// Verified skips the email confirmation (the sandbox's demo admin).
	Verified bool
}

// SignUp creates a tenant, its first admin and a default group.
//
// When Parley sends mail, the answer does not tell whether the email was
// registered already (issue 22): a new admin gets a link to confirm it,
// which signs them in, and the owner of a registered email gets a mail
// saying so, with links to log in and to reset the password; SignUp then
// returns no agent and no error. Without mail it can only say so.
func (s *Service) SignUp(ctx context.Context, f SignUpForm) (Agent, error) {
	fields := problem.Fields{}
	f.Company = strings.TrimSpace(f.Company)
	checkText(fields, "company", f.Company, "Company name", 200)
	f.Name, f.Email = strings.TrimSpace(f.Name), normalizeEmail(f.Email)
	checkText(fields, "name", f.Name, "Your name", 200)
	checkEmail(fields, "email", f.Email)
	checkPasswordRules(fields, "password", f.Password)
	if err := fields.Err(); err != nil {
		return Agent{}, err
	}
	hash, err := hashPassword(f.Password)
	if err != nil {
		return Agent{}, err
	}
	tid := uuid.New()
	var a Agent
	err = s.db.InTenant(ctx, tid, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `INSERT INTO tenants (id, name) VALUES ($1, $2)`, tid, f.Company); err != nil {
			return fmt.Errorf("insert tenant: %w", err)
		}
		if _, err := tx.Exec(ctx, `INSERT INTO groups (tenant_id, name) VALUES ($1, 'Support')`, tid); err != nil {
			return fmt.Errorf("insert default group: %w", err)
		}
		a, err = insertAgent(ctx, tx, tid, f.Email, f.Name, RoleAdmin, &hash)
		if err != nil {
			return err
		}
		if s.MailEnabled() && !f.Verified { // the first admin confirms their email
			if _, err := tx.Exec(ctx, `UPDATE agents SET email_verified = false WHERE id = $1`, a.ID); err != nil {
				return err
			}
		}
		_, err = tx.Exec(ctx, `INSERT INTO group_members (tenant_id, group_id, agent_id) SELECT $1, id, $2 FROM groups`, tid, a.ID)
		return err
	})
	if errors.Is(err, errEmailTaken) && s.MailEnabled() && !f.Verified {
		return Agent{}, s.mailing.Mail.Send(ctx, f.Email, "You already have a Parley account",
			"Someone, perhaps you, tried to sign up a new company on Parley with "+f.Email+".\n\n"+
				"This email already has an account. Log in: "+s.mailing.BaseURL+"/login\n"+
				"Forgot your password? Reset it: "+s.mailing.BaseURL+"/forgot\n\n"+
				"If it was not you, you can ignore this mail: nothing was changed.\n")
	}
	if err != nil {
		return Agent{}, fmt.Errorf("sign up %q: %w", f.Email, err)
	}
	if s.MailEnabled() && !f.Verified {
		// The helpdesk exists: a mail that fails now is sent again at the
		// next log-in.
		if err := s.sendVerification(ctx, tid, a.ID, a.Email); err != nil {
			s.mailing.Log.Error("confirmation mail not sent", "tenant", tid, "agent", a.ID, "err", err)
		}
	}
	return a, nil
}

// errEmailTaken refuses a second agent with an email (emails are unique
// across tenants: the login form takes only an email).
var errEmailTaken = problem.Field("email", "This email is already registered. Sign in instead, or use another email.")

func insertAgent(ctx context.Context, tx pgx.Tx, tid uuid.UUID, email, name, role string, hash *string) (Agent, error) {
	rows, err := tx.Query(ctx, `INSERT INTO agents (tenant_id, email, name, role, password_hash)
		VALUES ($1, $2, $3, $4, $5) RETURNING `+agentColumns, tid, email, name, role, hash)
	if err != nil {
		return Agent{}, err
	}
	a, err := pgx.CollectExactlyOneRow(rows, pgx.RowToStructByName[Agent])
	if postgres.IsUniqueViolation(err, "agents_email_key") {
		return Agent{}, errEmailTaken
	}
	if err != nil {
		return Agent{}, fmt.Errorf("insert agent: %w", err)
	}
	return a, nil
}

const agentColumns = `tenant_id, id, email, name, role, active, password_hash IS NOT NULL AS has_password, created_at, seen_at, away, totp_secret IS NOT NULL AS has_totp, enter_breaks_line, session_epoch`

// ErrBadCredentials is the one answer to a wrong email or password.
var ErrBadCredentials = problem.New(problem.Unauthorized, "The email or password is wrong.")

// Authenticate returns the active agent with this email and password.
func (s *Service) Authenticate(ctx context.Context, email, password string) (Agent, error) {
	var (
		tid      uuid.UUID
		id       int64
		hash     *string
		active   bool
		verified bool
	)
	err := s.db.InSystem(ctx, func(tx pgx.Tx) error {
		return tx.QueryRow(ctx, `SELECT tenant_id, agent_id, password_hash, active, email_verified FROM login_lookup($1)`,
			normalizeEmail(email)).Scan(&tid, &id, &hash, &active, &verified)
	})
	if errors.Is(err, pgx.ErrNoRows) || hash == nil {
		_, _ = checkPassword(dummyHash, password)
		return Agent{}, ErrBadCredentials
	}
	if err != nil {
		return Agent{}, fmt.Errorf("look up agent for sign-in: %w", err)
	}
	ok, err := checkPassword(*hash, password)
	if err != nil {
		return Agent{}, fmt.Errorf("check password of agent %d: %w", id, err)
	}
	if !ok {
		return Agent{}, ErrBadCredentials
	}
	if !active {
		return Agent{}, problem.New(problem.Unauthorized, "This account has been deactivated. Ask an admin of your company.")
	}
	if !verified && s.MailEnabled() {
		if err := s.sendVerification(ctx, tid, id, normalizeEmail(email)); err != nil {
			return Agent{}, err
		}
		return Agent{}, problem.New(problem.Unauthorized, "Confirm your email first: we have sent you a new link. Open it, then log in.")
	}
	return s.Agent(ctx, tid, id)
}

// Tenant returns the tenant.
func (s *Service) Tenant(ctx context.Context, tid uuid.UUID) (Tenant, error) {
	var t Tenant
	err := s.db.InTenant(ctx, tid, func(tx pgx.Tx) error {
		return tx.QueryRow(ctx, `SELECT id, name, require_totp FROM tenants`).Scan(&t.ID, &t.Name, &t.RequireTOTP)
	})
	if err != nil {
		return t, fmt.Errorf("load tenant %s: %w", tid, err)
	}
	return t, nil
}

// Agent returns one agent of the tenant.
func (s *Service) Agent(ctx context.Context, tid uuid.UUID, id int64) (Agent, error) {
	var a Agent
	err := s.db.InTenant(ctx, tid, func(tx pgx.Tx) error {
		var err error
		a, err = AgentTx(ctx, tx, id)
		return err
	})
	return a, err
}

// AgentTx returns one agent of the transaction's tenant.
func AgentTx(ctx context.Context, tx pgx.Tx, id int64) (Agent, error) {
	rows, _ := tx.Query(ctx, `SELECT `+agentColumns+` FROM agents WHERE id = $1`, id)
	a, err := pgx.CollectExactlyOneRow(rows, pgx.RowToStructByName[Agent])
	if errors.Is(err, pgx.ErrNoRows) {
		return a, problem.New(problem.NotFound, "No such agent.")
	}
	if err != nil {
		return a, fmt.Errorf("load agent %d: %w", id, err)
	}
	return a, nil
}

// Agents lists the tenant's agents by name.
func (s *Service) Agents(ctx context.Context, tid uuid.UUID) ([]Agent, error) {
	var as []Agent
	err := s.db.InTenant(ctx, tid, func(tx pgx.Tx) error {
		rows, _ := tx.Query(ctx, `SELECT `+agentColumns+` FROM agents ORDER BY active DESC, lower(name), id`)
		var err error
		as, err = pgx.CollectRows(rows, pgx.RowToStructByName[Agent])
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("list agents: %w", err)
	}
	since := OnlineSince(s.clock.Now())
	for i, a := range as {
		as[i].Online = a.Active && a.SeenAt != nil && a.SeenAt.After(since)
	}
	return as, nil
}

// NewAgentForm is what an admin fills to add an agent: either a password, or
// an invitation link to send them.
type NewAgentForm struct {
	Email, Name, Role, Password string
	Invite                      bool
}

// CreateAgent adds an agent. With Invite it returns the invitation token
// (shown once as a link); otherwise the agent signs in with Password.
func (s *Service) CreateAgent(ctx context.Context, tid uuid.UUID, f NewAgentForm) (Agent, string, error) {
	fields := problem.Fields{}
	f.Name, f.Email = strings.TrimSpace(f.Name), normalizeEmail(f.Email)
	checkText(fields, "name", f.Name, "Name", 200)
	checkEmail(fields, "email", f.Email)
	if f.Role != RoleAdmin && f.Role != RoleAgent {
		fields.Add("role", "Choose admin or agent.")
	}
	if !f.Invite {
		checkPasswordRules(fields, "password", f.Password)
	}
	if err := fields.Err(); err != nil {
		return Agent{}, "", err
	}
	var hash *string
	if !f.Invite {
		h, err := hashPassword(f.Password)
		if err != nil {
			return Agent{}, "", err
		}
		hash = &h
	}
	var (
		a     Agent
		token string
	)
	err := s.db.InTenant(ctx, tid, func(tx pgx.Tx) error {
		var err error
		if a, err = insertAgent(ctx, tx, tid, f.Email, f.Name, f.Role, hash); err != nil {
			return err
		}
		if !f.Invite {
			return nil
		}
		token, err = newToken()
		if err != nil {
			return err
		}
		_, err = tx.Exec(ctx, `INSERT INTO invitations (tenant_id, agent_id, token_hash, expires_at) VALUES ($1, $2, $3, $4)`,
			tid, a.ID, tokenHash(token), s.clock.Now().Add(InvitationTTL))
		return err
	})
	if err != nil {
		return Agent{}, "", fmt.Errorf("create agent %q: %w", f.Email, err)
	}
	return a, token, nil
}

// SetAgentActive activates or deactivates an agent. A deactivated agent
// cannot sign in and their open sessions stop working at the next request.
// An admin cannot deactivate themselves, so a tenant always keeps an admin.
func (s *Service) SetAgentActive(ctx context.Context, tid uuid.UUID, by, id int64, active bool) error {
	if by == id && !active {
		return problem.New(problem.Conflict, "You cannot deactivate yourself.")
	}
	return s.db.InTenant(ctx, tid, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `UPDATE agents SET active = $2 WHERE id = $1`, id, active)
		if err != nil {
			return fmt.Errorf("set agent %d active=%t: %w", id, active, err)
		}
		if tag.RowsAffected() == 0 {
			return problem.New(problem.NotFound, "No such agent.")
		}
		// A deactivated agent's open pages stop receiving live updates.
		return realtime.Notify(ctx, tx, realtime.Event{TenantID: tid, Kind: realtime.KindTeam})
	})
}

// Invitation is what an invitation link leads to.
type Invitation struct {
	Tenant Tenant
	Agent  Agent
}

// LookUpInvitation finds the agent an unexpired invitation token is for.
func (s *Service) LookUpInvitation(ctx context.Context, token string) (Invitation, error) {
	var (
		inv     Invitation
		tid     uuid.UUID
		agentID int64
		expires time.Time
	)
	err := s.db.InSystem(ctx, func(tx pgx.Tx) error {
		return tx.QueryRow(ctx, `SELECT tenant_id, agent_id, expires_at FROM invitation_lookup($1)`, tokenHash(token)).
			Scan(&tid, &agentID, &expires)
	})
	if errors.Is(err, pgx.ErrNoRows) || (err == nil && !expires.After(s.clock.Now())) {
		return inv, problem.New(problem.NotFound, "This invitation link is unknown or has expired. Ask an admin for a new one.")
	}
	if err != nil {
		return inv, fmt.Errorf("look up invitation: %w", err)
	}
	if inv.Tenant, err = s.Tenant(ctx, tid); err != nil {
		return inv, err
	}
	if inv.Agent, err = s.Agent(ctx, tid, agentID); err != nil {
		return inv, err
	}
	return inv, nil
}

// AcceptInvitation sets the invited agent's password and uses up the link.
func (s *Service) AcceptInvitation(ctx context.Context, token, password string) (Agent, error) {
	inv, err := s.LookUpInvitation(ctx, token)
	if err != nil {
		return Agent{}, err
	}
	fields := problem.Fields{}
	checkPasswordRules(fields, "password", password)
	if err := fields.Err(); err != nil {
		return Agent{}, err
	}
	hash, err := hashPassword(password)
	if err != nil {
		return Agent{}, err
	}
	err = s.db.InTenant(ctx, inv.Tenant.ID, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `DELETE FROM invitations WHERE token_hash = $1`, tokenHash(token))
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 { // accepted a moment ago in another tab
			return problem.New(problem.NotFound, "This invitation link has already been used.")
		}
		_, err = tx.Exec(ctx, `UPDATE agents SET password_hash = $2 WHERE id = $1`, inv.Agent.ID, hash)
		return err
	})
	if err != nil {
		return Agent{}, fmt.Errorf("accept invitation: %w", err)
	}
	return s.Agent(ctx, inv.Tenant.ID, inv.Agent.ID)
}

// PurgeExpired deletes invitations past their expiry in every
// tenant; the periodic purge job calls it.
func (s *Service) PurgeExpired(ctx context.Context) (int64, error) {
	var n int64
	err := s.db.InSystem(ctx, func(tx pgx.Tx) error {
		return tx.QueryRow(ctx, `SELECT purge_expired_invitations($1)`, s.clock.Now()).Scan(&n)
	})
	if err != nil {
		return 0, fmt.Errorf("purge expired invitations: %w", err)
	}
	m, err := s.PurgeExpiredAccountTokens(ctx)
	return n + m, err
}

func newToken() (string, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("random token: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

// tokenHash is what is stored of a token: a database leak does not leak links.
func tokenHash(token string) []byte {
	h := sha256.Sum256([]byte(token))
	return h[:]
}

func normalizeEmail(e string) string { return strings.ToLower(strings.TrimSpace(e)) }

func checkText(f problem.Fields, field, v, label string, max int) {
	switch {
	case v == "":
		f.Add(field, label+" is required.")
	case utf8.RuneCountInString(v) > max:
		f.Add(field, fmt.Sprintf("%s must be at most %d characters.", label, max))
	}
}

func checkEmail(f problem.Fields, field, v string) {
	if v == "" {
		f.Add(field, "Email is required.")
		return
	}
	if !ValidEmail(v) {
		f.Add(field, "Enter an email address like name@example.com.")
	}
}

// ValidEmail says whether v is one plain email address (no display name)
// with a dot in its domain, of at most 254 bytes: agents' and clients'.
func ValidEmail(v string) bool {
	a, err := mail.ParseAddress(v)
	return err == nil && a.Address == v && strings.Contains(v[strings.LastIndex(v, "@")+1:], ".") && len(v) <= 254
}

func checkPasswordRules(f problem.Fields, field, pw string) {
	switch n := utf8.RuneCountInString(pw); {
	case n < MinPasswordLen:
		f.Add(field, fmt.Sprintf("Use at least %d characters.", MinPasswordLen))
	case len(pw) > 1000:
		f.Add(field, "Use at most 1000 characters.")
	}
}

// Signed is the agent behind a session, with their tenant.
type Signed struct {
	Tenant Tenant
	Agent  Agent
}

// SignedIn loads the agent of a session and their tenant in one transaction.
// An agent who has been deactivated, or no longer exists, is a NotFound
// problem: the caller ends the session.
func (s *Service) SignedIn(ctx context.Context, tid uuid.UUID, agentID int64) (Signed, error) {
	var sg Signed
	err := s.db.InTenant(ctx, tid, func(tx pgx.Tx) error {
		if err := tx.QueryRow(ctx, `SELECT id, name, require_totp FROM tenants`).Scan(&sg.Tenant.ID, &sg.Tenant.Name, &sg.Tenant.RequireTOTP); err != nil {
			return fmt.Errorf("load tenant: %w", err)
		}
		var err error
		sg.Agent, err = AgentTx(ctx, tx, agentID)
		return err
	})
	if err == nil && !sg.Agent.Active {
		return sg, problem.New(problem.NotFound, "This account has been deactivated.")
	}
	return sg, err
}
