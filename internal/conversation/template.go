package conversation

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"unicode/utf8"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"parley/internal/channel"
	"parley/internal/client"
	"parley/internal/integration"
	"parley/internal/media"
	"parley/internal/phone"
	"parley/internal/problem"
	"parley/internal/realtime"
	"parley/internal/ruleevent"
)

// SentTemplate is the approved template a message was sent with, kept in
// the message's meta: the conversation shows it with its service comments
// and variable hints when the provider refuses it, and the send job reads
// the template id and values from it.
type SentTemplate struct {
	ID         string          `json:"id"`
	Name       string          `json:"name"`
	Language   string          `json:"language"`
	Kind       string          `json:"kind,omitempty"`
	HeaderText string          `json:"header_text,omitempty"`
	Body       string          `json:"body"`
	Footer     string          `json:"footer,omitempty"`
	Variables  []TemplateValue `json:"variables,omitempty"`
	Buttons    []string        `json:"buttons,omitempty"`
	// Links are the template's link, call and copy-code buttons.
	Links []channel.TemplateButton `json:"links,omitempty"`
	// Media is the template's media header; MediaURL the link the agent
	// gave for it (a file they attached is the message's attachment).
	Media    *channel.TemplateMedia `json:"media,omitempty"`
	MediaURL string                 `json:"media_url,omitempty"`
}

// TemplateValue is one variable of a sent template and what the agent
// filled in.
type TemplateValue struct {
	Key   string `json:"key"`
	Hint  string `json:"hint,omitempty"`
	Value string `json:"value"`
}

// TemplateUse is an approved template picked in the macros panel, with the
// values the agent typed for its variables and, for a media header, the
// file they attached or the link they gave.
type TemplateUse struct {
	Template channel.Template
	Values   map[string]string
	MediaURL string
	File     *Upload
}

// VariableField is the form field of a template variable, where its
// problem is reported.
func VariableField(key string) string { return "var_" + key }

// MediaField is the form field of a template's media header (its file
// and its link).
const MediaField = "template_media"

// mediaWords names a header's media for the agent.
var mediaWords = map[string]string{
	channel.MediaImage: "an image", channel.MediaDocument: "a document", channel.MediaVideo: "a video",
}

// check validates the template and the values, reporting each problem
// next to its variable, and returns what will be stored and sent.
// publicMedia is where Parley serves the files it sends
// ("https://parley.example.com/media/public/"): a provider that takes
// only the end of a media link (Twilio's "https://host/{{1}}") can be
// given an attached file only when its link starts there.
func (u TemplateUse) check(publicMedia string) (SentTemplate, error) {
	t := u.Template
	if strings.TrimSpace(t.ID) == "" || strings.TrimSpace(t.Body) == "" || len(t.ID) > 1000 ||
		utf8.RuneCountInString(t.Text()) > channel.MaxTemplateTextRunes || len(t.Variables) > 100 {
		return SentTemplate{}, problem.Field("template", "This template cannot be read; pick it again from the macros panel.")
	}
	if t.Unsendable != "" {
		return SentTemplate{}, problem.Field("template", t.Unsendable+". Pick another template.")
	}
	st := SentTemplate{
		ID: t.ID, Name: truncate(t.Name, 200), Language: truncate(t.Language, 20), Kind: truncate(t.Kind, 60),
		HeaderText: t.HeaderText, Body: t.Body, Footer: t.Footer, Buttons: t.Buttons, Links: t.Links, Media: t.Media,
	}
	errs := problem.Fields{}
	values := map[string]string{}
	for _, v := range t.Variables {
		val := strings.TrimSpace(u.Values[v.Key])
		if msg := channel.CheckVariable(val); msg != "" {
			errs.Add(VariableField(v.Key), msg)
		}
		values[v.Key] = val
		st.Variables = append(st.Variables, TemplateValue{Key: v.Key, Hint: truncate(v.Hint, 200), Value: val})
	}
	if msg := u.checkMedia(publicMedia); msg != "" {
		errs.Add(MediaField, msg)
	} else if t.Media.NeedsFile() && u.File == nil {
		st.MediaURL = strings.TrimSpace(u.MediaURL)
	}
	if err := errs.Err(); err != nil {
		return st, err
	}
	if n := utf8.RuneCountInString(st.Text()); n > channel.MaxTemplateTextRunes {
		for _, v := range t.Variables {
			errs.Add(VariableField(v.Key), fmt.Sprintf("With these values the template has %d characters; WhatsApp accepts at most 1,024 in its text. Shorten the values.", n))
		}
		return st, errs.Err()
	}
	return st, nil
}

