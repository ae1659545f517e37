package conversation

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
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
	"parley/internal/tenant"
)

// Upload is a file an agent attaches to a reply.
type Upload struct {
	Filename    string
	ContentType string
	Size        int64
	// Content is the file, read from its start when it is stored: never
	// whole into memory (the reply form keeps a file in a temporary file).
	Content io.ReadSeeker
	head    []byte
}

// NewUpload is a file of size bytes read from content.
func NewUpload(filename, contentType string, content io.ReadSeeker, size int64) *Upload {
	return &Upload{Filename: filename, ContentType: contentType, Content: content, Size: size}
}

// UploadOf is a file held in memory (a test's, a sandbox's).
func UploadOf(filename, contentType string, data []byte) *Upload {
	return NewUpload(filename, contentType, bytes.NewReader(data), int64(len(data)))
}

// Head returns the file's first bytes (channel.SniffBytes at most), by
// which its type is told.
func (u *Upload) Head() ([]byte, error) {
	if u.head == nil {
		if _, err := u.Content.Seek(0, io.SeekStart); err != nil {
			return nil, fmt.Errorf("read the start of %s: %w", u.Filename, err)
		}
		b, err := io.ReadAll(io.LimitReader(u.Content, channel.SniffBytes))
		if err != nil {
			return nil, fmt.Errorf("read the start of %s: %w", u.Filename, err)
		}
		u.head = b
	}
	return u.head, nil
}

// store writes the file under key with its type.
func (u *Upload) store(ctx context.Context, st *media.Store, key, contentType string) (media.Info, error) {
	if _, err := u.Content.Seek(0, io.SeekStart); err != nil {
		return media.Info{}, fmt.Errorf("rewind %s: %w", u.Filename, err)
	}
	return st.Put(ctx, key, contentType, u.Content)
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
	// Seen is the state the agent's page showed: StateEnded from an ended
	// case's page, whose reply reopens the case; StateLive (or "") from a
	// live chat. A reply whose page is out of date is refused.
	Seen string
}

// SendArgs is the job that sends one outgoing message.
type SendArgs struct {
	TenantID  uuid.UUID `json:"tenant_id"`
	MessageID int64     `json:"message_id"`
}

// Kind names the job.
func (SendArgs) Kind() string { return "send_message" }

// InsertOpts: transient failures are retried for about 20 minutes
// (jobs.SendWorker's backoff: 1 s, 16 s, 81 s, then every 2 minutes).
func (SendArgs) InsertOpts() river.InsertOpts { return river.InsertOpts{MaxAttempts: 12} }

