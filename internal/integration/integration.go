// Package integration holds a tenant's channel integrations: connecting a
// provider account (credentials checked with the provider first, stored
// sealed), the unguessable webhook URL, enabling, disabling and deleting,
// and the provider client the rest of Parley sends through.
package integration

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"parley/internal/channel"
	"parley/internal/channel/onemsg"
	"parley/internal/channel/twilio"
	"parley/internal/credential"
	"parley/internal/phone"
	"parley/internal/postgres"
	"parley/internal/problem"
	"parley/internal/realtime"
)

// Providers.
const (
	Twilio = "twilio"
	OneMsg = "onemsg"
)

// Integration is one connected provider account and WhatsApp number.
type Integration struct {
	TenantID         uuid.UUID
	ID               int64
	Provider         string
	WebhookToken     string
	Account          string
	CredentialsHint  string
	Sender           string
	DefaultGroupID   int64
	DefaultGroupName string
	Enabled          bool
	CreatedAt        time.Time
	credentials      []byte
}

// ProviderName is how people call the provider.
func (i Integration) ProviderName() string {
	if i.Provider == OneMsg {
		return "1msg"
	}
	return "Twilio"
}

// Service manages integrations.
type Service struct {
	db      *postgres.DB
	sealer  *credential.Sealer
	baseURL string
	// Transport carries provider HTTP calls; the sandbox points it at its
	// simulators. Nil is the real internet.
	Transport http.RoundTripper
	// TemplatesTimeout bounds a template listing (0: the default).
	TemplatesTimeout time.Duration
	// SettingsTimeout bounds the check of a 1msg channel's settings on
	// the integration page (0: the default).
	SettingsTimeout time.Duration

	cache *realtime.Cache[cacheKey, Integration]
}

// cacheKey finds a cached integration by its webhook token (webhooks) or
// by its tenant and id (sends).
type cacheKey struct {
	token  string
	tenant uuid.UUID
	id     int64
}

// NewService returns the integration service; baseURL is PARLEY_BASE_URL.
func NewService(db *postgres.DB, sealer *credential.Sealer, baseURL string, transport http.RoundTripper) *Service {
	return &Service{db: db, sealer: sealer, baseURL: baseURL, Transport: transport,
		cache: realtime.NewCache[cacheKey, Integration](time.Minute)}
}

// WebhookURL is the address the provider posts to for this integration.
// Twilio's carries a retry policy (TwilioRetryPolicy) as a fragment, which
// Twilio reads and never sends.
func (s *Service) WebhookURL(i Integration) string {
	u := s.webhookURL(i.Provider, i.WebhookToken)
	if i.Provider == Twilio {
		u += TwilioRetryPolicy
	}
	return u
}

// TwilioRetryPolicy is appended to Twilio webhook URLs (the incoming
// message URL the admin pastes, and the StatusCallback of every send):
// Twilio's webhook connection overrides
// (twilio.com/docs/usage/webhooks/webhooks-connection-overrides). By
// default Twilio retries once, and only a connection that failed (rc=1,
// rp=ct): a webhook Parley answers 500 because Postgres is down is
// never sent again, and the message is lost. With these, Twilio tries
// up to 5 more times on any failure (rp=all, as Segment's Twilio
// messaging sends StatusCallback URLs: segmentio/action-destinations
// engage/twilio utils/PhoneMessageSender.ts, "rp=all&rc=5"), and gives up
// on an attempt after 5 s without an answer (rt, 100–15000 ms; Parley's
// handler answers 500 before that, see httpserver.twilioWebhookBudget),
// all within Twilio's total of 15 s (tt). A redelivered webhook is stored
// once (by MessageSid). Twilio signs the URL it requested, without the
// fragment, which is what Parley checks.
const TwilioRetryPolicy = "#rt=5000&rc=5&rp=all"

func (s *Service) webhookURL(provider, token string) string {
	path := provider
	if provider == OneMsg {
		path = "1msg"
	}
	return s.baseURL + "/webhooks/" + path + "/" + token
}

// TwilioForm is what an admin fills to connect Twilio.
type TwilioForm struct {
	AccountSID, AuthToken, Sender string
	DefaultGroupID                int64
	// Webhook is the form's PendingWebhook.Carried: the integration takes
	// the webhook URL the form showed.
	Webhook string
}

var accountSIDPattern = regexp.MustCompile(`^AC[0-9a-fA-F]{32}$`)

