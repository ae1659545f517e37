package integration

import (
	"context"
	"encoding/base64"

	"github.com/google/uuid"

	"parley/internal/problem"
)

// PendingWebhook is the webhook URL of an integration not connected yet.
// The connect form shows URL before Connect, because the admin pastes it
// into the provider first (Twilio: the sender's endpoint configuration),
// and carries Carried back: the token sealed for the tenant, so that the
// server connects with the very URL it showed, and only with a token it
// made.
type PendingWebhook struct {
	URL     string
	Carried string
}

// pendingAD binds a carried token to its tenant and provider.
func pendingAD(tid uuid.UUID, provider string) string {
	return "pending webhook " + provider + " " + tid.String()
}

// NewWebhook decides a new integration's webhook URL.
func (s *Service) NewWebhook(tid uuid.UUID, provider string) (PendingWebhook, error) {
	token, err := newWebhookToken()
	if err != nil {
		return PendingWebhook{}, err
	}
	return s.pending(tid, provider, token)
}

func (s *Service) pending(tid uuid.UUID, provider, token string) (PendingWebhook, error) {
	sealed, err := s.sealer.Seal(token, pendingAD(tid, provider))
	if err != nil {
		return PendingWebhook{}, err
	}
	w := PendingWebhook{URL: s.webhookURL(provider, token), Carried: base64.RawURLEncoding.EncodeToString(sealed)}
	if provider == Twilio {
		w.URL += TwilioRetryPolicy
	}
	return w, nil
}

// Webhook reads a connect form's carried webhook back: ok is false when
// it is not one this server made for the tenant and provider.
func (s *Service) Webhook(tid uuid.UUID, provider, carried string) (w PendingWebhook, token string, ok bool) {
	sealed, err := base64.RawURLEncoding.DecodeString(carried)
	if err != nil || carried == "" {
		return PendingWebhook{}, "", false
	}
	token, err = s.sealer.Open(sealed, pendingAD(tid, provider))
	if err != nil || len(token) != 43 {
		return PendingWebhook{}, "", false
	}
	if w, err = s.pending(tid, provider, token); err != nil {
		return PendingWebhook{}, "", false
	}
	w.Carried = carried
	return w, token, true
}

// webhookToken is the token of a connect form's webhook: the one it
// carried, or a new one for a form that carried none (a client other than
// the connect page).
func (s *Service) webhookToken(tid uuid.UUID, provider, carried string) (string, error) {
	if carried == "" {
		return newWebhookToken()
	}
	if _, token, ok := s.Webhook(tid, provider, carried); ok {
		return token, nil
	}
	return "", problem.New(problem.Invalid, "This form's webhook URL is not one Parley made for it. Nothing was saved: reload the page, paste the webhook URL it shows into the provider, and connect again.")
}

// tokenTaken tells whether an integration, of any tenant, has the webhook
// token.
func (s *Service) tokenTaken(ctx context.Context, token string) bool {
	var n int
	err := s.db.Pool.QueryRow(ctx, `SELECT count(*) FROM integration_by_webhook_token($1)`, token).Scan(&n)
	return err != nil || n > 0
}