// SendReply stores an agent's reply as queued together with its send job,
// in one transaction, so that a crash loses neither. It refuses free text
// outside the 24-hour window before any provider is called. A reply to an
// ended case (r.Seen is StateEnded) reopens it as a live chat assigned to
// the agent, with its number and history.
func (s *Service) SendReply(ctx context.Context, tid uuid.UUID, agentID, caseID int64, r Reply) (Message, error) {
	o := outgoing{kind: "text", body: strings.TrimSpace(r.Body), file: r.File, key: r.IdempotencyKey, status: r.Status}
	if r.Template == nil {
		var err error
		if o.buttons, err = replyButtons(r.Buttons, o.body, r.File != nil); err != nil {
			return Message{}, err
		}
	}
	switch {
	case r.Template != nil:
		sent, err := r.Template.check(s.publicMedia())
		if err != nil {
			return Message{}, err
		}
		if r.Template.File != nil {
			provider, err := s.providerOf(ctx, tid, `SELECT coalesce((SELECT provider FROM integrations WHERE id = c.integration_id), '') FROM cases c WHERE c.id = $1`, caseID)
			if err != nil {
				return Message{}, err
			}
			if o.fileKey, o.fileInfo, err = s.putTemplateFile(ctx, tid, provider, r.Template); err != nil {
				return Message{}, err
			}
		}
		o.kind, o.body, o.template, o.file = "template", sent.Text(), &sent, r.Template.File
	case r.File == nil && o.body == "":
		return Message{}, problem.Field("body", "Write a message or attach a file.")
	default:
		// What WhatsApp or the provider would refuse after sending is
		// refused here, before anything is stored.
		if err := s.checkLimits(ctx, tid, caseID, &o); err != nil {
			return Message{}, err
		}
	}
	if o.file != nil && o.template == nil { // a template's file is stored above
		o.kind, o.fileKey = "file", media.NewKey(tid)
		var err error
		if o.fileInfo, err = o.file.store(ctx, s.media, o.fileKey, contentTypeOf(o.file)); err != nil {
			return Message{}, err
		}
	}
	// The file is written before the row that points to it commits; when
	// the row does not (a refusal, the same reply again), the file goes
	// now, or else the orphan sweep takes it.
	var (
		msgID            int64
		stored, keptFile bool
	)
	defer func() {
		if o.fileKey != "" && !keptFile {
			if err := s.media.Delete(context.WithoutCancel(ctx), o.fileKey); err != nil {
				s.log.WarnContext(ctx, "delete unused file", "key", o.fileKey, "err", err)
			}
		}
	}()
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
		if o.status != "" {
			// The composer has no status field: the words go above it.
			if err := tenant.CheckStatusTx(ctx, tx, "status", o.status); err != nil {
				if p, ok := problem.As(err); ok {
					return problem.New(problem.Invalid, p.Msg+" Nothing was sent.")
				}
				return err
			}
		}
		// The page the agent replied from and the case must agree: a stale
		// page sends nothing, and its reply stays in the box.
		switch {
		case c.State == StateLive && r.Seen == StateEnded:
			who := "Another agent"
			if c.AssigneeName != nil {
				who = *c.AssigneeName
			}
			return problem.New(problem.Conflict, who+" reopened this case a moment ago: it is a live chat again. Nothing was sent; your reply is still in the box — send it again to add it to the chat.")
		case c.State != StateLive && r.Seen != StateEnded:
			return problem.New(problem.Conflict, "This chat has ended meanwhile. Nothing was sent; your reply is still in the box — send it again to reopen the case as a live chat assigned to you.")
		}
		if o.template == nil && !c.WindowOpen(s.clock.Now()) {
			return problem.New(problem.Conflict, c.WindowClosedText())
		}
		if c.State != StateLive {
			if err := s.reopenTx(ctx, tx, tid, agentID, &c); err != nil {
				return err
			}
		}
		if len(o.buttons) > 0 {
			var provider string
			err := tx.QueryRow(ctx, `SELECT provider FROM integrations WHERE id = $1`, c.IntegrationID).Scan(&provider)
			if err != nil || provider != integration.OneMsg {
				return problem.Field("buttons", "Reply buttons can be sent through 1msg only.")
			}
		}
		msgID, err = s.storeOutgoing(ctx, tx, tid, agentID, c, o)
		stored = err == nil
		return err
	})
	keptFile = err == nil && stored
	if postgres.IsUniqueViolation(err, "cases_one_live_chat") {
		// A client's message opened a new chat while this reply reopened the case.
		err = problem.New(problem.Conflict, "The client has just started a new chat on this number: reply there. Nothing was sent.")
	}
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

// SendSettle is how long after a send whose outcome is unknown Parley
// waits before asking the provider whether the message exists: long enough
// for a create still in flight at the provider to have landed.
const SendSettle = 5 * time.Second

// NotYet says a job came back too early and should run again after Wait.
type NotYet struct{ Wait time.Duration }

func (e *NotYet) Error() string { return fmt.Sprintf("not yet: again in %s", e.Wait) }

