package conversation

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"

	"parley/internal/channel"
	"parley/internal/client"
	"parley/internal/integration"
	"parley/internal/realtime"
	"parley/internal/ruleevent"
)

// Received says what Receive did with a message.
type Received struct {
	CaseID    int64
	MessageID int64
	NewChat   bool
	Duplicate bool // the provider delivered it before: nothing stored
}

// Receive stores a client's message: it finds or creates the client by
// WhatsApp number, joins the client's live chat on this integration or
// opens one in the integration's default group, stores the message (once
// per provider message id), queues the download of its files, records the
// rules' events and notifies browsers, all in one transaction.
//
// Messages that arrive while another batch is being stored are stored
// together (batch.go): a lone message is a batch of one.
func (s *Service) Receive(ctx context.Context, ig integration.Integration, in channel.Inbound) (Received, error) {
	return s.receive(ctx, ig, in, false)
}

// receive stores a client's message, or with echo the business's own
// message that the provider reports (1msg echoes what was typed in the
// WhatsApp app on the business phone): the agent's side of the chat, sent,
// without opening the 24-hour window or counting as unread.
func (s *Service) receive(ctx context.Context, ig integration.Integration, in channel.Inbound, echo bool) (Received, error) {
	r := &inbound{ig: ig, in: in, echo: echo}
	s.batch.submit(r)
	if r.err != nil {
		return Received{}, fmt.Errorf("receive %s on integration %d: %w", in.ProviderMessageID, ig.ID, r.err)
	}
	return r.res, nil
}

// inbound is one message to store, and what became of it.
type inbound struct {
	ig   integration.Integration
	in   channel.Inbound
	echo bool
	res  Received
	err  error
}

// store stores one tenant's messages in one transaction. A message whose
// client has no live chat on its integration gets one (and the client, if
// new) and is stored by the same statement as the others. A message the
// provider delivered before stores nothing.
func (s *Service) store(ctx context.Context, tid uuid.UUID, msgs []*inbound) error {
	msgs = dropRepeats(msgs)
	// The statement and the browsers' notification go with the
	// transaction's start, in one round trip: the notification names the
	// messages' senders, whose chats the statement finds (realtime.Sender).
	first := &pgx.Batch{}
	var chatless []*inbound
	if err := s.queueInsert(first, tid, msgs, &chatless); err != nil {
		return err
	}
	note := realtime.Event{TenantID: tid, Kind: "message"}
	for _, m := range msgs {
		// A client is named by their number and by their WhatsApp user id:
		// a chat is found by either (ChangedChats).
		for _, key := range []string{m.in.From, m.in.UserID} {
			if from := (realtime.Sender{IntegrationID: m.ig.ID, Number: key}); key != "" && !slices.Contains(note.Senders, from) {
				note.Senders = append(note.Senders, from)
			}
		}
	}
	if err := realtime.QueueNotify(first, note); err != nil {
		return err
	}
	err := s.db.InTenantFrom(ctx, tid, first, func(tx pgx.Tx) error {
		if len(chatless) > 0 {
			if err := s.storeInNewChats(ctx, tx, tid, msgs, chatless); err != nil {
				return err
			}
		}
		return s.afterStore(ctx, tx, tid, msgs)
	})
	if err != nil {
		return fmt.Errorf("store messages: %w", err)
	}
	return nil
}

// storeInNewChats opens chats for the messages that found none (chatless,
// some of msgs) and stores them there. The first message stored in a chat
// opened here started it. A chat opened for messages that a concurrent
// delivery stored meanwhile holds none: it goes again.
func (s *Service) storeInNewChats(ctx context.Context, tx pgx.Tx, tid uuid.UUID, msgs, chatless []*inbound) error {
	opened, err := s.openChats(ctx, tx, chatless)
	if err != nil {
		return err
	}
	b := &pgx.Batch{}
	var still []*inbound
	if err := s.queueInsert(b, tid, chatless, &still); err != nil {
		return err
	}
	if err := tx.SendBatch(ctx, b).Close(); err != nil {
		return err
	}
	if len(still) > 0 {
		return fmt.Errorf("message %s: no chat after opening one", still[0].in.ProviderMessageID)
	}
	for _, m := range msgs {
		if m.res.MessageID != 0 && opened[m.res.CaseID] {
			m.res.NewChat = true
			delete(opened, m.res.CaseID)
		}
	}
	if len(opened) > 0 {
		if _, err := tx.Exec(ctx, `DELETE FROM cases WHERE id = ANY($1)`, slices.Collect(maps.Keys(opened))); err != nil {
			return fmt.Errorf("remove empty chats: %w", err)
		}
	}
	return nil
}