// checkMedia says what is wrong with the media given for the template's
// header, or "".
func (u TemplateUse) checkMedia(publicMedia string) string {
	m := u.Template.Media
	link := strings.TrimSpace(u.MediaURL)
	if !m.NeedsFile() {
		if u.File != nil || link != "" {
			return "This template has no media to replace; remove the file or link."
		}
		return ""
	}
	what := mediaWords[m.Kind]
	if what == "" {
		return fmt.Sprintf("Parley cannot send a template with a %s header.", m.Kind)
	}
	switch {
	case u.File != nil && link != "":
		return "Attach a file or give a link, not both."
	case u.File == nil && link == "":
		return fmt.Sprintf("This template shows %s above its text: attach it or give its link.", what)
	case u.File != nil:
		if u.File.Size > channel.MaxOutboundFileBytes {
			return fmt.Sprintf("The file is %s; WhatsApp accepts files up to 16 MB.", megabytes(u.File.Size))
		}
		ct := contentTypeOf(u.File)
		if (m.Kind == channel.MediaImage && !strings.HasPrefix(ct, "image/")) || (m.Kind == channel.MediaVideo && !strings.HasPrefix(ct, "video/")) {
			return fmt.Sprintf("This template was approved with %s; “%s” is not one.", what, cleanFilename(u.File.Filename))
		}
		if m.Prefix != "" && !strings.HasPrefix(publicMedia, m.Prefix) {
			return fmt.Sprintf("WhatsApp approved this template with media from %s only: give the link of a file there.", m.Prefix)
		}
		return ""
	}
	p, err := url.Parse(link)
	switch {
	case err != nil || (p.Scheme != "https" && p.Scheme != "http") || p.Host == "" || len(link) > 2000:
		return "Give the whole link of the file, starting with https://."
	case m.Prefix != "" && (!strings.HasPrefix(link, m.Prefix) || link == m.Prefix):
		return fmt.Sprintf("WhatsApp approved this template with media from %s only: give a link that starts there.", m.Prefix)
	}
	return ""
}

// Outgoing puts the template into a send: its id, the values, its media
// header and the buttons that take values; only these go, the provider
// has the text (out.Body keeps the filled text, by which a lookup
// recognises the message). A file attached for the media is set by the
// caller.
func (t SentTemplate) Outgoing(out channel.Outgoing) channel.Outgoing {
	out.TemplateID, out.Variables = t.ID, t.Values()
	if t.Media.NeedsFile() {
		out.TemplateMedia, out.MediaURL = t.Media, t.MediaURL
	}
	for _, b := range t.Links {
		if b.Var != "" {
			out.TemplateLinks = append(out.TemplateLinks, b)
		}
	}
	return out
}

// Values are the variables as the provider takes them.
func (t SentTemplate) Values() map[string]string {
	m := make(map[string]string, len(t.Variables))
	for _, v := range t.Variables {
		m[v.Key] = v.Value
	}
	return m
}

// Text is the template's text with the values filled in: what the client
// reads.
func (t SentTemplate) Text() string {
	v := t.Values()
	return channel.TemplateText(channel.FillTemplate(t.HeaderText, v), channel.FillTemplate(t.Body, v), channel.FillTemplate(t.Footer, v))
}

// publicMedia is where Parley serves the files it sends.
func (s *Service) publicMedia() string { return s.baseURL + "/media/public/" }