// delivery is one queued message ready to go, with what a send needs.
type delivery struct {
	msgID, caseID int64
	ig            integration.Integration
	out           channel.Outgoing
	// tried is when an earlier attempt handed the message to the provider
	// without learning the outcome; nil when this is the first.
	tried *time.Time
}

// Deliver sends one queued message through its integration; the send job
// calls it. Each message reaches the provider once:
//
//   - Before calling the provider, the attempt is recorded
//     (send_attempted_at) in the transaction that reads the message.
//   - A send that surely did not go out (no connection, 429) clears it and
//     is retried; a refusal fails the message with the provider's reason.
//   - A send whose outcome is unknown (a timeout, a broken connection, a
//     5xx, an unreadable answer), or an attempt cut short by a crash,
//     leaves it set. The next attempt waits SendSettle, then asks the
//     provider (Lookup) and adopts the message's id if the provider has it;
//     it sends again only when the provider says it does not.
//   - When the provider cannot tell by the last attempt, the message ends
//     "unconfirmed", in plain words for the agent: never sent twice.
//
// A message that is no longer queued, or has a provider id, is left alone.
// A send that was queued inside the window but runs after it closed fails
// without calling the provider. lastAttempt says whether River will try
// again after an error.
func (s *Service) Deliver(ctx context.Context, tid uuid.UUID, msgID int64, lastAttempt bool) error {
	d, failed, err := s.prepareDelivery(ctx, tid, msgID)
	switch {
	case err != nil:
		return err
	case failed != "":
		return s.failMessage(ctx, tid, msgID, "", failed)
	case d == nil:
		return nil
	}
	prov, err := s.integrations.Provider(d.ig)
	if err != nil {
		return s.failMessage(ctx, tid, msgID, "", "The integration's credentials cannot be read: reconnect it in Settings.")
	}
	if d.tried != nil {
		if wait := d.tried.Add(SendSettle).Sub(s.clock.Now()); wait > 0 {
			return &NotYet{Wait: wait}
		}
		found, err := s.adopt(ctx, tid, d, prov)
		switch {
		case err != nil && lastAttempt:
			return s.unconfirmed(ctx, tid, msgID, "The provider could not tell whether it has the message")
		case err != nil:
			s.log.WarnContext(ctx, "send outcome still unknown: the provider could not tell", "tenant_id", tid, "message_id", msgID, "integration_id", d.ig.ID, "err", err)
			return err
		case found:
			return nil
		}
		// The provider does not have it: send it (again).
		if err := s.markAttempt(ctx, tid, msgID, true); err != nil {
			return err
		}
	}
	res, err := prov.Send(ctx, d.out)
	var se *channel.SendError
	switch {
	case err == nil:
		return s.recordSent(ctx, tid, d, res)
	case errors.As(err, &se) && se.Unknown && lastAttempt:
		return s.unconfirmed(ctx, tid, msgID, se.Message)
	case errors.As(err, &se) && se.Unknown:
		s.log.WarnContext(ctx, "send outcome unknown: the provider will be asked before any resend", "tenant_id", tid, "message_id", msgID, "integration_id", d.ig.ID, "err", err)
		return err
	case errors.As(err, &se) && se.Retryable && !lastAttempt:
		s.log.WarnContext(ctx, "send failed, will retry", "tenant_id", tid, "message_id", msgID, "integration_id", d.ig.ID, "err", err)
		if err := s.markAttempt(ctx, tid, msgID, false); err != nil {
			return err
		}
		return err
	case errors.As(err, &se):
		return s.failMessage(ctx, tid, msgID, se.Code, se.FinalMessage())
	case lastAttempt:
		return s.unconfirmed(ctx, tid, msgID, "The send ended with an error Parley does not know")
	}
	return err
}