// dropRepeats marks a message delivered twice within msgs a duplicate and
// leaves it out.
func dropRepeats(msgs []*inbound) []*inbound {
	type key struct {
		ig  int64
		sid string
	}
	seen := make(map[key]bool, len(msgs))
	return slices.DeleteFunc(slices.Clone(msgs), func(m *inbound) bool {
		k := key{m.ig.ID, m.in.ProviderMessageID}
		dup := seen[k]
		seen[k] = true
		if dup {
			m.res = Received{Duplicate: true}
		}
		return dup
	})
}

// queueInsert queues in b the statement that stores the messages whose
// client has a live chat on the integration and updates those chats
// (activity, unread count, preview, and for a client's message the 24-hour
// window). Once b has been sent, each message's result is set, and
// chatless holds those that need a chat opened: not stored, and not stored
// before either.
func (s *Service) queueInsert(b *pgx.Batch, tid uuid.UUID, msgs []*inbound, chatless *[]*inbound) error {
	n := len(msgs)
	now := s.clock.Now()
	igs, echoes, ats := make([]int64, n), make([]bool, n), make([]time.Time, n)
	senders, userIDs, waIDs, usernames := make([]string, n), make([]string, n), make([]string, n), make([]string, n)
	sids, kinds, bodies, metas, previews := make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n)
	for i, m := range msgs {
		kind, body, meta := inboundContent(m.in, m.echo)
		mb, err := json.Marshal(meta)
		if err != nil {
			return err
		}
		igs[i], senders[i], userIDs[i], sids[i], echoes[i] = m.ig.ID, m.in.From, m.in.UserID, m.in.ProviderMessageID, m.echo
		waIDs[i], usernames[i] = m.in.WaID, m.in.Username
		kinds[i], bodies[i], metas[i], previews[i], ats[i] = kind, body, string(mb), previewOf(kind, body, meta), sentAt(m.in.At, now)
	}
	b.Queue(insertMessagesSQL, tid, now, igs, senders, userIDs, sids, echoes, kinds, bodies, metas, previews, ats, waIDs, usernames).Query(func(rows pgx.Rows) error {
		var (
			ord           int
			caseID, msgID *int64
			seen          bool
		)
		_, err := pgx.ForEachRow(rows, []any{&ord, &caseID, &msgID, &seen}, func() error {
			m := msgs[ord-1]
			switch {
			case msgID != nil:
				m.res = Received{CaseID: *caseID, MessageID: *msgID}
			case seen || caseID != nil:
				m.res = Received{Duplicate: true}
			default:
				m.res = Received{}
				*chatless = append(*chatless, m)
			}
			return nil
		})
		return err
	})
	return nil
}

// sentAt is when a message was sent, as it orders the conversation and
// opens the 24-hour window: the provider's time of the message, never
// later than its arrival (a clock ahead must not hold the window open past
// its end), and its arrival when the provider gives none (Twilio).
func sentAt(at, arrived time.Time) time.Time {
	if at.IsZero() || at.After(arrived) {
		return arrived
	}
	return at
}

// insertMessagesSQL stores a batch of messages in their chats: the live
// chat of the sender's client on the message's integration, the client
// found by WhatsApp number, else by WhatsApp user id (BSUID). A message
// with no such chat is left out (its case_id is NULL); one stored before
// inserts nothing (the unique index settles concurrent deliveries too). It
// returns, for each message in order, its chat, its new id (NULL if not
// stored) and, for one without a chat, whether it was stored before.
//
// A client's message keeps its own time (created_at): the chat's 24-hour
// window runs from the latest time a client wrote, so a late delivery
// does not open it later than the client wrote. A client known by one of
// number and user id gets the other when a message carries both and no
// other client has it, and keeps WhatsApp's id (WaId) and username. The
// chat keeps the ad a message came from.
//
// survivorOfHolder follows with_holder's holder_id along merged_into to
// the profile that holds it now (client.survivorOf).
const survivorOfHolder = `WITH RECURSIVE chain (id, merged_into, hop) AS (
		SELECT h.id, h.merged_into, 0 FROM clients h WHERE h.id = w.holder_id
		UNION ALL
		SELECT c.id, c.merged_into, chain.hop + 1 FROM clients c JOIN chain ON c.id = chain.merged_into WHERE chain.hop < 100)
	SELECT id FROM chain ORDER BY hop DESC LIMIT 1`

