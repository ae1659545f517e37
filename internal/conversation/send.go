package conversation

import (
	"context"
	"errors"
	"fmt"
	"mime"
	"net/http"
	"path/filepath"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"

	"parley/internal/channel"
	"parley/internal/integration"
	"parley/internal/media"
	"parley/internal/postgres"
	"parley/internal/problem"
	"parley/internal/realtime"
	"parley/internal/ruleevent"
)

// MaxReplyRunes bounds a text reply (WhatsApp's limit is 4096 characters).
const MaxReplyRunes = 4096

// Upload is a file an agent attaches to a reply.
type Upload struct {
	Filename    string
	ContentType string
	Data        []byte
}

// Reply is what an agent sends from the composer: text, a file, or an
// approved template with its variables.
type Reply struct {
	Body     string
	File     *Upload
	Template *TemplateUse
	// Buttons are reply buttons under the text (1msg only), tapped
	// answers coming back as the client's messages.
	Buttons []string
	// Status, when a macro set one, becomes the chat's status.
	Status string
	// IdempotencyKey comes from the form: a double click or a retried
	// POST stores one message.
	IdempotencyKey string
}

// SendArgs is the job that sends one outgoing message.
type SendArgs struct {
	TenantID  uuid.UUID `json:"tenant_id"`
	MessageID int64     `json:"message_id"`
}

// Kind names the job.
func (SendArgs) Kind() string { return "send_message" }

// InsertOpts: transient failures are retried with backoff for about an hour.
func (SendArgs) InsertOpts() river.InsertOpts { return river.InsertOpts{MaxAttempts: 8} }

// SendReply stores an agent's reply as queued together with its send job,
// in one transaction, so that a crash loses neither. It refuses free text
// outside the 24-hour window before any provider is called.
func (s *Service) SendReply(ctx context.Context, tid uuid.UUID, agentID, caseID int64, r Reply) (Message, error) {
	o := outgoing{kind: "text", body: strings.TrimSpace(r.Body), file: r.File, key: r.IdempotencyKey, status: r.Status}
	if o.status != "" && !ValidStatus(o.status) {
		return Message{}, problem.New(problem.Invalid, "Choose a status for the chat, or none.")
	}
	if r.Template == nil {
		var err error
		if o.buttons, err = replyButtons(r.Buttons, o.body, r.File != nil); err != nil {
			return Message{}, err
		}
	}
	switch {
	case r.Template != nil:
		sent, err := r.Template.check()
		if err != nil {
			return Message{}, err
		}
		o.kind, o.body, o.template, o.file = "template", sent.Text(), &sent, nil
	case r.File == nil && o.body == "":
		return Message{}, problem.Field("body", "Write a message or attach a file.")
	case utf8.RuneCountInString(o.body) > MaxReplyRunes:
		return Message{}, problem.Field("body", fmt.Sprintf("WhatsApp messages are at most %d characters.", MaxReplyRunes))
	case r.File != nil && len(r.File.Data) > channel.MaxOutboundFileBytes:
		return Message{}, problem.Field("file", fmt.Sprintf("The file is %s; WhatsApp accepts files up to 16 MB.", megabytes(int64(len(r.File.Data)))))
	case r.File != nil:
		o.kind, o.fileKey = "file", media.NewKey(tid)
		if err := s.media.Put(ctx, o.fileKey, r.File.Data); err != nil {
			return Message{}, err
		}
	}
	var msgID int64
	err := s.db.InTenant(ctx, tid, func(tx pgx.Tx) error {
		c, err := caseTx(ctx, tx, caseID, true)
		if err != nil {
			return err
		}
		if o.key != "" {
			err := tx.QueryRow(ctx, `SELECT id FROM messages WHERE idempotency_key = $1`, o.key).Scan(&msgID)
			if err == nil {
				return nil // already stored: this is the same reply again
			}
			if !errors.Is(err, pgx.ErrNoRows) {
				return err
			}
		}
		if c.State != StateLive {
			return problem.New(problem.Conflict, "This chat has ended. A new message from the client opens a new chat.")
		}
		if o.template == nil && !c.WindowOpen(s.clock.Now()) {
			return problem.New(problem.Conflict, channel.WindowClosedMessage)
		}
		if len(o.buttons) > 0 {
			var provider string
			err := tx.QueryRow(ctx, `SELECT provider FROM integrations WHERE id = $1`, c.IntegrationID).Scan(&provider)
			if err != nil || provider != integration.OneMsg {
				return problem.Field("buttons", "Reply buttons can be sent through 1msg only.")
			}
		}
		msgID, err = s.storeOutgoing(ctx, tx, tid, agentID, c, o)
		return err
	})
	if postgres.IsUniqueViolation(err, "messages_idempotency_key") {
		// The same reply raced itself; the other request stored it.
		err = nil
		if e := s.db.InTenant(ctx, tid, func(tx pgx.Tx) error {
			return tx.QueryRow(ctx, `SELECT id FROM messages WHERE idempotency_key = $1`, o.key).Scan(&msgID)
		}); e != nil {
			return Message{}, e
		}
	}
	if err != nil {
		return Message{}, err
	}
	return Message{ID: msgID, CaseID: caseID}, nil
}

