// Package conversation is the heart of Parley: chats and cases (one row,
// live or ended), their messages, internal notes and system events, the
// 24-hour WhatsApp window, and receiving and sending through any channel
// integration. Provider adapters hand it provider-neutral events (package
// channel); the web layer and the job workers call its services.
package conversation

import (
	"context"
	"fmt"
	"log/slog"
	"net/url"
	"slices"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"

	"parley/internal/channel"
	"parley/internal/clock"
	"parley/internal/integration"
	"parley/internal/media"
	"parley/internal/postgres"
	"parley/internal/ruleevent"
)

// Window is how long after a client's last message free-form replies are
// allowed on WhatsApp.
const Window = 24 * time.Hour

// Case states.
const (
	StateLive  = "live"
	StateEnded = "ended"
)

// Case is a chat while live and a case once ended.
type Case struct {
	TenantID       uuid.UUID
	ID             int64
	Number         int64
	ClientID       int64
	ClientName     string
	ClientWhatsApp *string
	// ClientWhatsAppUserID is the client's business-scoped user id: what
	// replies go to when WhatsApp hides the client's number.
	ClientWhatsAppUserID   *string
	ClientWhatsAppUsername *string
	ClientPhone            *string
	ClientEmail            *string
	IntegrationID          *int64
	Channel                string
	GroupID                int64
	GroupName              string
	AssigneeID             *int64
	AssigneeName           *string
	State                  string
	Status                 string
	Preview                string
	Unread                 int
	PreviousCaseID         *int64
	CreatedAt              time.Time
	LastActivityAt         time.Time
	// LastClientMessageAt is the client's last message in this chat;
	// WindowFrom their last message to its business number (integration)
	// in any chat or case: the 24-hour window runs from it.
	LastClientMessageAt *time.Time
	WindowFrom          *time.Time
	EndedAt             *time.Time
	EndedBy             *string
	Tags                []string
	// Referral is the click-to-WhatsApp ad the chat came from.
	Referral *channel.Referral
	// IntegrationSender is the business number the chat is on.
	IntegrationSender *string
	// LastDirection and LastAgent say who wrote the chat's last message
	// (events and notes aside): "in" the client, "out" an agent (nil:
	// sent outside Parley) or an automation.
	LastDirection *string
	LastAgentID   *int64
	LastAgentName *string
}

// ClientWaits says the client wrote last: they wait for an answer.
func (c Case) ClientWaits() bool { return c.LastDirection != nil && *c.LastDirection == "in" }

// ClientAddress is where WhatsApp messages to the client go: their number,
// else their business-scoped user id.
func (c Case) ClientAddress() string {
	if c.ClientWhatsApp != nil {
		return *c.ClientWhatsApp
	}
	return deref(c.ClientWhatsAppUserID)
}

// WindowOpen says whether free-form messages may be sent at now: the
// client wrote to this business number in the last 24 hours, in this chat
// or another. Every check reads it (composer, countdown, the server's
// refusal, the send job, rules, the chat list); WindowFrom comes from the
// client_window SQL function.
func (c Case) WindowOpen(now time.Time) bool {
	return c.WindowFrom != nil && now.Before(c.WindowFrom.Add(Window))
}

// WindowEnds is when the 24-hour window closes (zero if the client never
// wrote to this business number).
func (c Case) WindowEnds() time.Time {
	if c.WindowFrom == nil {
		return time.Time{}
	}
	return c.WindowFrom.Add(Window)
}

// AwaitingClient says the business started this conversation (with a
// template) and the client has not answered in it yet: outside the window
// only templates can be sent until they do, and that is not a window that
// closed.
func (c Case) AwaitingClient() bool { return c.LastClientMessageAt == nil }

// WindowClosedText is what the composer says when free text cannot be
// sent: waiting for the client's first reply, or the window closed.
func (c Case) WindowClosedText() string {
	if c.AwaitingClient() {
		return AwaitingClientMessage
	}
	return channel.WindowClosedMessage
}

// AwaitingClientMessage is what agents read in a conversation the business
// started, before the client answers outside any window.
const AwaitingClientMessage = "Waiting for the client's reply — only templates until then"