// prepareDelivery reads a queued message and what sending it needs, and
// records the attempt when it is the first, in one round trip: the reads
// and the update go with the transaction's start. It returns nil when
// there is nothing to send, or the words of a failure that needs no
// provider.
func (s *Service) prepareDelivery(ctx context.Context, tid uuid.UUID, msgID int64) (*delivery, string, error) {
	var (
		d     = &delivery{msgID: msgID}
		m     Message
		cases []Case
		atts  []Attachment
		found bool
	)
	first := &pgx.Batch{}
	first.Queue(`SELECT case_id, kind, body, status, provider_message_id, meta->'template', meta->'buttons', send_attempted_at
		FROM messages WHERE id = $1 AND direction = 'out' FOR UPDATE`, msgID).Query(func(rows pgx.Rows) error {
		for rows.Next() {
			found = true
			if err := rows.Scan(&m.CaseID, &m.Kind, &m.Body, &m.Status, &m.ProviderMessageID, &m.Template, &m.ReplyButtons, &d.tried); err != nil {
				return err
			}
		}
		return rows.Err()
	})
	first.Queue(selectCase+` WHERE c.id = (SELECT case_id FROM messages WHERE id = $1)`, msgID).Query(func(rows pgx.Rows) (err error) {
		cases, err = pgx.CollectRows(rows, pgx.RowToStructByName[Case])
		return err
	})
	first.Queue(`SELECT id, message_id, filename, content_type, size, state, error, storage_key, public_token
		FROM attachments WHERE message_id = $1 ORDER BY id LIMIT 1`, msgID).Query(func(rows pgx.Rows) (err error) {
		atts, err = pgx.CollectRows(rows, pgx.RowToStructByName[Attachment])
		return err
	})
	// The first attempt is recorded before the provider is called; a
	// message that turns out to need no call is failed or left alone below.
	first.Queue(`UPDATE messages SET send_attempted_at = $2
		WHERE id = $1 AND status = 'queued' AND provider_message_id IS NULL AND send_attempted_at IS NULL`, msgID, s.clock.Now())
	if err := s.db.InTenantFrom(ctx, tid, first, func(pgx.Tx) error { return nil }); err != nil {
		return nil, "", fmt.Errorf("read message %d to send: %w", msgID, err)
	}
	if !found || m.Status != "queued" || m.ProviderMessageID != nil || len(cases) == 0 {
		return nil, "", nil // deleted before it was sent, or already sent
	}
	c := cases[0]
	d.caseID = m.CaseID
	if c.IntegrationID == nil {
		return nil, "The WhatsApp integration of this chat was deleted.", nil
	}
	// Once an attempt may have gone out, the provider's answer decides.
	if d.tried == nil && m.Kind != "template" && !c.WindowOpen(s.clock.Now()) {
		return nil, channel.WindowClosedMessage, nil
	}
	ig, err := s.integrations.Cached(ctx, tid, *c.IntegrationID)
	switch {
	case problem.Is(err, problem.NotFound):
		return nil, "The WhatsApp integration of this chat was deleted.", nil
	case err != nil:
		return nil, "", err
	}
	d.ig = ig
	d.out = channel.Outgoing{To: c.ClientAddress(), Body: m.Body, Buttons: m.ReplyButtons, StatusCallback: s.integrations.WebhookURL(d.ig)}
	if m.Template != nil {
		// The template, its values and its media go; Body stays the filled
		// text, by which a lookup recognises the message.
		d.out = m.Template.Outgoing(d.out)
	}
	if len(atts) > 0 && atts[0].PublicToken != nil {
		at := atts[0]
		d.out.MediaURL = s.publicMedia() + media.SignToken(s.linkKey, *at.PublicToken, s.clock.Now().Add(s.linkTTL)) + "/" + at.Filename
		d.out.MediaType = at.ContentType
		d.out.Filename = at.Filename
	}
	return d, "", nil
}