// Deliver sends one queued message through its integration; the send job
// calls it. It is idempotent: a message that is no longer queued, or
// already has a provider id, is left alone. A send that was queued inside
// the window but runs after it closed fails without calling the provider.
// lastAttempt says whether River will try again after a retryable error.
func (s *Service) Deliver(ctx context.Context, tid uuid.UUID, msgID int64, lastAttempt bool) error {
	var (
		m  Message
		c  Case
		ig integration.Integration
		at *Attachment
	)
	err := s.db.InTenant(ctx, tid, func(tx pgx.Tx) error {
		err := tx.QueryRow(ctx, `SELECT id, case_id, kind, body, status, provider_message_id, meta->'template', meta->'buttons' FROM messages WHERE id = $1 AND direction = 'out'`, msgID).
			Scan(&m.ID, &m.CaseID, &m.Kind, &m.Body, &m.Status, &m.ProviderMessageID, &m.Template, &m.ReplyButtons)
		if err != nil {
			return notFound(err, "message gone")
		}
		if c, err = caseTx(ctx, tx, m.CaseID, false); err != nil {
			return err
		}
		if c.IntegrationID == nil {
			return problem.New(problem.Conflict, "The WhatsApp integration of this chat was deleted.")
		}
		if ig, err = integration.GetTx(ctx, tx, *c.IntegrationID); err != nil {
			return err
		}
		rows, _ := tx.Query(ctx, `SELECT id, message_id, filename, content_type, size, state, error, storage_key, public_token
			FROM attachments WHERE message_id = $1 ORDER BY id LIMIT 1`, msgID)
		atts, err := pgx.CollectRows(rows, pgx.RowToStructByName[Attachment])
		if len(atts) > 0 {
			at = &atts[0]
		}
		return err
	})
	if problem.Is(err, problem.NotFound) && m.ID == 0 {
		return nil // deleted before it was sent
	}
	if problem.Is(err, problem.Conflict) || problem.Is(err, problem.NotFound) {
		p, _ := problem.As(err)
		return s.failMessage(ctx, tid, msgID, "", p.Msg)
	}
	if err != nil {
		return err
	}
	if m.Status != "queued" || m.ProviderMessageID != nil {
		return nil
	}
	if m.Kind != "template" && !c.WindowOpen(s.clock.Now()) {
		return s.failMessage(ctx, tid, msgID, "", channel.WindowClosedMessage)
	}
	prov, err := s.integrations.Provider(ig)
	if err != nil {
		return s.failMessage(ctx, tid, msgID, "", "The integration's credentials cannot be read: reconnect it in Settings.")
	}
	out := channel.Outgoing{To: deref(c.ClientWhatsApp), Body: m.Body, Buttons: m.ReplyButtons, StatusCallback: s.integrations.WebhookURL(ig)}
	if m.Template != nil {
		// Only the template and its values go: the provider has the text.
		out.Body, out.TemplateID, out.Variables = "", m.Template.ID, m.Template.Values()
	}
	if at != nil && at.PublicToken != nil {
		out.MediaURL = s.baseURL + "/media/public/" + *at.PublicToken + "/" + at.Filename
		out.MediaType = at.ContentType
		out.Filename = at.Filename
	}
	res, err := prov.Send(ctx, out)
	var se *channel.SendError
	switch {
	case errors.As(err, &se) && se.Retryable && !lastAttempt:
		s.log.WarnContext(ctx, "send failed, will retry", "tenant_id", tid, "message_id", msgID, "integration_id", ig.ID, "err", err)
		return err
	case errors.As(err, &se):
		return s.failMessage(ctx, tid, msgID, se.Code, se.Message)
	case err != nil:
		if !lastAttempt {
			return err
		}
		return s.failMessage(ctx, tid, msgID, "", "The message could not be sent.")
	}
	return s.db.InTenant(ctx, tid, func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, `UPDATE messages SET provider_message_id = nullif($2, ''), updated_at = $3,
				status = CASE WHEN status = 'queued' AND $4 <> 'queued' THEN $4 ELSE status END
			WHERE id = $1`, msgID, res.ProviderMessageID, s.clock.Now(), res.Status)
		if err != nil {
			return fmt.Errorf("record provider id of message %d: %w", msgID, err)
		}
		return realtime.Notify(ctx, tx, realtime.Event{TenantID: tid, Kind: "message", CaseID: m.CaseID})
	})
}