// Message is one entry of a conversation.
type Message struct {
	ID                int64
	CaseID            int64
	IntegrationID     *int64
	Direction         string // in, out, internal
	Kind              string // text, file, location, template, note, event
	AgentID           *int64
	AgentName         *string
	Body              string
	Status            string
	ErrorCode         *string
	ErrorMessage      *string
	ProviderMessageID *string
	CreatedAt         time.Time
	// Template is set on a message sent as an approved template;
	// ReplyButtons on a text sent with reply buttons.
	Template     *SentTemplate
	ReplyButtons []string
	// Meta is what an inbound message keeps besides its text; QuotedBody
	// and QuotedDirection are the quoted message's, when Parley has it.
	Meta            MessageMeta
	QuotedBody      *string
	QuotedDirection *string
	Attachments     []Attachment `db:"-"`
}

// MapURL is a shared location's link to a map (OpenStreetMap), or "".
func (m Message) MapURL() string {
	l := m.Meta.Location
	if l == nil || l.Latitude == "" || l.Longitude == "" {
		return ""
	}
	lat, lon := url.QueryEscape(l.Latitude), url.QueryEscape(l.Longitude)
	return "https://www.openstreetmap.org/?mlat=" + lat + "&mlon=" + lon + "#map=17/" + lat + "/" + lon
}

// Unsent says an outgoing message needs the agent: it failed, or Parley
// could not confirm it went out. Either may be deleted and sent again.
func (m Message) Unsent() bool { return m.Status == "failed" || m.Status == "unconfirmed" }

// Buttons are the buttons the client received with the message: a
// quick-reply template's or the reply buttons under a text.
func (m Message) Buttons() []string {
	if m.Template != nil {
		return m.Template.Buttons
	}
	return m.ReplyButtons
}

// Attachment is a file of a message.
type Attachment struct {
	ID          int64
	MessageID   int64
	Filename    string
	ContentType string
	Size        *int64
	State       string // pending, stored, too_large, failed
	Error       *string
	StorageKey  *string
	PublicToken *string
}

// IsImage says whether the attachment can be shown inline.
func (a Attachment) IsImage() bool {
	switch a.ContentType {
	case "image/jpeg", "image/png", "image/gif", "image/webp":
		return a.State == "stored"
	}
	return false
}

// Service is the conversation domain.
type Service struct {
	db           *postgres.DB
	queue        *river.Client[pgx.Tx]
	integrations *integration.Service
	media        *media.Store
	clock        clock.Clock
	log          *slog.Logger
	baseURL      string
	batch        *batcher[*inbound]      // inbound messages stored together under load
	statuses     *batcher[*statusUpdate] // delivery statuses applied together under load
	events       *ruleevent.Recorder
	rules        ruleevent.Filter // nil: any rule may fire for any message
	// linkKey signs public media links, which work for linkTTL.
	linkKey []byte
	linkTTL time.Duration
}

// SignMediaLinks sets the key that signs the public links of sent files
// and how long they work (0: config.DefaultMediaLinkTTL, 7 days).
func (s *Service) SignMediaLinks(key []byte, ttl time.Duration) {
	if ttl <= 0 {
		ttl = 7 * 24 * time.Hour
	}
	s.linkKey, s.linkTTL = key, ttl
}

// rulesMayFire says whether a client's message with this text needs its
// rule event.
func (s *Service) rulesMayFire(ctx context.Context, tid uuid.UUID, text string) bool {
	return s.rules == nil || s.rules.MayFire(ctx, tid, text)
}

// NewService returns the conversation service. queue may be an insert-only
// River client: jobs are inserted in the same transaction as the change
// that needs them. rules tells which client messages no rule may fire for
// (nil: any may).
func NewService(db *postgres.DB, queue *river.Client[pgx.Tx], integrations *integration.Service, store *media.Store, rules ruleevent.Filter, c clock.Clock, log *slog.Logger, baseURL string) *Service {
	s := &Service{db: db, queue: queue, integrations: integrations, media: store, clock: c, log: log, baseURL: baseURL,
		events: ruleevent.NewRecorder(queue, log), rules: rules}
	s.batch = &batcher[*inbound]{what: "inbound messages", log: log, store: s.store,
		tenant: func(m *inbound) uuid.UUID { return m.ig.TenantID },
		fail:   func(m *inbound, err error) { m.res, m.err = Received{}, err }}
	s.statuses = &batcher[*statusUpdate]{what: "delivery statuses", log: log, store: s.applyStatuses,
		tenant: func(u *statusUpdate) uuid.UUID { return u.ig.TenantID },
		fail:   func(u *statusUpdate, err error) { u.found, u.err = false, err }}
	return s
}

