package httpserver

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/go-chi/chi/v5/middleware"

	"parley/internal/channel/onemsg"
	"parley/internal/channel/twilio"
	"parley/internal/integration"
	"parley/internal/problem"
)

const emptyTwiML = `<?xml version="1.0" encoding="UTF-8"?><Response></Response>`

// twilioWebhookBudget bounds the handling of one Twilio webhook: under the
// read timeout Parley gives Twilio (rt=5000 in integration.TwilioRetryPolicy),
// so that a stuck database is a 500 Twilio retries, not a timeout that
// uses up its 15 s for all attempts.
const twilioWebhookBudget = 4 * time.Second

// twilioWebhook receives Twilio's inbound messages and status callbacks for
// one integration. The integration's token in the URL finds the tenant; the
// X-Twilio-Signature, checked with that integration's auth token over the
// public URL, proves the request is Twilio's. Only then is anything stored.
func (s *Server) twilioWebhook(w http.ResponseWriter, r *http.Request) {
	// Answer 500 in time for Twilio to try again (integration.TwilioRetryPolicy)
	// rather than hang on a database that does not answer.
	ctx, cancel := context.WithTimeout(r.Context(), twilioWebhookBudget)
	defer cancel()
	r = r.WithContext(ctx)
	ig, log, ok := s.webhookIntegration(w, r, integration.Twilio)
	if !ok {
		return
	}
	if err := r.ParseForm(); err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			log.WarnContext(ctx, "twilio webhook body too large")
			http.Error(w, "body too large", http.StatusRequestEntityTooLarge)
			return
		}
		log.WarnContext(ctx, "twilio webhook with an unreadable form", "err", err)
		http.Error(w, "malformed form", http.StatusBadRequest)
		return
	}
	token, err := s.Integrations.Secret(ig)
	if err != nil {
		s.webhookFailed(w, r, err)
		return
	}
	publicURL := s.Config.BaseURL + r.URL.RequestURI()
	if !twilio.ValidSignature(token, publicURL, r.PostForm, r.Header.Get("X-Twilio-Signature")) {
		log.WarnContext(ctx, "twilio webhook refused: missing or wrong X-Twilio-Signature", "url", publicURL)
		http.Error(w, "invalid signature", http.StatusForbidden)
		return
	}
	ev, err := twilio.ParseWebhook(r.PostForm, s.Clock.Now())
	if err != nil {
		log.WarnContext(ctx, "twilio webhook refused", "reason", err.Error(), "message_sid", r.PostForm.Get("MessageSid"))
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	for _, warn := range ev.Warnings {
		log.WarnContext(ctx, "twilio webhook: "+warn, "message_sid", r.PostForm.Get("MessageSid"))
	}
	if in := ev.Inbound; in != nil && in.To != "" && ig.Sender != "" && in.To != ig.Sender {
		// The URL of this integration is set on another sender too: a
		// message stored here would be answered from the wrong number.
		log.WarnContext(ctx, "twilio webhook refused: message to another WhatsApp sender than the integration's",
			"to", in.To, "sender", ig.Sender, "message_sid", in.ProviderMessageID)
		http.Error(w, "This webhook URL belongs to the WhatsApp sender "+ig.Sender+", not "+in.To+
			": in Twilio, set "+in.To+"'s webhook to the URL of its own integration in Parley.", http.StatusConflict)
		return
	}
	switch {
	case ev.Inbound != nil:
		res, err := s.Conversations.Receive(ctx, ig, *ev.Inbound)
		if err != nil {
			s.webhookFailed(w, r, err)
			return
		}
		if res.Duplicate {
			log.InfoContext(ctx, "twilio webhook: duplicate delivery ignored", "message_sid", ev.Inbound.ProviderMessageID)
		}
	case ev.Status != nil:
		if err := s.Conversations.ReceiveStatus(ctx, ig, *ev.Status); err != nil {
			s.webhookFailed(w, r, err)
			return
		}
	}
	w.Header().Set("Content-Type", "text/xml; charset=utf-8")
	_, _ = w.Write([]byte(emptyTwiML))
}