// MaxReplyButtons and MaxButtonRunes are WhatsApp's limits on reply
// buttons.
const (
	MaxReplyButtons = 3
	MaxButtonRunes  = 20
)

// replyButtons checks the reply buttons typed under a text.
func replyButtons(typed []string, body string, file bool) ([]string, error) {
	var out []string
	for _, b := range typed {
		if b = strings.TrimSpace(b); b != "" && !slices.Contains(out, b) {
			out = append(out, b)
		}
	}
	switch {
	case len(out) == 0:
		return nil, nil
	case file || body == "":
		return nil, problem.Field("buttons", "Reply buttons go under a text: write one, without a file.")
	case len(out) > MaxReplyButtons:
		return nil, problem.Field("buttons", "WhatsApp allows at most 3 reply buttons.")
	}
	for _, b := range out {
		if utf8.RuneCountInString(b) > MaxButtonRunes {
			return nil, problem.Field("buttons", fmt.Sprintf("“%s” is longer than WhatsApp's 20 characters for a button.", b))
		}
	}
	return out, nil
}

// failMessage marks a message failed with plain words; the conversation
// shows it orange with a delete link.
func (s *Service) failMessage(ctx context.Context, tid uuid.UUID, msgID int64, code, msg string) error {
	return s.db.InTenant(ctx, tid, func(tx pgx.Tx) error {
		var caseID int64
		err := tx.QueryRow(ctx, `UPDATE messages SET status = 'failed', error_code = nullif($2, ''), error_message = $3, updated_at = $4
			WHERE id = $1 RETURNING case_id`, msgID, code, msg, s.clock.Now()).Scan(&caseID)
		if errors.Is(err, pgx.ErrNoRows) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("fail message %d: %w", msgID, err)
		}
		if err := s.events.Fire(ctx, tx, tid, ruleevent.MessageFailed, caseID, msgID); err != nil {
			return err
		}
		return realtime.Notify(ctx, tx, realtime.Event{TenantID: tid, Kind: "message", CaseID: caseID})
	})
}

// DeleteMessage removes a failed outgoing message so the agent can send it
// again properly; anything else that was sent stays.
func (s *Service) DeleteMessage(ctx context.Context, tid uuid.UUID, caseID, msgID int64) error {
	return s.db.InTenant(ctx, tid, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `DELETE FROM messages WHERE id = $1 AND case_id = $2 AND status = 'failed' AND direction = 'out'`, msgID, caseID)
		if err != nil {
			return fmt.Errorf("delete message %d: %w", msgID, err)
		}
		if tag.RowsAffected() == 0 {
			return problem.New(problem.NotFound, "Only a message that failed to send can be deleted.")
		}
		return realtime.Notify(ctx, tx, realtime.Event{TenantID: tid, Kind: "message", CaseID: caseID})
	})
}

// statusRank orders delivery statuses; statuses only move forward.
var statusRank = map[string]int{"queued": 0, "sent": 1, "delivered": 2, "read": 3}