const selectCase = `SELECT c.tenant_id, c.id, c.number, c.client_id, cl.name AS client_name, coalesce(c.client_whatsapp, cl.whatsapp) AS client_whatsapp,
	cl.whatsapp_user_id AS client_whatsapp_user_id, cl.whatsapp_username AS client_whatsapp_username,
	cl.phone AS client_phone, cl.email AS client_email,
	c.integration_id, c.channel, c.group_id, g.name AS group_name, c.assignee_id, a.name AS assignee_name,
	c.state, c.status, c.preview, c.unread, c.previous_case_id, c.created_at, c.last_activity_at,
	c.last_client_message_at, w.last_client_message_at AS window_from, c.ended_at, c.ended_by, c.tags, c.referral,
	ig.sender AS integration_sender, lm.direction AS last_direction, lm.agent_id AS last_agent_id, la.name AS last_agent_name
	FROM cases c
	LEFT JOIN integrations ig ON ig.tenant_id = c.tenant_id AND ig.id = c.integration_id
	LEFT JOIN LATERAL (SELECT m.direction, m.agent_id FROM messages m
		WHERE m.tenant_id = c.tenant_id AND m.case_id = c.id AND m.kind NOT IN ('event', 'note') ORDER BY m.id DESC LIMIT 1) lm ON true
	LEFT JOIN agents la ON la.tenant_id = c.tenant_id AND la.id = lm.agent_id
	LEFT JOIN LATERAL client_window(c.tenant_id, c.client_id, c.integration_id) w ON true
	JOIN clients cl ON cl.tenant_id = c.tenant_id AND cl.id = c.client_id
	JOIN groups g ON g.tenant_id = c.tenant_id AND g.id = c.group_id
	LEFT JOIN agents a ON a.tenant_id = c.tenant_id AND a.id = c.assignee_id`

// caseTx loads a case of the transaction's tenant; lock adds FOR UPDATE OF c.
func caseTx(ctx context.Context, tx pgx.Tx, id int64, lock bool) (Case, error) {
	q := selectCase + ` WHERE c.id = $1`
	if lock {
		q += ` FOR UPDATE OF c`
	}
	rows, _ := tx.Query(ctx, q, id)
	c, err := pgx.CollectExactlyOneRow(rows, pgx.RowToStructByName[Case])
	if err != nil {
		return c, notFound(err, "No such chat or case.")
	}
	return c, nil
}

// Case returns one chat or case.
func (s *Service) Case(ctx context.Context, tid uuid.UUID, id int64) (Case, error) {
	var c Case
	err := s.db.InTenant(ctx, tid, func(tx pgx.Tx) error {
		var err error
		c, err = caseTx(ctx, tx, id, false)
		return err
	})
	return c, err
}