// markAttempt records that a send is about to start (tried) or surely did
// not go out (!tried).
func (s *Service) markAttempt(ctx context.Context, tid uuid.UUID, msgID int64, tried bool) error {
	var at *time.Time
	if tried {
		now := s.clock.Now()
		at = &now
	}
	return s.db.InTenant(ctx, tid, func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, `UPDATE messages SET send_attempted_at = $2 WHERE id = $1 AND status = 'queued'`, msgID, at)
		if err != nil {
			return fmt.Errorf("record send attempt of message %d: %w", msgID, err)
		}
		return nil
	})
}

// adopt asks the provider for the message an earlier attempt may have
// sent, and records the first match that no other message of the
// integration has claimed. It reports whether it found one.
func (s *Service) adopt(ctx context.Context, tid uuid.UUID, d *delivery, prov channel.Provider) (bool, error) {
	matches, err := prov.Lookup(ctx, d.out, *d.tried)
	if err != nil || len(matches) == 0 {
		return false, err
	}
	ids := make([]string, len(matches))
	for i, m := range matches {
		ids[i] = m.ProviderMessageID
	}
	var claimed []string
	err = s.db.InTenant(ctx, tid, func(tx pgx.Tx) error {
		rows, _ := tx.Query(ctx, `SELECT provider_message_id FROM messages WHERE integration_id = $1 AND provider_message_id = ANY($2)`, d.ig.ID, ids)
		var err error
		claimed, err = pgx.CollectRows(rows, pgx.RowTo[string])
		return err
	})
	if err != nil {
		return false, fmt.Errorf("claimed provider ids: %w", err)
	}
	for _, m := range matches {
		if slices.Contains(claimed, m.ProviderMessageID) {
			continue
		}
		if m.Status == channel.StatusFailed {
			m.Status = channel.StatusQueued // the status callback brings the reason
		}
		s.log.InfoContext(ctx, "send outcome settled: the provider has the message", "tenant_id", tid, "message_id", d.msgID, "provider_message_id", m.ProviderMessageID)
		return true, s.recordSent(ctx, tid, d, m)
	}
	return false, nil
}

// recordSent records the provider's id and status of a sent message, in
// one round trip.
func (s *Service) recordSent(ctx context.Context, tid uuid.UUID, d *delivery, res channel.SendResult) error {
	first := &pgx.Batch{}
	first.Queue(`UPDATE messages SET provider_message_id = nullif($2, ''), updated_at = $3, send_attempted_at = NULL,
			status = CASE WHEN status = 'queued' AND $4 <> 'queued' THEN $4 ELSE status END
		WHERE id = $1`, d.msgID, res.ProviderMessageID, s.clock.Now(), res.Status)
	if err := realtime.QueueNotify(first, realtime.Event{TenantID: tid, Kind: "message", CaseID: d.caseID}); err != nil {
		return err
	}
	if err := s.db.InTenantFrom(ctx, tid, first, func(pgx.Tx) error { return nil }); err != nil {
		return fmt.Errorf("record provider id of message %d: %w", d.msgID, err)
	}
	return nil
}

// unconfirmed ends a message whose send Parley could not confirm: it may
// or may not have reached the client, and is never sent again by itself.
func (s *Service) unconfirmed(ctx context.Context, tid uuid.UUID, msgID int64, why string) error {
	words := "Not confirmed: " + strings.TrimRight(why, ".") + ". Parley could not learn whether this message reached the client, and will not send it again by itself: ask the client before sending it again."
	s.log.WarnContext(ctx, "send unconfirmed", "tenant_id", tid, "message_id", msgID, "why", why)
	return s.db.InTenant(ctx, tid, func(tx pgx.Tx) error {
		var caseID int64
		err := tx.QueryRow(ctx, `UPDATE messages SET status = 'unconfirmed', error_message = $2, updated_at = $3
			WHERE id = $1 AND status = 'queued' RETURNING case_id`, msgID, words, s.clock.Now()).Scan(&caseID)
		if errors.Is(err, pgx.ErrNoRows) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("mark message %d unconfirmed: %w", msgID, err)
		}
		return realtime.Notify(ctx, tx, realtime.Event{TenantID: tid, Kind: "message", CaseID: caseID})
	})
}