// ApplyStatus moves an outgoing message's delivery status forward (sent →
// delivered → read), or to failed with the provider's error explained, and
// never backwards. It reports false when no message has the provider id
// (yet: the status can overtake the send's own answer).
func (s *Service) ApplyStatus(ctx context.Context, ig integration.Integration, st channel.Status) (bool, error) {
	found := false
	err := s.db.InTenant(ctx, ig.TenantID, func(tx pgx.Tx) error {
		var id, caseID int64
		var cur string
		err := tx.QueryRow(ctx, `SELECT id, case_id, status FROM messages WHERE integration_id = $1 AND provider_message_id = $2 FOR UPDATE`,
			ig.ID, st.ProviderMessageID).Scan(&id, &caseID, &cur)
		if errors.Is(err, pgx.ErrNoRows) {
			return nil
		}
		if err != nil {
			return err
		}
		found = true
		next, ok := statusRank[st.Status]
		switch {
		case st.Status == channel.StatusFailed:
			if cur == "delivered" || cur == "read" || cur == "failed" {
				return nil
			}
			msg := channel.Explain(st.ErrorCode, st.ErrorText)
			_, err = tx.Exec(ctx, `UPDATE messages SET status = 'failed', error_code = nullif($2, ''), error_message = $3, updated_at = $4 WHERE id = $1`,
				id, st.ErrorCode, msg, s.clock.Now())
			if err == nil {
				err = s.events.Fire(ctx, tx, ig.TenantID, ruleevent.MessageFailed, caseID, id)
			}
		case !ok:
			return nil
		default:
			if r, known := statusRank[cur]; !known || r >= next {
				return nil // old news, or already failed
			}
			_, err = tx.Exec(ctx, `UPDATE messages SET status = $2, updated_at = $3 WHERE id = $1`, id, st.Status, s.clock.Now())
		}
		if err != nil {
			return fmt.Errorf("update status of message %d: %w", id, err)
		}
		return realtime.Notify(ctx, tx, realtime.Event{TenantID: ig.TenantID, Kind: "message", CaseID: caseID})
	})
	return found, err
}

// StatusArgs is a delivery status that arrived before its message's send
// finished recording the provider id; the job applies it shortly after.
type StatusArgs struct {
	TenantID      uuid.UUID      `json:"tenant_id"`
	IntegrationID int64          `json:"integration_id"`
	Status        channel.Status `json:"status"`
}

// Kind names the job.
func (StatusArgs) Kind() string { return "apply_status" }

// InsertOpts: a status for a message that never appears is dropped after
// a few tries.
func (StatusArgs) InsertOpts() river.InsertOpts { return river.InsertOpts{MaxAttempts: 6} }

// ReceiveStatus applies a delivery status from a provider's webhook; one
// that overtook Parley's record of the send is applied a moment later.
func (s *Service) ReceiveStatus(ctx context.Context, ig integration.Integration, st channel.Status) error {
	found, err := s.ApplyStatus(ctx, ig, st)
	if err != nil || found {
		return err
	}
	return s.deferStatus(ctx, ig, st)
}

// deferStatus queues st to be applied again in a moment.
func (s *Service) deferStatus(ctx context.Context, ig integration.Integration, st channel.Status) error {
	_, err := s.queue.Insert(ctx, StatusArgs{TenantID: ig.TenantID, IntegrationID: ig.ID, Status: st},
		&river.InsertOpts{ScheduledAt: time.Now().Add(time.Second)})
	return err
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

func megabytes(n int64) string {
	return fmt.Sprintf("%.1f MB", float64(n)/(1<<20))
}

func cleanFilename(name string) string {
	name = filepath.Base(strings.ReplaceAll(name, "\\", "/"))
	name = strings.Map(func(r rune) rune {
		if r < 32 || r == '/' || r == '"' {
			return -1
		}
		return r
	}, name)
	if name == "" || name == "." {
		return "file"
	}
	return truncate(name, 120)
}

func contentTypeOf(u *Upload) string {
	if ct := u.ContentType; ct != "" && ct != "application/octet-stream" {
		return ct
	}
	if ct := mime.TypeByExtension(filepath.Ext(u.Filename)); ct != "" {
		return ct
	}
	return http.DetectContentType(u.Data)
}

func newPublicToken() (string, error) {
	t, err := uuid.NewRandom()
	if err != nil {
		return "", err
	}
	return strings.ReplaceAll(t.String(), "-", "") + strings.ReplaceAll(uuid.NewString(), "-", ""), nil
}
