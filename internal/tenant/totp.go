package tenant

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"

	"parley/internal/problem"
)

// A second factor: a time-based one-time code (RFC 6238: 6 digits, 30
// seconds, SHA-1, what every authenticator app reads from its QR code or
// key). Its secret is sealed with PARLEY_SECRET_KEY.

var totpOpts = totp.ValidateOpts{Period: 30, Skew: 1, Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1}

// ErrBadCode is the answer to a wrong one-time code.
var ErrBadCode = problem.Field("code", "That code is not right. Enter the 6 digits your authenticator app shows now.")

// NewTOTPKey makes a fresh secret for the agent's authenticator app: its
// base32 key and its otpauth:// URL.
func NewTOTPKey(company, email string) (secret, url string, err error) {
	k, err := totp.Generate(totp.GenerateOpts{Issuer: "Parley (" + company + ")", AccountName: email})
	if err != nil {
		return "", "", fmt.Errorf("new totp key: %w", err)
	}
	return k.Secret(), k.URL(), nil
}

func (s *Service) codeOK(secret, code string) bool {
	ok, err := totp.ValidateCustom(strings.ReplaceAll(strings.TrimSpace(code), " ", ""), secret, s.clock.Now(), totpOpts)
	return err == nil && ok
}

func totpAD(tid uuid.UUID, agentID int64) string { return fmt.Sprintf("totp:%s:%d", tid, agentID) }

// EnableTOTP turns the agent's second factor on once they show a code of
// the new secret (so their app has it).
func (s *Service) EnableTOTP(ctx context.Context, tid uuid.UUID, agentID int64, secret, code string) error {
	if secret == "" || !s.codeOK(secret, code) {
		return ErrBadCode
	}
	sealed, err := s.mailing.Sealer.Seal(secret, totpAD(tid, agentID))
	if err != nil {
		return fmt.Errorf("seal totp secret: %w", err)
	}
	return s.db.InTenant(ctx, tid, func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, `UPDATE agents SET totp_secret = $2 WHERE id = $1`, agentID, sealed)
		return err
	})
}

// DisableTOTP turns the agent's second factor off, with a code of it; not
// while the tenant requires one.
func (s *Service) DisableTOTP(ctx context.Context, tid uuid.UUID, agentID int64, code string) error {
	t, err := s.Tenant(ctx, tid)
	if err != nil {
		return err
	}
	if t.RequireTOTP {
		return problem.New(problem.Conflict, "Your company requires a second factor: it stays on.")
	}
	if err := s.CheckTOTP(ctx, tid, agentID, code); err != nil {
		return err
	}
	return s.db.InTenant(ctx, tid, func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, `UPDATE agents SET totp_secret = NULL WHERE id = $1`, agentID)
		return err
	})
}

// CheckTOTP checks a code of the agent's second factor.
func (s *Service) CheckTOTP(ctx context.Context, tid uuid.UUID, agentID int64, code string) error {
	var sealed []byte
	err := s.db.InTenant(ctx, tid, func(tx pgx.Tx) error {
		return tx.QueryRow(ctx, `SELECT totp_secret FROM agents WHERE id = $1 AND totp_secret IS NOT NULL`, agentID).Scan(&sealed)
	})
	if errors.Is(err, pgx.ErrNoRows) {
		return ErrBadCode
	}
	if err != nil {
		return fmt.Errorf("load totp secret: %w", err)
	}
	secret, err := s.mailing.Sealer.Open(sealed, totpAD(tid, agentID))
	if err != nil {
		return fmt.Errorf("open totp secret of agent %d: %w", agentID, err)
	}
	if !s.codeOK(secret, code) {
		return ErrBadCode
	}
	return nil
}

// SetRequireTOTP makes a second factor required (or not) for every agent
// of the tenant; those without one set it up at their next page.
func (s *Service) SetRequireTOTP(ctx context.Context, tid uuid.UUID, require bool) error {
	return s.db.InTenant(ctx, tid, func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, `UPDATE tenants SET require_totp = $1`, require)
		return err
	})
}