// CasesByID returns the chats and cases with these ids, by id; those not
// found are left out.
func (s *Service) CasesByID(ctx context.Context, tid uuid.UUID, ids []int64) (map[int64]Case, error) {
	var cs []Case
	err := s.db.InTenant(ctx, tid, func(tx pgx.Tx) error {
		// One index lookup per id, whatever plan is cached.
		rows, _ := tx.Query(ctx, `SELECT x.* FROM unnest($1::bigint[]) AS i(id), LATERAL (`+selectCase+` WHERE c.id = i.id) x`, ids)
		var err error
		cs, err = pgx.CollectRows(rows, pgx.RowToStructByName[Case])
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("load cases: %w", err)
	}
	out := make(map[int64]Case, len(cs))
	for _, c := range cs {
		out[c.ID] = c
	}
	return out, nil
}

// Messages returns a conversation's entries, oldest first, with attachments.
func (s *Service) Messages(ctx context.Context, tid uuid.UUID, caseID int64) ([]Message, error) {
	return s.messages(ctx, tid, caseID, "", nil, false, 0)
}

// MessagePage is the conversation's last limit entries before the entry
// with id before (0: its end), oldest first, and whether older ones exist.
func (s *Service) MessagePage(ctx context.Context, tid uuid.UUID, caseID, before int64, limit int) ([]Message, bool, error) {
	cond, args := "", []any(nil)
	if before != 0 {
		cond = ` AND (m.created_at, m.id) < (SELECT b.created_at, b.id FROM messages b WHERE b.id = $2 AND b.case_id = $1)`
		args = []any{before}
	}
	ms, err := s.messages(ctx, tid, caseID, cond, args, true, limit+1)
	if err != nil {
		return nil, false, err
	}
	more := len(ms) > limit
	if more {
		ms = ms[1:]
	}
	return ms, more, nil
}

// MessagesAfter is the conversation's entries with ids over after (new
// ones, or the last few again for their delivery status), oldest first, at
// most 200.
func (s *Service) MessagesAfter(ctx context.Context, tid uuid.UUID, caseID, after int64) ([]Message, error) {
	return s.messages(ctx, tid, caseID, ` AND m.id > $2`, []any{after}, false, 200)
}

// messages reads entries of the case matching cond (on m, with args from
// $2), in conversation order; last takes the last limit of them.
func (s *Service) messages(ctx context.Context, tid uuid.UUID, caseID int64, cond string, args []any, last bool, limit int) ([]Message, error) {
	var ms []Message
	err := s.db.InTenant(ctx, tid, func(tx pgx.Tx) error {
		order := ` ORDER BY m.created_at, m.id`
		if last {
			order = ` ORDER BY m.created_at DESC, m.id DESC`
		}
		if limit > 0 {
			order += fmt.Sprintf(" LIMIT %d", limit)
		}
		// Messages are in the order they were written (a client's message
		// keeps its own time; see insertMessagesSQL); a quoted message is
		// found by its provider id on the same integration.
		rows, _ := tx.Query(ctx, `SELECT m.id, m.case_id, m.integration_id, m.direction, m.kind, m.agent_id, a.name AS agent_name,
				m.body, m.status, m.error_code, m.error_message, m.provider_message_id, m.created_at, m.meta->'template' AS template, m.meta->'buttons' AS reply_buttons,
				m.meta, q.body AS quoted_body, q.direction AS quoted_direction
			FROM messages m LEFT JOIN agents a ON a.tenant_id = m.tenant_id AND a.id = m.agent_id
			LEFT JOIN LATERAL (SELECT q.body, q.direction FROM messages q
				WHERE m.meta ? 'quoted_id' AND q.integration_id = m.integration_id AND q.provider_message_id = m.meta->>'quoted_id') q ON true
			WHERE m.case_id = $1`+cond+order, append([]any{caseID}, args...)...)
		var err error
		if ms, err = pgx.CollectRows(rows, pgx.RowToStructByName[Message]); err != nil {
			return err
		}
		if last {
			slices.Reverse(ms)
		}
		if len(ms) == 0 {
			return nil
		}
		ids := make([]int64, len(ms))
		for i, m := range ms {
			ids[i] = m.ID
		}
		rows, _ = tx.Query(ctx, `SELECT t.id, t.message_id, t.filename, t.content_type, t.size, t.state, t.error, t.storage_key, t.public_token
			FROM attachments t WHERE t.message_id = ANY($1) ORDER BY t.id`, ids)
		atts, err := pgx.CollectRows(rows, pgx.RowToStructByName[Attachment])
		if err != nil {
			return err
		}
		byMsg := map[int64][]Attachment{}
		for _, a := range atts {
			byMsg[a.MessageID] = append(byMsg[a.MessageID], a)
		}
		for i := range ms {
			ms[i].Attachments = byMsg[ms[i].ID]
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("messages of case %d: %w", caseID, err)
	}
	return ms, nil
}