// $1 is the tenant and $2 the time; the arrays after them hold one element
// per message, in the order of the batch CTE's columns.
const insertMessagesSQL = `
WITH batch AS (
	SELECT * FROM unnest($3::bigint[], $4::text[], $5::text[], $6::text[], $7::bool[], $8::text[], $9::text[], $10::text[], $11::text[], $12::timestamptz[], $13::text[], $14::text[])
		WITH ORDINALITY AS b(integration_id, sender, user_id, provider_message_id, echo, kind, body, meta, preview, at, wa_id, username, ord)
),
with_holder AS MATERIALIZED (
	SELECT b.*, coalesce((SELECT cl.id FROM clients cl WHERE cl.whatsapp = nullif(b.sender, '')),
			(SELECT cl.id FROM clients cl WHERE cl.whatsapp_user_id = nullif(b.user_id, ''))) AS holder_id
	FROM batch b
),
with_client AS MATERIALIZED (
	-- A number a merged-away profile keeps is its survivor's: the chat is
	-- the survivor's (the identity stays with the holder).
	SELECT w.*, (` + survivorOfHolder + `) AS client_id FROM with_holder w
),
in_chat AS (
	SELECT w.*, (SELECT c.id FROM cases c WHERE c.client_id = w.client_id AND c.integration_id = w.integration_id AND c.state = 'live') AS case_id
	FROM with_client w
),
stored AS (
	INSERT INTO messages (tenant_id, case_id, integration_id, direction, kind, body, status, provider_message_id, meta, created_at, updated_at)
	SELECT $1, case_id, integration_id, CASE WHEN echo THEN 'out' ELSE 'in' END, kind, body,
		CASE WHEN echo THEN 'sent' ELSE 'received' END, provider_message_id, meta::jsonb, at, $2
	FROM in_chat WHERE case_id IS NOT NULL ORDER BY ord
	ON CONFLICT (integration_id, provider_message_id) WHERE provider_message_id IS NOT NULL DO NOTHING
	RETURNING id, integration_id, provider_message_id
),
added AS (
	SELECT i.*, s.id FROM stored s JOIN in_chat i USING (integration_id, provider_message_id)
),
chat_activity AS (
	UPDATE cases c SET last_activity_at = $2, preview = a.preview, unread = c.unread + a.from_client,
		last_client_message_at = CASE WHEN a.client_at IS NULL THEN c.last_client_message_at
			ELSE greatest(c.last_client_message_at, a.client_at) END,
		referral = coalesce(a.referral, c.referral)
	FROM (SELECT case_id, count(*) FILTER (WHERE NOT echo) AS from_client, (array_agg(preview ORDER BY at DESC, ord DESC))[1] AS preview,
			max(at) FILTER (WHERE NOT echo) AS client_at,
			(array_agg(meta::jsonb->'referral' ORDER BY ord DESC) FILTER (WHERE NOT echo AND meta::jsonb ? 'referral'))[1] AS referral
		FROM added GROUP BY case_id) a
	WHERE c.tenant_id = $1 AND c.id = a.case_id
),
identity AS (
	UPDATE clients cl SET
		whatsapp = CASE WHEN cl.whatsapp IS NULL AND j.sender <> '' AND NOT EXISTS (SELECT FROM clients o WHERE o.whatsapp = j.sender)
			THEN j.sender ELSE cl.whatsapp END,
		whatsapp_user_id = CASE WHEN cl.whatsapp_user_id IS NULL AND j.user_id <> '' AND NOT EXISTS (SELECT FROM clients o WHERE o.whatsapp_user_id = j.user_id)
			THEN j.user_id ELSE cl.whatsapp_user_id END,
		whatsapp_wa_id = coalesce(nullif(j.wa_id, ''), cl.whatsapp_wa_id),
		whatsapp_username = coalesce(nullif(j.username, ''), cl.whatsapp_username),
		updated_at = $2
	FROM (SELECT DISTINCT ON (holder_id) holder_id, sender, user_id, wa_id, username FROM added
		WHERE NOT echo ORDER BY holder_id, ord DESC) j
	WHERE cl.tenant_id = $1 AND cl.id = j.holder_id AND (
		(cl.whatsapp IS NULL AND j.sender <> '' AND j.user_id <> '') OR (cl.whatsapp_user_id IS NULL AND j.user_id <> '' AND j.sender <> '')
		OR (j.wa_id <> '' AND cl.whatsapp_wa_id IS DISTINCT FROM j.wa_id) OR (j.username <> '' AND cl.whatsapp_username IS DISTINCT FROM j.username))
)
SELECT i.ord, i.case_id, n.id,
	i.case_id IS NULL AND EXISTS (SELECT FROM messages m WHERE m.integration_id = i.integration_id AND m.provider_message_id = i.provider_message_id)
FROM in_chat i LEFT JOIN added n ON n.ord = i.ord
ORDER BY i.ord`