// putTemplateFile checks the file attached for a template's media header
// against the provider's rules (its type by its bytes, its size for its
// kind) and stores it like a reply's, returning its storage key ("" without
// a file) and what the store learnt of it. provider is the integration's
// ("" applies the strictest rules).
func (s *Service) putTemplateFile(ctx context.Context, tid uuid.UUID, provider string, u *TemplateUse) (string, media.Info, error) {
	if u.File == nil {
		return "", media.Info{}, nil
	}
	head, err := u.File.Head()
	if err != nil {
		return "", media.Info{}, err
	}
	ct, err := channel.LimitsFor(provider).CheckFile(u.File.Filename, head, u.File.Size)
	if err != nil {
		return "", media.Info{}, problem.Field(MediaField, err.Error()+" Nothing was sent.")
	}
	f := *u.File
	f.ContentType = ct
	u.File = &f
	key := media.NewKey(tid)
	info, err := u.File.store(ctx, s.media, key, ct)
	return key, info, err
}

// providerOf is the provider of an integration, or "" when it is gone.
func (s *Service) providerOf(ctx context.Context, tid uuid.UUID, q string, id int64) (string, error) {
	var provider string
	err := s.db.InTenant(ctx, tid, func(tx pgx.Tx) error {
		return tx.QueryRow(ctx, q, id).Scan(&provider)
	})
	if err != nil && !errors.Is(err, pgx.ErrNoRows) {
		return "", fmt.Errorf("provider: %w", err)
	}
	return provider, nil
}

// Start is a conversation an agent begins with an approved template: with
// a client who never wrote, or whose 24-hour window has closed.
type Start struct {
	IntegrationID int64
	// ClientID, when the agent starts from a client's page, is that
	// client; their WhatsApp field is set to Number if empty.
	ClientID int64
	// Number is the client's WhatsApp number in any format.
	Number         string
	Template       TemplateUse
	IdempotencyKey string
}

// StartConversation sends an approved template to a WhatsApp number
// through an integration: it finds or creates the client, joins their
// live chat on that integration or opens one assigned to the agent, and
// queues the template like a reply. It returns the chat's id.
func (s *Service) StartConversation(ctx context.Context, tid uuid.UUID, agentID int64, st Start) (int64, error) {
	errs := problem.Fields{}
	number, err := phone.Normalize(st.Number, "")
	if err != nil {
		errs.Add("number", "Enter the client's WhatsApp number with its country code, e.g. +44 7700 900123.")
	}
	sent, err := st.Template.check(s.publicMedia())
	if p, ok := problem.As(err); ok {
		for k, v := range p.Fields {
			errs.Add(k, v)
		}
	}
	if err := errs.Err(); err != nil {
		return 0, err
	}
	var (
		fileKey  string
		fileInfo media.Info
	)
	if st.Template.File != nil {
		provider, err := s.providerOf(ctx, tid, `SELECT provider FROM integrations WHERE id = $1`, st.IntegrationID)
		if err != nil {
			return 0, err
		}
		if fileKey, fileInfo, err = s.putTemplateFile(ctx, tid, provider, &st.Template); err != nil {
			return 0, err
		}
	}
	var caseID int64
	err = s.db.InTenant(ctx, tid, func(tx pgx.Tx) error {
		ig, err := integration.GetTx(ctx, tx, st.IntegrationID)
		if err != nil {
			return problem.Field("integration", "Choose a WhatsApp integration.")
		}
		if !ig.Enabled {
			return problem.Field("integration", "This integration is disabled; enable it in Settings → Integrations.")
		}
		if st.IdempotencyKey != "" {
			err := tx.QueryRow(ctx, `SELECT case_id FROM messages WHERE idempotency_key = $1`, st.IdempotencyKey).Scan(&caseID)
			if err == nil {
				return nil // already started: the same form again
			}
			if !errors.Is(err, pgx.ErrNoRows) {
				return err
			}
		}
		now := s.clock.Now()
		clientID, err := startClient(ctx, tx, tid, st.ClientID, number)
		if err != nil {
			return err
		}
		var opened bool
		if caseID, opened, err = s.liveChat(ctx, tx, ig, clientID, number, now); err != nil {
			return err
		}
		if opened {
			if _, err := tx.Exec(ctx, `UPDATE cases SET assignee_id = $2 WHERE id = $1`, caseID, agentID); err != nil {
				return fmt.Errorf("assign started chat: %w", err)
			}
			if err := numberChat(ctx, tx, tid, caseID); err != nil {
				return err
			}
		}
		c, err := caseTx(ctx, tx, caseID, true)
		if err != nil {
			return err
		}
		_, err = s.storeOutgoing(ctx, tx, tid, agentID, c, outgoing{kind: "template", body: sent.Text(), template: &sent, file: st.Template.File, fileKey: fileKey, fileInfo: fileInfo, key: st.IdempotencyKey})
		return err
	})
	if err != nil {
		return 0, err
	}
	return caseID, nil
}