// ConnectTwilio checks the credentials with Twilio and, if Twilio accepts
// them, saves the integration. Nothing is saved otherwise.
func (s *Service) ConnectTwilio(ctx context.Context, tid uuid.UUID, f TwilioForm) (Integration, error) {
	f.AccountSID, f.AuthToken = strings.TrimSpace(f.AccountSID), strings.TrimSpace(f.AuthToken)
	fields := problem.Fields{}
	if !accountSIDPattern.MatchString(f.AccountSID) {
		fields.Add("account_sid", "An Account SID is AC followed by 32 letters and digits, as on your Twilio console.")
	}
	if f.AuthToken == "" || len(f.AuthToken) > 200 {
		fields.Add("auth_token", "Paste the Auth Token from your Twilio console.")
	}
	sender, err := phone.Normalize(strings.TrimPrefix(strings.TrimSpace(f.Sender), "whatsapp:"), "")
	if err != nil {
		fields.Add("sender", "Enter the WhatsApp sender number with its country code, like +14155238886.")
	}
	if err := s.checkGroup(ctx, tid, f.DefaultGroupID, fields); err != nil {
		return Integration{}, err
	}
	if err := fields.Err(); err != nil {
		return Integration{}, err
	}
	token, err := s.webhookToken(tid, Twilio, f.Webhook)
	if err != nil {
		return Integration{}, err
	}
	if err := twilio.New(f.AccountSID, f.AuthToken, sender, s.Transport).Verify(ctx); err != nil {
		return Integration{}, verifyProblem("Twilio", err)
	}
	// Only once Twilio accepted the credentials: who holds an account is
	// told to those who hold its token.
	if err := s.channelHeld(ctx, tid, Twilio, f.AccountSID, sender); err != nil {
		return Integration{}, err
	}
	return s.insertWithToken(ctx, tid, Twilio, token, f.AccountSID, f.AuthToken, sender, f.DefaultGroupID)
}

// verifyProblem explains why a provider refused to connect.
func verifyProblem(provider string, err error) error {
	var se *channel.SendError
	if errors.As(err, &se) {
		if se.Code == "20003" || se.Code == "401" {
			return problem.Field("auth_token", provider+" refused these credentials. Check the Account SID and Auth Token and try again.")
		}
		if se.Retryable {
			return problem.New(problem.Unavailable, provider+" could not be reached to check the credentials. Nothing was saved; try again in a moment.")
		}
		return problem.New(problem.Unavailable, provider+" did not accept the connection: "+se.Message)
	}
	return problem.New(problem.Unavailable, provider+" could not check the credentials: "+err.Error())
}

func (s *Service) checkGroup(ctx context.Context, tid uuid.UUID, groupID int64, fields problem.Fields) error {
	if groupID <= 0 {
		fields.Add("default_group", "Choose the group that receives this number's chats.")
		return nil
	}
	var ok bool
	err := s.db.InTenant(ctx, tid, func(tx pgx.Tx) error {
		return tx.QueryRow(ctx, `SELECT EXISTS (SELECT FROM groups WHERE id = $1)`, groupID).Scan(&ok)
	})
	if err != nil {
		return fmt.Errorf("check group %d: %w", groupID, err)
	}
	if !ok {
		fields.Add("default_group", "Choose the group that receives this number's chats.")
	}
	return nil
}

func (s *Service) insertWithToken(ctx context.Context, tid uuid.UUID, provider, token, account, secret, sender string, groupID int64) (Integration, error) {
	sealed, err := s.sealer.Seal(secret, token)
	if err != nil {
		return Integration{}, fmt.Errorf("seal credentials: %w", err)
	}
	var id int64
	err = s.db.InTenant(ctx, tid, func(tx pgx.Tx) error {
		return tx.QueryRow(ctx, `INSERT INTO integrations (tenant_id, provider, webhook_token, account, credentials, credentials_hint, sender, default_group_id)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id`,
			tid, provider, token, account, sealed, credential.Hint(secret), sender, groupID).Scan(&id)
	})
	if err != nil {
		err = s.heldProblem(ctx, err, tid, provider, account, sender)
	}
	if postgres.IsUniqueViolation(err, "integrations_webhook_token_key") {
		err = problem.New(problem.Conflict, "This form's webhook URL already belongs to an integration. Nothing was saved: reload the page and connect again.")
	}
	if err != nil {
		return Integration{}, fmt.Errorf("save %s integration: %w", provider, err)
	}
	return s.Get(ctx, tid, id)
}

const selectIntegration = `SELECT i.tenant_id, i.id, i.provider, i.webhook_token, i.account, i.credentials_hint, i.sender,
	i.default_group_id, g.name AS default_group_name, i.enabled, i.created_at, i.credentials
	FROM integrations i JOIN groups g ON g.tenant_id = i.tenant_id AND g.id = i.default_group_id`

