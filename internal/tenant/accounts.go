package tenant

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"parley/internal/credential"
	"parley/internal/mail"
	"parley/internal/problem"
	"parley/internal/realtime"
)

// How long the links Parley mails work.
const (
	ResetTTL  = time.Hour
	VerifyTTL = 7 * 24 * time.Hour
)

// Purposes of account tokens.
const (
	purposeReset  = "reset"
	purposeVerify = "verify"
)

// ErrResetLink is the one answer to a reset link that is unknown, used or
// expired.
var ErrResetLink = problem.New(problem.NotFound, "This password reset link is unknown, already used or expired. Ask for a new one.")

// ErrVerifyLink is the one answer to a confirmation link that is unknown,
// used or expired.
var ErrVerifyLink = problem.New(problem.NotFound, "This confirmation link is unknown, already used or expired. Log in to get a new one.")

// Accounts is what the service needs for accounts beyond passwords: how
// to mail agents (with Mail nil or unset no mail goes out: invitation links
// are then shown to the admin, and new admins need no confirmation), and
// the sealer of second-factor secrets.
type Accounts struct {
	Mail    *mail.Mailer
	BaseURL string // links in mails start with it
	Log     *slog.Logger
	Sealer  *credential.Sealer
}

// SetAccounts configures mails and second factors.
func (s *Service) SetAccounts(m Accounts) {
	if m.Log == nil {
		m.Log = slog.Default()
	}
	s.mailing = m
}

// MailEnabled says whether the service sends mails.
func (s *Service) MailEnabled() bool { return s.mailing.Mail.Enabled() }

// newAccountToken stores a fresh token of purpose for the agent (in tx,
// a transaction of the agent's tenant), replacing their earlier ones, and
// returns it: only its hash is stored.
func (s *Service) newAccountToken(ctx context.Context, tx pgx.Tx, tid uuid.UUID, agentID int64, purpose string, ttl time.Duration) (string, error) {
	token, err := newToken()
	if err != nil {
		return "", err
	}
	if _, err := tx.Exec(ctx, `DELETE FROM account_tokens WHERE agent_id = $1 AND purpose = $2`, agentID, purpose); err != nil {
		return "", fmt.Errorf("drop earlier %s tokens: %w", purpose, err)
	}
	if _, err := tx.Exec(ctx, `INSERT INTO account_tokens (tenant_id, agent_id, purpose, token_hash, expires_at) VALUES ($1, $2, $3, $4, $5)`,
		tid, agentID, purpose, tokenHash(token), s.clock.Now().Add(ttl)); err != nil {
		return "", fmt.Errorf("store %s token: %w", purpose, err)
	}
	return token, nil
}

// lookUpAccountToken finds the tenant and agent of an unexpired token.
func (s *Service) lookUpAccountToken(ctx context.Context, token, purpose string) (uuid.UUID, int64, bool, error) {
	var (
		tid     uuid.UUID
		agentID int64
		expires time.Time
	)
	err := s.db.InSystem(ctx, func(tx pgx.Tx) error {
		return tx.QueryRow(ctx, `SELECT tenant_id, agent_id, expires_at FROM account_token_lookup($1, $2)`, tokenHash(token), purpose).
			Scan(&tid, &agentID, &expires)
	})
	if errors.Is(err, pgx.ErrNoRows) || (err == nil && !expires.After(s.clock.Now())) {
		return tid, 0, false, nil
	}
	if err != nil {
		return tid, 0, false, fmt.Errorf("look up %s token: %w", purpose, err)
	}
	return tid, agentID, true, nil
}

// useAccountToken deletes the token in tx; false when it was used a moment
// ago (another tab, a replay).
func useAccountToken(ctx context.Context, tx pgx.Tx, token, purpose string) (bool, error) {
	tag, err := tx.Exec(ctx, `DELETE FROM account_tokens WHERE token_hash = $1 AND purpose = $2`, tokenHash(token), purpose)
	if err != nil {
		return false, fmt.Errorf("use %s token: %w", purpose, err)
	}
	return tag.RowsAffected() == 1, nil
}

// RequestPasswordReset mails a reset link to the active agent with this
// email, if there is one. It answers the same either way (nil, unless the
// database fails), and the mail goes out after it returns, so neither the
// answer nor its time tells whether the email is registered.
func (s *Service) RequestPasswordReset(ctx context.Context, email string) error {
	email = normalizeEmail(email)
	fields := problem.Fields{}
	checkEmail(fields, "email", email)
	if err := fields.Err(); err != nil {
		return err
	}
	var (
		tid    uuid.UUID
		id     int64
		hash   *string
		active bool
		ok     bool
	)
	err := s.db.InSystem(ctx, func(tx pgx.Tx) error {
		return tx.QueryRow(ctx, `SELECT tenant_id, agent_id, password_hash, active, email_verified FROM login_lookup($1)`, email).
			Scan(&tid, &id, &hash, &active, &ok)
	})
	if errors.Is(err, pgx.ErrNoRows) || (err == nil && !active) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("look up agent for reset: %w", err)
	}
	var token string
	err = s.db.InTenant(ctx, tid, func(tx pgx.Tx) error {
		token, err = s.newAccountToken(ctx, tx, tid, id, purposeReset, ResetTTL)
		return err
	})
	if err != nil {
		return err
	}
	s.sendLater(email, "Reset your Parley password",
		"Someone (we hope you) asked to reset the password of your Parley account "+email+".\n\n"+
			"Choose a new password here (the link works once, for one hour):\n\n"+
			s.mailing.BaseURL+"/reset/"+token+"\n\n"+
			"If it was not you, ignore this mail: your password stays as it is.\n")
	return nil
}