// checkLimits refuses a reply that the chat's provider or WhatsApp would
// refuse (its length, its file's type and size: channel.Limits) with the
// reason in plain words, and gives the file its real type. A short text
// without a file fits every provider and costs no lookup.
func (s *Service) checkLimits(ctx context.Context, tid uuid.UUID, caseID int64, o *outgoing) error {
	if o.file == nil && utf8.RuneCountInString(o.body) <= channel.MaxCaptionRunes {
		return nil
	}
	var provider string
	err := s.db.InTenant(ctx, tid, func(tx pgx.Tx) error {
		return tx.QueryRow(ctx, `SELECT coalesce((SELECT provider FROM integrations WHERE id = c.integration_id), '') FROM cases c WHERE c.id = $1`, caseID).Scan(&provider)
	})
	if err != nil && !errors.Is(err, pgx.ErrNoRows) {
		return fmt.Errorf("provider of chat %d: %w", caseID, err)
	}
	// A chat that is gone, or lost its integration, is refused later;
	// meanwhile the strictest limits apply.
	lim := channel.LimitsFor(provider)
	with := channel.TextAlone
	switch {
	case o.file != nil:
		with = channel.TextWithFile
	case len(o.buttons) > 0:
		with = channel.TextWithButtons
	}
	if err := lim.CheckText(o.body, with); err != nil {
		return problem.Field("body", err.Error())
	}
	if o.file == nil {
		return nil
	}
	head, err := o.file.Head()
	if err != nil {
		return err
	}
	ct, err := lim.CheckFile(o.file.Filename, head, o.file.Size)
	if err != nil {
		return problem.Field("file", err.Error()+" Nothing was sent.")
	}
	f := *o.file
	f.ContentType = ct
	o.file = &f
	return nil
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
		tag, err := tx.Exec(ctx, `DELETE FROM messages WHERE id = $1 AND case_id = $2 AND status IN ('failed', 'unconfirmed') AND direction = 'out'`, msgID, caseID)
		if err != nil {
			return fmt.Errorf("delete message %d: %w", msgID, err)
		}
		if tag.RowsAffected() == 0 {
			return problem.New(problem.NotFound, "Only a message that failed to send, or was not confirmed, can be deleted.")
		}
		if err := repreview(ctx, tx, caseID); err != nil {
			return err
		}
		return realtime.Notify(ctx, tx, realtime.Event{TenantID: tid, Kind: "message", CaseID: caseID})
	})
}

// repreview sets a case's preview (chat list, All cases, a client's
// history) to its latest message, after that message was deleted.
func repreview(ctx context.Context, tx pgx.Tx, caseID int64) error {
	var kind, body string
	var meta MessageMeta
	err := tx.QueryRow(ctx, `SELECT kind, body, meta FROM messages WHERE case_id = $1 AND direction <> 'internal' ORDER BY created_at DESC, id DESC LIMIT 1`, caseID).Scan(&kind, &body, &meta)
	preview := ""
	switch {
	case err == nil:
		preview = previewOf(kind, body, meta)
	case !errors.Is(err, pgx.ErrNoRows):
		return fmt.Errorf("case %d preview: %w", caseID, err)
	}
	if _, err := tx.Exec(ctx, `UPDATE cases SET preview = $2 WHERE id = $1`, caseID, preview); err != nil {
		return fmt.Errorf("case %d preview: %w", caseID, err)
	}
	return nil
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
	head, _ := u.Head() // unreadable: the store's own read fails next
	return http.DetectContentType(head)
}

func newPublicToken() (string, error) {
	t, err := uuid.NewRandom()
	if err != nil {
		return "", err
	}
	return strings.ReplaceAll(t.String(), "-", "") + strings.ReplaceAll(uuid.NewString(), "-", ""), nil
}
