package tenant

import (
	"bytes"
	"context"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"image/png"
	"strings"
	"time"

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

// TOTPKey is a fresh secret for an agent's authenticator app.
type TOTPKey struct {
	Secret string // base32, to type in
	URL    string // otpauth://, to open
	QR     string // the URL as a QR code to scan: a data: URL of a PNG
}

// NewTOTPKey makes a fresh secret for the agent's authenticator app.
func NewTOTPKey(company, email string) (TOTPKey, error) {
	k, err := totp.Generate(totp.GenerateOpts{Issuer: "Parley (" + company + ")", AccountName: email})
	if err != nil {
		return TOTPKey{}, fmt.Errorf("new totp key: %w", err)
	}
	img, err := k.Image(200, 200)
	if err != nil {
		return TOTPKey{}, fmt.Errorf("totp qr code: %w", err)
	}
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		return TOTPKey{}, fmt.Errorf("totp qr code: %w", err)
	}
	return TOTPKey{Secret: k.Secret(), URL: k.URL(), QR: "data:image/png;base64," + base64.StdEncoding.EncodeToString(b.Bytes())}, nil
}

// codeStep returns the time step of the code, checked against the secret
// with one step of skew either side; ok is false for a wrong code.
func (s *Service) codeStep(secret, code string) (step int64, ok bool) {
	code = strings.ReplaceAll(strings.TrimSpace(code), " ", "")
	now := s.clock.Now()
	for skew := -int64(totpOpts.Skew); skew <= int64(totpOpts.Skew); skew++ {
		at := now.Add(time.Duration(skew*int64(totpOpts.Period)) * time.Second)
		want, err := totp.GenerateCodeCustom(secret, at, totpOpts)
		if err == nil && subtle.ConstantTimeCompare([]byte(want), []byte(code)) == 1 {
			return at.Unix() / int64(totpOpts.Period), true
		}
	}
	return 0, false
}

func totpAD(tid uuid.UUID, agentID int64) string { return fmt.Sprintf("totp:%s:%d", tid, agentID) }

// EnableTOTP turns the agent's second factor on once they show a code of
// the new secret (so their app has it).
func (s *Service) EnableTOTP(ctx context.Context, tid uuid.UUID, agentID int64, secret, code string) error {
	step, ok := s.codeStep(secret, code)
	if secret == "" || !ok {
		return ErrBadCode
	}
	sealed, err := s.mailing.Sealer.Seal(secret, totpAD(tid, agentID))
	if err != nil {
		return fmt.Errorf("seal totp secret: %w", err)
	}
	return s.db.InTenant(ctx, tid, func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, `UPDATE agents SET totp_secret = $2, totp_last_step = $3 WHERE id = $1`, agentID, sealed, step)
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
	step, ok := s.codeStep(secret, code)
	if !ok {
		return ErrBadCode
	}
	// Each code once: a step at or before the last one used is refused.
	var used bool
	err = s.db.InTenant(ctx, tid, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `UPDATE agents SET totp_last_step = $2 WHERE id = $1 AND (totp_last_step IS NULL OR totp_last_step < $2)`, agentID, step)
		used = tag.RowsAffected() == 0
		return err
	})
	if err != nil {
		return fmt.Errorf("record totp step: %w", err)
	}
	if used {
		return ErrUsedCode
	}
	return nil
}

// ErrUsedCode refuses a code that signed in already.
var ErrUsedCode = problem.Field("code", "That code was used already. Wait for your authenticator app to show the next one.")

// SetRequireTOTP makes a second factor required (or not) for every agent
// of the tenant; those without one set it up at their next page.
func (s *Service) SetRequireTOTP(ctx context.Context, tid uuid.UUID, require bool) error {
	return s.db.InTenant(ctx, tid, func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, `UPDATE tenants SET require_totp = $1`, require)
		return err
	})
}