// CheckResetLink says whether a reset link can still be used.
func (s *Service) CheckResetLink(ctx context.Context, token string) error {
	_, _, ok, err := s.lookUpAccountToken(ctx, token, purposeReset)
	if err == nil && !ok {
		return ErrResetLink
	}
	return err
}

// ResetPassword sets the password of the agent a reset link is for and
// uses the link up. Following the link proves the email too.
func (s *Service) ResetPassword(ctx context.Context, token, password string) (Agent, error) {
	tid, agentID, ok, err := s.lookUpAccountToken(ctx, token, purposeReset)
	if err != nil {
		return Agent{}, err
	}
	if !ok {
		return Agent{}, ErrResetLink
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
	var a Agent
	err = s.db.InTenant(ctx, tid, func(tx pgx.Tx) error {
		used, err := useAccountToken(ctx, tx, token, purposeReset)
		if err != nil {
			return err
		}
		if !used {
			return ErrResetLink
		}
		// The agent's other sessions end: whoever knew the old password
		// is out, with the pages they have open.
		if _, err := tx.Exec(ctx, `UPDATE agents SET password_hash = $2, email_verified = true, session_epoch = session_epoch + 1 WHERE id = $1`, agentID, hash); err != nil {
			return fmt.Errorf("set password: %w", err)
		}
		if a, err = AgentTx(ctx, tx, agentID); err != nil {
			return err
		}
		return realtime.Notify(ctx, tx, realtime.Event{TenantID: tid, Kind: realtime.KindSignedOut, Agent: agentID})
	})
	if err != nil {
		return Agent{}, fmt.Errorf("reset password: %w", err)
	}
	return a, nil
}

// sendVerification mails the agent a link that confirms their email.
func (s *Service) sendVerification(ctx context.Context, tid uuid.UUID, agentID int64, email string) error {
	var token string
	err := s.db.InTenant(ctx, tid, func(tx pgx.Tx) (err error) {
		token, err = s.newAccountToken(ctx, tx, tid, agentID, purposeVerify, VerifyTTL)
		return err
	})
	if err != nil {
		return err
	}
	return s.mailing.Mail.Send(ctx, email, "Confirm your email for Parley",
		"Welcome to Parley. Confirm that "+email+" is yours and start using Parley by opening this link (it works once, for 7 days):\n\n"+
			s.mailing.BaseURL+"/verify/"+token+"\n\n"+
			"Until then you cannot log in.\n")
}

// VerifyEmail marks the email of the agent a confirmation link is for as
// confirmed, and uses the link up.
func (s *Service) VerifyEmail(ctx context.Context, token string) (Agent, error) {
	tid, agentID, ok, err := s.lookUpAccountToken(ctx, token, purposeVerify)
	if err != nil {
		return Agent{}, err
	}
	if !ok {
		return Agent{}, ErrVerifyLink
	}
	var a Agent
	err = s.db.InTenant(ctx, tid, func(tx pgx.Tx) error {
		used, err := useAccountToken(ctx, tx, token, purposeVerify)
		if err != nil {
			return err
		}
		if !used {
			return ErrVerifyLink
		}
		if _, err := tx.Exec(ctx, `UPDATE agents SET email_verified = true WHERE id = $1`, agentID); err != nil {
			return fmt.Errorf("confirm email: %w", err)
		}
		a, err = AgentTx(ctx, tx, agentID)
		return err
	})
	return a, err
}

// SendInvitation mails an invited agent their link.
func (s *Service) SendInvitation(ctx context.Context, company string, a Agent, token string) error {
	return s.mailing.Mail.Send(ctx, a.Email, "You are invited to "+company+" on Parley",
		"Hello "+a.Name+",\n\nYou have been invited to answer "+company+"'s clients on Parley.\n"+
			"Choose your password here (the link works once, for 7 days):\n\n"+
			s.mailing.BaseURL+"/invite/"+token+"\n")
}

// sendLater sends a mail after the caller has answered; a failure is logged.
func (s *Service) sendLater(to, subject, text string) {
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if err := s.mailing.Mail.Send(ctx, to, subject, text); err != nil {
			s.mailing.Log.Error("mail not sent", "subject", subject, "err", err)
		}
	}()
}

// PurgeExpiredAccountTokens deletes reset and confirmation links past their
// expiry in every tenant.
func (s *Service) PurgeExpiredAccountTokens(ctx context.Context) (int64, error) {
	var n int64
	err := s.db.InSystem(ctx, func(tx pgx.Tx) error {
		return tx.QueryRow(ctx, `SELECT purge_expired_account_tokens($1)`, s.clock.Now()).Scan(&n)
	})
	if err != nil {
		return 0, fmt.Errorf("purge expired account links: %w", err)
	}
	return n, nil
}
