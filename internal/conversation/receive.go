package conversation

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"

	"parley/internal/channel"
	"parley/internal/integration"
	"parley/internal/realtime"
)

// Received says what Receive did with a message.
type Received struct {
	CaseID    int64
	MessageID int64
	NewChat   bool
	Duplicate bool // the provider delivered it before: nothing stored
}

// Receive stores a client's message in one transaction: it finds or creates
// the client by WhatsApp number, joins the client's live chat on this
// integration or opens one in the integration's default group, stores the
// message (once per provider message id), queues the download of its files
// and notifies browsers.
func (s *Service) Receive(ctx context.Context, ig integration.Integration, in channel.Inbound) (Received, error) {
	return s.receive(ctx, ig, in, false)
}

func (s *Service) receive(ctx context.Context, ig integration.Integration, in channel.Inbound, echo bool) (Received, error) {
	if batchable(in, echo) {
		req := &inboundReq{ig: ig, in: in}
		if s.batch.submit(req); !req.single {
			return req.res, nil
		}
	}
	var r Received
	err := s.db.InTenant(ctx, ig.TenantID, func(tx pgx.Tx) error {
		var err error
		r, err = s.receiveTx(ctx, tx, ig, in, echo)
		return err
	})
	if errors.Is(err, errDuplicate) {
		return Received{Duplicate: true}, nil
	}
	if err != nil {
		return r, fmt.Errorf("receive %s on integration %d: %w", in.ProviderMessageID, ig.ID, err)
	}
	return r, nil
}

// receiveTx stores a client's message, or with echo the business's own
// message that the provider reports (1msg echoes what was typed in the
// WhatsApp app on the business phone): the agent's side of the chat, sent,
// without opening the 24-hour window or counting as unread.
func (s *Service) receiveTx(ctx context.Context, tx pgx.Tx, ig integration.Integration, in channel.Inbound, echo bool) (Received, error) {
	var r Received
	// One round trip reads what decides the way: whether this is a
	// redelivery (recognised before anything else, so it cannot open a
	// chat; the unique index below settles concurrent deliveries), the
	// client with this WhatsApp number and their live chat here.
	var (
		seen             bool
		clientID, caseID *int64
		triggers         []string // of the tenant's enabled rules
	)
	err := tx.QueryRow(ctx, `SELECT
			EXISTS (SELECT FROM messages WHERE integration_id = $1 AND provider_message_id = $2),
			cl.id,
			(SELECT c.id FROM cases c WHERE c.client_id = cl.id AND c.integration_id = $1 AND c.state = 'live'),
			(SELECT coalesce(array_agg(DISTINCT r.trigger), '{}') FROM rules r WHERE r.enabled)
		FROM (SELECT) AS one LEFT JOIN clients cl ON cl.whatsapp = $3`, ig.ID, in.ProviderMessageID, in.From).Scan(&seen, &clientID, &caseID, &triggers)
	if err != nil {
		return r, err
	}
	if seen {
		r.Duplicate = true
		return r, nil
	}
	now := s.clock.Now()
	if clientID == nil {
		id, err := s.clientForWhatsApp(ctx, tx, ig.TenantID, in.From, in.ProfileName)
		if err != nil {
			return r, err
		}
		clientID = &id
	}
	if caseID != nil {
		r.CaseID = *caseID
	} else if r.CaseID, r.NewChat, err = s.liveChat(ctx, tx, ig, *clientID, now); err != nil {
		return r, err
	}

	kind, body, meta := inboundContent(in, echo)
	// The message, the chat's activity and the browsers' notification in
	// one statement; a concurrent delivery of the same message inserts
	// nothing, and then neither of the others happens.
	note, err := json.Marshal(realtime.Event{TenantID: ig.TenantID, Kind: "message", CaseID: r.CaseID, GroupID: ig.DefaultGroupID})
	if err != nil {
		return r, err
	}
	err = tx.QueryRow(ctx, `WITH m AS (
			INSERT INTO messages (tenant_id, case_id, integration_id, direction, kind, body, status, provider_message_id, meta, created_at, updated_at)
			VALUES ($1, $2, $3, CASE WHEN $12 THEN 'out' ELSE 'in' END, $4, $5, CASE WHEN $12 THEN 'sent' ELSE 'received' END, $6, $7, $8, $8)
			ON CONFLICT (integration_id, provider_message_id) WHERE provider_message_id IS NOT NULL DO NOTHING
			RETURNING id),
		u AS (
			UPDATE cases SET last_activity_at = $8, preview = $9,
				last_client_message_at = CASE WHEN $12 THEN last_client_message_at ELSE $8 END,
				unread = unread + CASE WHEN $12 THEN 0 ELSE 1 END
			WHERE id = $2 AND EXISTS (SELECT FROM m))
		SELECT m.id, pg_notify($10, $11) FROM m`,
		ig.TenantID, r.CaseID, ig.ID, kind, body, in.ProviderMessageID, meta, now, previewOf(kind, body), realtime.Channel, string(note), echo).
		Scan(&r.MessageID, nil)
	if errors.Is(err, pgx.ErrNoRows) {
		// Delivered twice at once: the other delivery stored it. Undo this
		// transaction's chat, if it opened one.
		r.Duplicate = true
		return r, errDuplicate
	}
	if err != nil {
		return r, fmt.Errorf("insert message: %w", err)
	}
	// The rules this message fires: their events are recorded with it.
	if !echo {
		for _, t := range triggers {
			if (t == RuleClientMessage && s.rulesMayFire(ctx, ig.TenantID, body)) || (t == RuleChatStarted && r.NewChat) {
				if err := s.fireRules(ctx, tx, ig.TenantID, t, r.CaseID, r.MessageID); err != nil {
					return r, err
				}
			}
		}
	}
	for _, m := range in.Media {
		var attID int64
		if err := tx.QueryRow(ctx, `INSERT INTO attachments (tenant_id, message_id, filename, content_type, state, source_url)
			VALUES ($1, $2, $3, $4, 'pending', $5) RETURNING id`,
			ig.TenantID, r.MessageID, filenameFor(m.ContentType), orDefault(m.ContentType, "application/octet-stream"), m.URL).Scan(&attID); err != nil {
			return r, fmt.Errorf("insert attachment: %w", err)
		}
		if _, err := s.queue.InsertTx(ctx, tx, FetchMediaArgs{TenantID: ig.TenantID, AttachmentID: attID}, nil); err != nil {
			return r, fmt.Errorf("queue media download: %w", err)
		}
	}
	if r.NewChat {
		return r, numberChat(ctx, tx, ig.TenantID, r.CaseID)
	}
	return r, nil
}