// startClient is the client a started conversation goes to: the given
// one (whose WhatsApp number must be number, or empty and then set), or
// the one with this WhatsApp number, created if there is none.
func startClient(ctx context.Context, tx pgx.Tx, tid uuid.UUID, clientID int64, number string) (int64, error) {
	if clientID == 0 {
		return client.ForWhatsApp(ctx, tx, tid, client.WhatsAppIdentity{Number: number})
	}
	return clientID, client.GiveWhatsApp(ctx, tx, clientID, number)
}

// outgoing is a message about to be stored and queued.
type outgoing struct {
	kind     string
	body     string
	template *SentTemplate
	file     *Upload
	fileKey  string
	fileInfo media.Info // the stored file's size and checksum
	key      string     // idempotency key
	status   string     // a macro's status for the chat, or ""
	buttons  []string
}

// storeOutgoing stores an agent's message as queued with its send job and
// notifies browsers; c is the chat, locked by the caller.
func (s *Service) storeOutgoing(ctx context.Context, tx pgx.Tx, tid uuid.UUID, agentID int64, c Case, o outgoing) (int64, error) {
	now := s.clock.Now()
	meta := map[string]any{}
	if o.template != nil {
		meta["template"] = o.template
	}
	if len(o.buttons) > 0 {
		meta["buttons"] = o.buttons
	}
	var msgID int64
	err := tx.QueryRow(ctx, `INSERT INTO messages (tenant_id, case_id, integration_id, direction, kind, agent_id, body, status, idempotency_key, meta, created_at, updated_at)
		VALUES ($1, $2, $3, 'out', $4, nullif($5, 0), $6, 'queued', nullif($7, ''), $8, $9, $9) RETURNING id`,
		tid, c.ID, c.IntegrationID, o.kind, agentID, o.body, o.key, meta, now).Scan(&msgID)
	if err != nil {
		return 0, fmt.Errorf("insert message: %w", err)
	}
	if o.file != nil {
		token, err := newPublicToken()
		if err != nil {
			return 0, err
		}
		if _, err := tx.Exec(ctx, `INSERT INTO attachments (tenant_id, message_id, filename, content_type, size, state, storage_key, public_token, sha256)
			VALUES ($1, $2, $3, $4, $5, 'stored', $6, $7, $8)`,
			tid, msgID, cleanFilename(o.file.Filename), contentTypeOf(o.file), o.fileInfo.Size, o.fileKey, token, o.fileInfo.SHA256); err != nil {
			return 0, fmt.Errorf("insert attachment: %w", err)
		}
	}
	if _, err := tx.Exec(ctx, `UPDATE cases SET last_activity_at = $2, preview = $3, unread = 0,
			assignee_id = coalesce(assignee_id, nullif($4, 0)), status = coalesce(nullif($5, ''), status) WHERE id = $1`,
		c.ID, now, previewOf(o.kind, o.body, MessageMeta{}), agentID, o.status); err != nil {
		return 0, fmt.Errorf("update chat: %w", err)
	}
	if o.status != "" && o.status != c.Status {
		if err := addEvent(ctx, tx, tid, c.ID, "Status set to "+o.status+" by a macro", now); err != nil {
			return 0, err
		}
	}
	if _, err := s.queue.InsertTx(ctx, tx, SendArgs{TenantID: tid, MessageID: msgID}, nil); err != nil {
		return 0, fmt.Errorf("queue send: %w", err)
	}
	if err := s.events.Fire(ctx, tx, tid, ruleevent.AgentMessage, c.ID, msgID); err != nil {
		return 0, err
	}
	if agentID != 0 { // an agent who answers has read the chat
		if err := markReadTx(ctx, tx, tid, agentID, c.ID); err != nil {
			return 0, err
		}
	}
	return msgID, realtime.Notify(ctx, tx, realtime.Event{TenantID: tid, Kind: "message", CaseID: c.ID})
}