func scanIntegration(row pgx.CollectableRow) (Integration, error) {
	var i Integration
	err := row.Scan(&i.TenantID, &i.ID, &i.Provider, &i.WebhookToken, &i.Account, &i.CredentialsHint, &i.Sender,
		&i.DefaultGroupID, &i.DefaultGroupName, &i.Enabled, &i.CreatedAt, &i.credentials)
	return i, err
}

// GetTx returns one integration of the transaction's tenant.
func GetTx(ctx context.Context, tx pgx.Tx, id int64) (Integration, error) {
	rows, _ := tx.Query(ctx, selectIntegration+` WHERE i.id = $1`, id)
	i, err := pgx.CollectExactlyOneRow(rows, scanIntegration)
	if errors.Is(err, pgx.ErrNoRows) {
		return i, problem.New(problem.NotFound, "No such integration.")
	}
	if err != nil {
		return i, fmt.Errorf("load integration %d: %w", id, err)
	}
	return i, nil
}

// Get returns one integration.
func (s *Service) Get(ctx context.Context, tid uuid.UUID, id int64) (Integration, error) {
	var i Integration
	err := s.db.InTenant(ctx, tid, func(tx pgx.Tx) error {
		var err error
		i, err = GetTx(ctx, tx, id)
		return err
	})
	return i, err
}

// List returns the tenant's integrations, oldest first.
func (s *Service) List(ctx context.Context, tid uuid.UUID) ([]Integration, error) {
	var is []Integration
	err := s.db.InTenant(ctx, tid, func(tx pgx.Tx) error {
		rows, _ := tx.Query(ctx, selectIntegration+` ORDER BY i.id`)
		var err error
		is, err = pgx.CollectRows(rows, scanIntegration)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("list integrations: %w", err)
	}
	return is, nil
}

// ByWebhookToken finds the enabled integration a webhook URL belongs to,
// from this replica's cache or in one round trip. An unknown, disabled or
// deleted one is NotFound: the webhook answers 404 and stores nothing.
func (s *Service) ByWebhookToken(ctx context.Context, provider, token string) (Integration, error) {
	i, err := s.cache.Get(cacheKey{token: token}, func() (Integration, bool, error) {
		rows, _ := s.db.Pool.Query(ctx, `SELECT * FROM integration_by_webhook_token($1)`, token)
		i, err := pgx.CollectExactlyOneRow(rows, scanIntegration)
		if errors.Is(err, pgx.ErrNoRows) {
			return i, false, nil
		}
		return i, true, err
	})
	if err != nil {
		return Integration{}, fmt.Errorf("look up webhook token: %w", err)
	}
	if i.ID == 0 || !i.Enabled || i.Provider != provider {
		return Integration{}, problem.New(problem.NotFound, "unknown or disabled integration")
	}
	return i, nil
}

// Cached returns one integration of the tenant, from this replica's cache
// or the database: sending reads it for every message, and it seldom
// changes (every change empties the caches of every replica).
func (s *Service) Cached(ctx context.Context, tid uuid.UUID, id int64) (Integration, error) {
	return s.cache.Get(cacheKey{tenant: tid, id: id}, func() (Integration, bool, error) {
		i, err := s.Get(ctx, tid, id)
		return i, err == nil, err
	})
}

// Forget empties the integration cache: an integration changed, here or
// (told by a notification) on another replica.
func (s *Service) Forget() { s.cache.Forget() }

// change runs fn, a change to the tenant's integrations, and has every
// replica forget its cached integrations once it commits.
func (s *Service) change(ctx context.Context, tid uuid.UUID, fn func(pgx.Tx) error) error {
	return s.cache.Change(ctx, s.db, tid, realtime.KindIntegration, fn)
}

// Secret opens the integration's sealed credential (Twilio's auth token,
// 1msg's token).
func (s *Service) Secret(i Integration) (string, error) {
	return s.sealer.Open(i.credentials, i.WebhookToken)
}

// Provider returns the client to send through this integration.
func (s *Service) Provider(i Integration) (channel.Provider, error) {
	secret, err := s.Secret(i)
	if err != nil {
		return nil, fmt.Errorf("integration %d: %w", i.ID, err)
	}
	switch i.Provider {
	case Twilio:
		return twilio.New(i.Account, secret, i.Sender, s.Transport), nil
	case OneMsg:
		return onemsg.New(i.Account, secret, i.Sender, s.Transport)
	}
	return nil, fmt.Errorf("integration %d: provider %q has no adapter", i.ID, i.Provider)
}

// UpdateTwilio changes the sender and default group and, when a new auth
// token is given, replaces it after Twilio accepts it.
func (s *Service) UpdateTwilio(ctx context.Context, tid uuid.UUID, id int64, f TwilioForm) error {
	cur, err := s.Get(ctx, tid, id)
	if err != nil {
		return err
	}
	fields := problem.Fields{}
	sender, err := phone.Normalize(strings.TrimPrefix(strings.TrimSpace(f.Sender), "whatsapp:"), "")
	if err != nil {
		fields.Add("sender", "Enter the WhatsApp sender number with its country code, like +14155238886.")
	}
	if err := s.checkGroup(ctx, tid, f.DefaultGroupID, fields); err != nil {
		return err
	}
	if err := fields.Err(); err != nil {
		return err
	}
	sealed, hint := cur.credentials, cur.CredentialsHint
	if tok := strings.TrimSpace(f.AuthToken); tok != "" {
		if err := twilio.New(cur.Account, tok, sender, s.Transport).Verify(ctx); err != nil {
			return verifyProblem("Twilio", err)
		}
		if sealed, err = s.sealer.Seal(tok, cur.WebhookToken); err != nil {
			return err
		}
		hint = credential.Hint(tok)
	}
	err = s.change(ctx, tid, func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, `UPDATE integrations SET sender = $2, default_group_id = $3, credentials = $4, credentials_hint = $5 WHERE id = $1`,
			id, sender, f.DefaultGroupID, sealed, hint)
		return err
	})
	return s.heldProblem(ctx, err, tid, Twilio, cur.Account, sender)
}