// inboundContent is what a message stores: its kind, its text and the
// details that have no column.
func inboundContent(in channel.Inbound, echo bool) (kind, body string, meta map[string]any) {
	kind, body = "text", in.Body
	switch {
	case len(in.Media) > 0:
		kind = "file"
	case in.Location != nil:
		kind = "location"
		parts := []string{in.Location.Label, in.Location.Address, in.Location.Latitude + "," + in.Location.Longitude}
		body = strings.Join(slices.DeleteFunc(parts, func(p string) bool { return strings.TrimSpace(p) == "" }), " ")
	}
	meta = map[string]any{}
	if in.ButtonPayload != "" {
		meta["button_payload"] = in.ButtonPayload
	}
	if in.Location != nil {
		meta["location"] = in.Location
	}
	if echo {
		meta["echo"] = true
	}
	return kind, body, meta
}

// errDuplicate rolls back a transaction that lost a race to store the same
// provider message; Receive reports it as a duplicate, not an error.
var errDuplicate = errors.New("duplicate delivery")

// clientForWhatsApp finds the client with this WhatsApp number, then one
// with it as their phone number, or creates one named after the WhatsApp
// profile.
func (s *Service) clientForWhatsApp(ctx context.Context, tx pgx.Tx, tid uuid.UUID, number, profileName string) (int64, error) {
	name := profileName
	if name == "" {
		name = number
	}
	var id int64
	// Known clients are only read: no write, no lock on their row.
	const find = `SELECT id FROM clients WHERE whatsapp = $1`
	err := tx.QueryRow(ctx, find, number).Scan(&id)
	if errors.Is(err, pgx.ErrNoRows) {
		// A client known by this number as their phone (from the
		// telephony channel, or typed in by an agent) gets the WhatsApp
		// field, and the chat joins their history.
		err = tx.QueryRow(ctx, `UPDATE clients SET whatsapp = $1, updated_at = now()
			WHERE id = (SELECT id FROM clients WHERE phone = $1 AND whatsapp IS NULL AND merged_into IS NULL ORDER BY id LIMIT 1)
			RETURNING id`, number).Scan(&id)
	}
	if errors.Is(err, pgx.ErrNoRows) {
		// ON CONFLICT makes two first messages of a new client create
		// one client; the loser reads the winner's.
		err = tx.QueryRow(ctx, `INSERT INTO clients (tenant_id, name, whatsapp, created_channel) VALUES ($1, $2, $3, 'whatsapp')
			ON CONFLICT (tenant_id, whatsapp) WHERE whatsapp IS NOT NULL DO NOTHING RETURNING id`, tid, truncate(name, 200), number).Scan(&id)
		if errors.Is(err, pgx.ErrNoRows) {
			err = tx.QueryRow(ctx, find, number).Scan(&id)
		}
	}
	if err != nil {
		return 0, fmt.Errorf("find or create client %s: %w", number, err)
	}
	return id, nil
}