// openChats gives each message's client (found or created by WhatsApp
// number) a live chat on the message's integration, and returns the chats
// it opened. Clients and chats are taken in one order, so that two
// transactions opening the same ones wait for each other instead of
// deadlocking.
func (s *Service) openChats(ctx context.Context, tx pgx.Tx, msgs []*inbound) (opened map[int64]bool, err error) {
	msgs = slices.SortedFunc(slices.Values(msgs), func(a, b *inbound) int {
		return cmp.Or(cmp.Compare(a.ig.ID, b.ig.ID), strings.Compare(a.in.Sender(), b.in.Sender()), strings.Compare(a.in.UserID, b.in.UserID))
	})
	opened = map[int64]bool{}
	now := s.clock.Now()
	for i, m := range msgs {
		if i > 0 && msgs[i-1].ig.ID == m.ig.ID && msgs[i-1].in.Sender() == m.in.Sender() && msgs[i-1].in.UserID == m.in.UserID {
			continue // opened for the message before
		}
		clientID, err := client.ForWhatsApp(ctx, tx, m.ig.TenantID, client.WhatsAppIdentity{
			Number: m.in.From, UserID: m.in.UserID, WaID: m.in.WaID, Username: m.in.Username, ProfileName: m.in.ProfileName,
		})
		if err != nil {
			return nil, err
		}
		// The chat starts when the client wrote: its "Chat started" comes
		// before the message in the conversation.
		id, isNew, err := s.liveChat(ctx, tx, m.ig, clientID, m.in.From, sentAt(m.in.At, now))
		if err != nil {
			return nil, err
		}
		if isNew {
			opened[id] = true
		}
	}
	return opened, nil
}

// afterStore does, in the transaction that stored them, what the stored
// messages call for: their files' downloads, the rules' events and new
// chats' numbers.
func (s *Service) afterStore(ctx context.Context, tx pgx.Tx, tid uuid.UUID, msgs []*inbound) error {
	var (
		newChats      []int64
		said, started []ruleevent.Event
	)
	for _, m := range msgs {
		if m.res.MessageID == 0 {
			continue
		}
		if err := s.queueDownloads(ctx, tx, tid, m); err != nil {
			return err
		}
		if m.res.NewChat {
			newChats = append(newChats, m.res.CaseID)
			if !m.echo {
				started = append(started, ruleevent.Event{CaseID: m.res.CaseID, MessageID: m.res.MessageID, Chain: ruleevent.NewChain()})
			}
		}
		if !m.echo && s.rulesMayFire(ctx, tid, m.in.Body) {
			said = append(said, ruleevent.Event{CaseID: m.res.CaseID, MessageID: m.res.MessageID, Chain: ruleevent.NewChain()})
		}
	}
	if err := s.events.Record(ctx, tx, tid, ruleevent.ChatStarted, 0, started); err != nil {
		return err
	}
	if err := s.events.Record(ctx, tx, tid, ruleevent.ClientMessage, 0, said); err != nil {
		return err
	}
	// Numbering locks the tenant's counter until the commit, so it comes
	// last: chats opened at the same time wait for each other only that long.
	for _, id := range newChats {
		if err := numberChat(ctx, tx, tid, id); err != nil {
			return err
		}
	}
	return nil
}

// queueDownloads records a stored message's files and queues their
// downloads.
func (s *Service) queueDownloads(ctx context.Context, tx pgx.Tx, tid uuid.UUID, m *inbound) error {
	for _, f := range m.in.Media {
		var attID int64
		if err := tx.QueryRow(ctx, `INSERT INTO attachments (tenant_id, message_id, filename, content_type, state, source_url)
			VALUES ($1, $2, $3, $4, 'pending', $5) RETURNING id`,
			tid, m.res.MessageID, f.Filename, orDefault(channel.BareType(f.ContentType), "application/octet-stream"), f.URL).Scan(&attID); err != nil {
			return fmt.Errorf("insert attachment: %w", err)
		}
		if _, err := s.queue.InsertTx(ctx, tx, FetchMediaArgs{TenantID: tid, AttachmentID: attID}, nil); err != nil {
			return fmt.Errorf("queue media download: %w", err)
		}
	}
	return nil
}