// SetEnabled turns an integration on or off; webhooks of a disabled one
// answer 404 and store nothing.
func (s *Service) SetEnabled(ctx context.Context, tid uuid.UUID, id int64, enabled bool) error {
	var cur Integration
	err := s.change(ctx, tid, func(tx pgx.Tx) error {
		var err error
		if cur, err = GetTx(ctx, tx, id); err != nil {
			return err
		}
		_, err = tx.Exec(ctx, `UPDATE integrations SET enabled = $2 WHERE id = $1`, id, enabled)
		return err
	})
	if postgres.IsUniqueViolation(err, oneChannelKey) {
		// Another integration holds the channel now: say which.
		return s.heldProblem(ctx, err, tid, cur.Provider, cur.Account, cur.Sender)
	}
	return err
}

// Delete removes an integration. Its chats and cases stay, without it. A
// 1msg channel is told first to stop sending to Parley.
func (s *Service) Delete(ctx context.Context, tid uuid.UUID, id int64) error {
	i, err := s.Get(ctx, tid, id)
	if err != nil {
		return err
	}
	if err := s.disconnect(ctx, i); err != nil {
		return err
	}
	return s.change(ctx, tid, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `DELETE FROM integrations WHERE id = $1`, id)
		if err == nil && tag.RowsAffected() == 0 {
			return problem.New(problem.NotFound, "No such integration.")
		}
		return err
	})
}

func newWebhookToken() (string, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("webhook token: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

// DefaultTemplatesTimeout bounds how long the macros panel waits for a
// provider's template list.
const DefaultTemplatesTimeout = 10 * time.Second

// Templates lists the templates WhatsApp approved for one of the tenant's
// integrations, asking the provider now. A provider's failure comes back
// as a *channel.SendError in plain words.
func (s *Service) Templates(ctx context.Context, tid uuid.UUID, id int64) (channel.Templates, error) {
	ig, err := s.Get(ctx, tid, id)
	if err != nil {
		return channel.Templates{}, err
	}
	prov, err := s.Provider(ig)
	if err != nil {
		return channel.Templates{}, err
	}
	timeout := s.TemplatesTimeout
	if timeout <= 0 {
		timeout = DefaultTemplatesTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	return prov.Templates(ctx)
}

// Template is the approved template with this id on one of the tenant's
// integrations, as the provider lists it now. A form names a template only
// by its id: the text Parley stores and the variables it asks for come
// from here, never from the browser (issue 22: a forged body was stored).
// A template the provider no longer lists, and a provider that cannot be
// asked, are problems on the form's "template" field.
func (s *Service) Template(ctx context.Context, tid uuid.UUID, id int64, templateID string) (channel.Template, error) {
	templateID = strings.TrimSpace(templateID)
	if templateID == "" || len(templateID) > 1000 {
		return channel.Template{}, problem.Field("template", "This template cannot be read; pick it again from the macros panel.")
	}
	ts, err := s.Templates(ctx, tid, id)
	var se *channel.SendError
	if errors.As(err, &se) {
		return channel.Template{}, problem.Field("template", fmt.Sprintf("The provider could not be asked for this template just now (%s). Nothing was sent; try again.", strings.TrimSuffix(se.Message, ".")))
	}
	if err != nil {
		return channel.Template{}, err
	}
	for _, t := range ts.List {
		if t.ID == templateID {
			return t, nil
		}
	}
	return channel.Template{}, problem.Field("template", "This template is no longer among the approved templates of this WhatsApp number. Nothing was sent; pick one again from the macros panel.")
}