// webhookIntegration finds the enabled integration of a webhook URL's
// token and the logger that names it. An unknown, disabled or deleted one
// answers 404; ok is false when it has answered.
func (s *Server) webhookIntegration(w http.ResponseWriter, r *http.Request, provider string) (ig integration.Integration, log *slog.Logger, ok bool) {
	ctx := r.Context()
	ig, err := s.Integrations.ByWebhookToken(ctx, provider, chi.URLParam(r, "token"))
	if problem.Is(err, problem.NotFound) {
		s.Log.WarnContext(ctx, "webhook for an unknown or disabled integration", "provider", provider, "request_id", middleware.GetReqID(ctx))
		http.Error(w, "unknown integration", http.StatusNotFound)
		return ig, nil, false
	}
	if err != nil {
		s.webhookFailed(w, r, err)
		return ig, nil, false
	}
	logAttrs(ctx, slog.String("tenant_id", ig.TenantID.String()), slog.Int64("integration_id", ig.ID))
	return ig, s.Log.With("tenant_id", ig.TenantID, "integration_id", ig.ID, "request_id", middleware.GetReqID(ctx)), true
}

// webhookFailed answers 500 so that the provider retries, and logs why.
func (s *Server) webhookFailed(w http.ResponseWriter, r *http.Request, err error) {
	s.Log.ErrorContext(r.Context(), "webhook failed", "request_id", middleware.GetReqID(r.Context()), "err", err)
	http.Error(w, "temporary failure", http.StatusInternalServerError)
}

// maxOneMsgWebhookBytes bounds a 1msg webhook POST: a batch of thousands
// of messages and acks fits.
const maxOneMsgWebhookBytes = 32 << 20

// oneMsgWebhook receives 1msg's messages, echoes and acks for one
// integration. 1msg signs nothing: the unguessable token in the URL is the
// secret. Every item of a batch is handled on its own; if any could not
// be stored the answer is 500, so that 1msg delivers the batch again, and
// the items already stored are then recognised and stored once.
func (s *Server) oneMsgWebhook(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	ig, log, ok := s.webhookIntegration(w, r, integration.OneMsg)
	if !ok {
		return
	}
	body, err := io.ReadAll(r.Body)
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			log.WarnContext(ctx, "1msg webhook body too large")
			http.Error(w, "body too large", http.StatusRequestEntityTooLarge)
			return
		}
		log.WarnContext(ctx, "1msg webhook body unreadable", "err", err)
		http.Error(w, "unreadable body", http.StatusBadRequest)
		return
	}
	hook, err := onemsg.ParseWebhook(body)
	if err != nil {
		log.WarnContext(ctx, "1msg webhook refused", "reason", err.Error())
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	if hook.InstanceID != "" && !strings.HasSuffix(ig.Account, "/"+hook.InstanceID) {
		log.WarnContext(ctx, "1msg webhook from another channel than the integration's", "instance_id", hook.InstanceID, "api_url", ig.Account)
	}
	if n := len(hook.Skipped); n > 0 {
		// One line per webhook, not per item: a batch may hold thousands.
		log.InfoContext(ctx, "1msg webhook: items ignored", "count", n, "first", hook.Skipped[0])
	}
	failed := 0
	for _, m := range hook.Messages {
		var err error
		if m.FromMe {
			err = s.Conversations.ReceiveEcho(ctx, ig, m.Inbound, m.FromApp)
		} else {
			_, err = s.Conversations.Receive(ctx, ig, m.Inbound)
		}
		if err != nil {
			failed++
			log.ErrorContext(ctx, "1msg webhook: message not stored", "message_id", m.ProviderMessageID, "err", err)
		}
	}
	for _, st := range hook.Acks {
		if err := s.Conversations.ReceiveStatus(ctx, ig, st); err != nil {
			failed++
			log.ErrorContext(ctx, "1msg webhook: ack not applied", "message_id", st.ProviderMessageID, "err", err)
		}
	}
	if failed > 0 {
		http.Error(w, "temporary failure", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write([]byte(`{"ok":true}` + "\n"))
}