// liveChat returns the client's live chat on the integration, opening one
// (linked to the client's previous case there) when there is none.
func (s *Service) liveChat(ctx context.Context, tx pgx.Tx, ig integration.Integration, clientID int64, now time.Time) (int64, bool, error) {
	var id int64
	err := tx.QueryRow(ctx, `SELECT id FROM cases WHERE client_id = $1 AND integration_id = $2 AND state = 'live'`, clientID, ig.ID).Scan(&id)
	if err == nil {
		return id, false, nil
	}
	if !errors.Is(err, pgx.ErrNoRows) {
		return 0, false, err
	}
	// The chat's number comes from numberChat, just before the commit;
	// until then it holds a placeholder no other chat has.
	err = tx.QueryRow(ctx, `INSERT INTO cases (tenant_id, number, client_id, integration_id, group_id, state, status, previous_case_id, created_at, last_activity_at)
		VALUES ($1, -txid_current(), $2, $3, $4, 'live', 'open',
			(SELECT id FROM cases WHERE client_id = $2 AND integration_id = $3 AND state = 'ended' ORDER BY ended_at DESC, id DESC LIMIT 1),
			$5, $5)
		ON CONFLICT (tenant_id, client_id, integration_id) WHERE state = 'live' DO NOTHING
		RETURNING id`, ig.TenantID, clientID, ig.ID, ig.DefaultGroupID, now).Scan(&id)
	if errors.Is(err, pgx.ErrNoRows) {
		// Another message of this client opened the chat a moment ago.
		err = tx.QueryRow(ctx, `SELECT id FROM cases WHERE client_id = $1 AND integration_id = $2 AND state = 'live'`, clientID, ig.ID).Scan(&id)
		return id, false, err
	}
	if err != nil {
		return 0, false, fmt.Errorf("open chat: %w", err)
	}
	if err := addEvent(ctx, tx, ig.TenantID, id, "Chat started on WhatsApp ("+ig.Sender+")", now); err != nil {
		return 0, false, err
	}
	return id, true, nil
}

// numberChat gives a chat that tx opened its number, the tenant's next. It
// locks the tenant's counter until the commit, so it comes last: chats
// opened at the same time wait for each other only that long.
func numberChat(ctx context.Context, tx pgx.Tx, tid uuid.UUID, caseID int64) error {
	_, err := tx.Exec(ctx, `WITH n AS (UPDATE tenants SET case_seq = case_seq + 1 WHERE id = $1 RETURNING case_seq)
		UPDATE cases SET number = n.case_seq FROM n WHERE cases.tenant_id = $1 AND cases.id = $2`, tid, caseID)
	if err != nil {
		return fmt.Errorf("number chat %d: %w", caseID, err)
	}
	return nil
}

// addEvent records a system event in the conversation.
func addEvent(ctx context.Context, tx pgx.Tx, tid uuid.UUID, caseID int64, text string, now time.Time) error {
	_, err := tx.Exec(ctx, `INSERT INTO messages (tenant_id, case_id, direction, kind, body, status, created_at, updated_at)
		VALUES ($1, $2, 'internal', 'event', $3, 'none', $4, $4)`, tid, caseID, text, now)
	if err != nil {
		return fmt.Errorf("record event: %w", err)
	}
	return nil
}

// FetchMediaArgs is the job that downloads an inbound file.
type FetchMediaArgs struct {
	TenantID     uuid.UUID `json:"tenant_id"`
	AttachmentID int64     `json:"attachment_id"`
}

// Kind names the job.
func (FetchMediaArgs) Kind() string { return "fetch_media" }

// InsertOpts: downloads are retried a few times; provider links expire.
func (FetchMediaArgs) InsertOpts() river.InsertOpts { return river.InsertOpts{MaxAttempts: 8} }

func previewOf(kind, body string) string {
	switch {
	case body != "":
		return truncate(strings.Join(strings.Fields(body), " "), 140)
	case kind == "file":
		return "📎 File"
	}
	return ""
}

func truncate(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return string(r[:n-1]) + "…"
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

func filenameFor(contentType string) string {
	ext := map[string]string{
		"image/jpeg": "jpg", "image/png": "png", "image/gif": "gif", "image/webp": "webp",
		"application/pdf": "pdf", "audio/ogg": "ogg", "audio/mpeg": "mp3", "video/mp4": "mp4", "text/plain": "txt",
	}[strings.ToLower(strings.TrimSpace(strings.Split(contentType, ";")[0]))]
	if ext == "" {
		ext = "bin"
	}
	return "file." + ext
}