// MessageMeta is what an inbound message keeps besides its text (the
// messages.meta column): the button tapped, the message it quotes, the ad
// it came from, a location, contact cards, or the kind Parley cannot show.
type MessageMeta struct {
	ButtonText    string            `json:"button_text,omitempty"`
	ButtonPayload string            `json:"button_payload,omitempty"`
	QuotedID      string            `json:"quoted_id,omitempty"`
	Referral      *channel.Referral `json:"referral,omitempty"`
	Location      *channel.Location `json:"location,omitempty"`
	Contacts      []channel.Contact `json:"contacts,omitempty"`
	Unsupported   string            `json:"unsupported,omitempty"`
	Echo          bool              `json:"echo,omitempty"`
}

// inboundContent is what a message stores: its kind, its text and the
// details that have no column.
func inboundContent(in channel.Inbound, echo bool) (kind, body string, meta MessageMeta) {
	kind, body = "text", in.Body
	switch {
	case in.Unsupported != "":
		kind = "unsupported"
	case len(in.Contacts) > 0 || (len(in.Media) > 0 && channel.IsVCard(in.Media[0].ContentType)):
		kind = "contact"
	case len(in.Media) > 0:
		kind = "file"
	case in.Location != nil:
		kind = "location"
		parts := []string{in.Location.Label, in.Location.Address, in.Location.Latitude + "," + in.Location.Longitude}
		body = strings.Join(slices.DeleteFunc(parts, func(p string) bool { return strings.TrimSpace(p) == "" }), " ")
	}
	return kind, body, MessageMeta{
		ButtonText: in.ButtonText, ButtonPayload: in.ButtonPayload, QuotedID: in.QuotedID, Referral: in.Referral,
		Location: in.Location, Contacts: in.Contacts, Unsupported: in.Unsupported, Echo: echo,
	}
}

// liveChat returns the client's live chat on the integration, opening one
// (linked to the client's previous case there) when there is none. A new
// chat remembers number, the client's WhatsApp number it is with (a
// client has several after a merge): replies go there.
func (s *Service) liveChat(ctx context.Context, tx pgx.Tx, ig integration.Integration, clientID int64, number string, now time.Time) (int64, bool, error) {
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
	err = tx.QueryRow(ctx, `INSERT INTO cases (tenant_id, number, client_id, integration_id, group_id, state, status, previous_case_id, created_at, last_activity_at, client_whatsapp)
		VALUES ($1, -txid_current(), $2, $3, $4, 'live', 'open',
			(SELECT id FROM cases WHERE client_id = $2 AND integration_id = $3 AND state = 'ended' ORDER BY ended_at DESC, id DESC LIMIT 1),
			$5, $5, nullif($6, ''))
		ON CONFLICT (tenant_id, client_id, integration_id) WHERE state = 'live' DO NOTHING
		RETURNING id`, ig.TenantID, clientID, ig.ID, ig.DefaultGroupID, now, number).Scan(&id)
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

func previewOf(kind, body string, meta MessageMeta) string {
	switch {
	case kind == "unsupported":
		return "Unsupported message: " + UnsupportedName(meta.Unsupported)
	case kind == "contact" && len(meta.Contacts) > 0:
		return "👤 " + truncate(meta.Contacts[0].Name, 120)
	case kind == "contact":
		return "👤 Contact"
	case kind == "location":
		return "📍 " + truncate(strings.Join(strings.Fields(body), " "), 138)
	case body != "":
		return truncate(strings.Join(strings.Fields(body), " "), 140)
	case kind == "file":
		return "📎 File"
	}
	return ""
}

// UnsupportedName is a kind of WhatsApp message Parley cannot show, in
// plain words.
func UnsupportedName(kind string) string {
	switch kind {
	case "reaction":
		return "a reaction"
	case "poll", "poll_creation", "poll_update":
		return "a poll"
	case "order":
		return "an order"
	case "product", "product_list":
		return "a product"
	case "revoked", "deleted":
		return "a deleted message"
	case "call_log":
		return "a call"
	case "ephemeral":
		return "a disappearing message"
	case "image", "video", "audio", "voice", "document", "sticker":
		return "a file (" + kind + ")"
	case "", "unknown", "unsupported":
		return "a kind of message WhatsApp did not describe"
	}
	return "a message of type “" + kind + "”"
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
