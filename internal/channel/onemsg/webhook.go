package onemsg

import (
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"path"
	"strconv"
	"strings"
	"unicode/utf8"

	"parley/internal/channel"
)

// Webhook is one POST 1msg made to Parley.
type Webhook struct {
	InstanceID string
	Messages   []Message
	Acks       []channel.Status
	Skipped    []string // items left out, each with the reason, for a log line
}

// Message is a message of the chat: the client's, or an echo of the business's own.
type Message struct {
	channel.Inbound
	FromMe  bool // an echo of a message the business sent
	FromApp bool // the echo of a message typed in the WhatsApp app on the business phone (self 0), not sent through the API
}

// envelope is a webhook body (§3): {"instanceId", "messages": [...]} and/or
// {"instanceId", "ack": [...]}. 1msg signs nothing; the secret is in
// Parley's webhook URL.
type envelope struct {
	InstanceID text              `json:"instanceId"`
	Messages   []json.RawMessage `json:"messages"`
	Acks       []json.RawMessage `json:"ack"`
}

// rawMessage is one message item (§3; [SPEC] Message). Every field is read
// leniently: a number where a string was expected still reads.
type rawMessage struct {
	ID         text            `json:"id"`
	Body       text            `json:"body"`
	FromMe     json.RawMessage `json:"fromMe"`
	Self       json.RawMessage `json:"self"`
	Time       text            `json:"time"`
	ChatID     text            `json:"chatId"`
	Type       text            `json:"type"`
	SenderName text            `json:"senderName"`
	Caption    text            `json:"caption"`
	QuotedID   text            `json:"quotedMsgId"`
	// Real traffic adds these ([PROD] payloads-reales-1msg.md): the
	// client's business-scoped user id and username.
	AuthorBsuid    text `json:"authorBsuid"`
	AuthorUserName text `json:"authorUserName"`
	// A file's name, when 1msg gives one besides the caption.
	Filename text `json:"filename"`
	FileName text `json:"fileName"`
	MimeType text `json:"mimetype"`
}

// rawAck is one ack item ([PROD]: id, chatId, phone, status, error as text).
type rawAck struct {
	ID     text            `json:"id"`
	Status text            `json:"status"`
	Error  json.RawMessage `json:"error"`
}

// ParseWebhook reads a webhook body. Malformed JSON, or a body with
// neither messages nor acks, is an error; otherwise each item is read on
// its own, and one Parley cannot use is named in Skipped while the others
// are kept.
func ParseWebhook(body []byte) (Webhook, error) {
	var env envelope
	if err := json.Unmarshal(body, &env); err != nil {
		return Webhook{}, fmt.Errorf("1msg webhook: %w", err)
	}
	if env.Messages == nil && env.Acks == nil {
		if w, ok, err := parseRaw(body); ok {
			return w, err
		}
		return Webhook{}, errors.New("1msg webhook: neither messages nor ack")
	}
	w := Webhook{InstanceID: strings.TrimSpace(string(env.InstanceID))}
	for i, raw := range env.Messages {
		m, err := limitItem(raw, parseMessage)
		if err != nil {
			w.Skipped = append(w.Skipped, fmt.Sprintf("message %s: %v", itemName(i, m.ProviderMessageID), err))
			continue
		}
		w.Messages = append(w.Messages, m)
	}
	for i, raw := range env.Acks {
		st, err := limitItem(raw, parseAck)
		if err != nil {
			w.Skipped = append(w.Skipped, fmt.Sprintf("ack %s: %v", itemName(i, st.ProviderMessageID), err))
			continue
		}
		w.Acks = append(w.Acks, st)
	}
	return w, nil
}

// MaxItemBytes caps one item of a webhook (a message, an echo, an ack):
// WhatsApp's longest text, 4,096 characters, escaped as JSON at worst
// (12 bytes a character), with every other field, fits well below it.
const MaxItemBytes = 64 << 10

// limitItem refuses an item over MaxItemBytes before reading it, and a
// message whose text is longer than WhatsApp's 4,096 characters after:
// WhatsApp delivers neither, so such an item is not 1msg's.
func limitItem[T any](raw json.RawMessage, parse func(json.RawMessage) (T, error)) (T, error) {
	if len(raw) > MaxItemBytes {
		var zero T
		return zero, fmt.Errorf("%d bytes, over the %d KiB an item may have", len(raw), MaxItemBytes>>10)
	}
	v, err := parse(raw)
	if m, ok := any(v).(Message); ok && err == nil {
		if n := utf8.RuneCountInString(m.Body); n > channel.MaxTextRunes {
			return v, fmt.Errorf("a text of %d characters, over WhatsApp's %d", n, channel.MaxTextRunes)
		}
	}
	return v, err
}

// itemName names an item in a Skipped line: its id, else its position.
func itemName(i int, id string) string {
	if id != "" {
		return strconv.Quote(id)
	}
	return "#" + strconv.Itoa(i+1)
}

// Message types (§3) and what Parley makes of them.
var (
	textTypes  = map[string]bool{"chat": true, "text": true, "interactive": true, "button": true}
	mediaTypes = map[string]string{ // type → the content type when WhatsApp always uses one
		"image": "", "video": "", "document": "", "audio": "",
		"voice": "audio/ogg", "ptt": "audio/ogg", "sticker": "image/webp",
	}
	contactTypes = map[string]bool{"vcard": true, "contact": true, "contacts": true, "multi_vcard": true}
	// systemTypes are events of the chat, not something the client wrote:
	// left out. Every other type Parley cannot read (a reaction, a poll,
	// an order, a deleted message…) is kept as an unsupported message.
	systemTypes = map[string]bool{
		"request_welcome": true, "e2e_notification": true, "notification": true, "notification_template": true,
		"gp2": true, "ciphertext": true, "protocol": true, "system": true,
	}
)

// parseMessage reads one message item. On error the returned message
// carries the id, when there was one, for the Skipped line.
func parseMessage(raw json.RawMessage) (Message, error) {
	var rm rawMessage
	if err := json.Unmarshal(raw, &rm); err != nil {
		return Message{}, fmt.Errorf("not readable: %w", err)
	}
	m := Message{Inbound: channel.Inbound{ProviderMessageID: strings.TrimSpace(string(rm.ID))}}
	if m.ProviderMessageID == "" {
		return m, errors.New("no id")
	}
	from, userID, err := clientOf(string(rm.ChatID), string(rm.AuthorBsuid))
	if err != nil {
		return m, err
	}
	m.From, m.UserID = from, userID
	m.FromMe, _ = flag(rm.FromMe)
	// self 1 = sent through the API, 0 = typed in the app ([SPEC]); an echo
	// without it is taken as the API's.
	if self, known := flag(rm.Self); m.FromMe && known && !self {
		m.FromApp = true
	}
	if at, ok := writtenAt(rm.Time); ok {
		m.At = at
	}
	if !m.FromMe {
		m.ProfileName = strings.TrimSpace(string(rm.SenderName))
		m.Username = strings.TrimSpace(string(rm.AuthorUserName))
	}
	m.QuotedID = strings.TrimSpace(string(rm.QuotedID))

	kind := strings.ToLower(strings.TrimSpace(string(rm.Type)))
	body := string(rm.Body)
	contentType, isMedia := mediaTypes[kind]
	switch {
	case textTypes[kind]:
		if strings.TrimSpace(body) == "" {
			return m, fmt.Errorf("empty %s message", kind)
		}
		m.Body = body
		// A tap on a button: type "button" ([PROD]), or "interactive" from
		// the client (a reply button or list answer). The tapped title is
		// the body (§4, UNVERIFIED which field; the simulator uses body).
		if kind == "button" || (kind == "interactive" && !m.FromMe) {
			m.ButtonText = body
		}
	case isMedia:
		link := strings.TrimSpace(body)
		if !strings.HasPrefix(link, "https://") && !strings.HasPrefix(link, "http://") {
			return m, fmt.Errorf("%s message without a download link", kind)
		}
		ref := channel.MediaRef{URL: link, ContentType: firstOf(text(contentType), rm.MimeType)}
		caption := string(rm.Caption)
		// [SPEC]: caption is "File caption or filename": a document's
		// caption that is a file name is its name, not a text.
		ref.Filename = firstOf(rm.Filename, rm.FileName)
		if ref.Filename == "" && kind == "document" && looksLikeFilename(caption) {
			ref.Filename, caption = strings.TrimSpace(caption), ""
		}
		if ref.Filename == "" {
			ref.Filename = linkFilename(link)
		}
		m.Media = []channel.MediaRef{ref}
		m.Body = caption
	case kind == "location":
		if loc := parseLocation(body); loc != nil {
			m.Location = loc
		} else if strings.TrimSpace(body) != "" {
			m.Body = body
		} else {
			return m, errors.New("location without coordinates")
		}
	case contactTypes[kind]:
		if m.Contacts = channel.ParseVCards(body); len(m.Contacts) == 0 {
			if strings.TrimSpace(body) == "" {
				return m, fmt.Errorf("%s without a card", kind)
			}
			m.Body = body // not a vCard: its text is better than nothing
		}
	case systemTypes[kind]:
		return m, fmt.Errorf("type %q is not a chat message", kind)
	default:
		// A reaction, a poll, an order, a deleted message… or a type 1msg
		// adds later: the agent sees that the client sent something.
		m.Unsupported = cmp.Or(kind, "unknown")
		m.Body = strings.TrimSpace(firstOf(text(body), rm.Caption))
	}
	return m, nil
}

// looksLikeFilename says whether a caption is a file's name: one line,
// ending in an extension that names a known type.
func looksLikeFilename(s string) bool {
	s = strings.TrimSpace(s)
	return s != "" && len(s) <= 255 && !strings.ContainsAny(s, "\n/\\") && channel.TypeOfName(s) != ""
}

// linkFilename is the name a media link's last path segment gives, when it
// looks like a file's name.
func linkFilename(link string) string {
	u, err := url.Parse(link)
	if err != nil {
		return ""
	}
	if name, err := url.PathUnescape(path.Base(u.Path)); err == nil && looksLikeFilename(name) {
		return name
	}
	return ""
}

// clientOf reads who a message's chat is with: a chatId
// ("15550001111@c.us", or bare digits) names the client's number; an @lid
// chat (a client who hides their number) names only their business-scoped
// user id, which is the chatId without "@lid" when authorBsuid does not
// give it ([PROD]; github.com/ebor94/1msg docs/migraciones/003-bsuid.sql).
func clientOf(chatID, bsuid string) (number, userID string, err error) {
	bsuid = strings.TrimSpace(bsuid)
	if !channel.IsUserID(bsuid) {
		bsuid = ""
	}
	user, server, _ := strings.Cut(strings.TrimSpace(chatID), "@")
	if server == "lid" {
		if bsuid == "" && channel.IsUserID(user) {
			bsuid = user
		}
		if bsuid == "" {
			return "", "", fmt.Errorf("@lid chat %q without a WhatsApp user id", chatID)
		}
		return "", bsuid, nil
	}
	number, err = clientNumber(chatID)
	return number, bsuid, err
}

// clientNumber turns a chatId ("15550001111@c.us", or bare digits) into
// the client's number, E.164. Group and @lid (business-scoped user id)
// chats have no client number and are refused.
func clientNumber(chatID string) (string, error) {
	chatID = strings.TrimSpace(chatID)
	user, server, hasServer := strings.Cut(chatID, "@")
	switch {
	case chatID == "":
		return "", errors.New("no chatId")
	case server == "g.us":
		return "", errors.New("group chat")
	case hasServer && server != "c.us" && server != "s.whatsapp.net":
		return "", fmt.Errorf("chat %q is not a person's", chatID)
	}
	d := strings.TrimPrefix(user, "+")
	if len(d) < 8 || len(d) > 15 || d[0] == '0' || strings.Trim(d, "0123456789") != "" {
		return "", fmt.Errorf("chat %q has no phone number", chatID)
	}
	return "+" + d, nil
}

// parseLocation reads "latitude,longitude" (or with a ";") as 1msg puts
// it in a location's body (§3).
func parseLocation(s string) *channel.Location {
	lat, lng, ok := strings.Cut(strings.TrimSpace(s), ",")
	if !ok {
		lat, lng, ok = strings.Cut(strings.TrimSpace(s), ";")
	}
	if !ok {
		return nil
	}
	lat, lng = strings.TrimSpace(lat), strings.TrimSpace(lng)
	la, err1 := strconv.ParseFloat(lat, 64)
	lo, err2 := strconv.ParseFloat(lng, 64)
	if err1 != nil || err2 != nil || la < -90 || la > 90 || lo < -180 || lo > 180 {
		return nil
	}
	return &channel.Location{Latitude: lat, Longitude: lng}
}

// parseAck reads one delivery status. A failed ack carries Meta's text
// only ([PROD]); its code is taken from "(#131049) …" when quoted.
func parseAck(raw json.RawMessage) (channel.Status, error) {
	var ra rawAck
	if err := json.Unmarshal(raw, &ra); err != nil {
		return channel.Status{}, fmt.Errorf("not readable: %w", err)
	}
	st := channel.Status{ProviderMessageID: strings.TrimSpace(string(ra.ID))}
	if st.ProviderMessageID == "" {
		return st, errors.New("no id")
	}
	switch s := strings.ToLower(strings.TrimSpace(string(ra.Status))); s {
	case "sent":
		st.Status = channel.StatusSent
	case "delivered":
		st.Status = channel.StatusDelivered
	case "read", "viewed":
		st.Status = channel.StatusRead
	case "failed":
		st.Status = channel.StatusFailed
		st.ErrorText, st.ErrorCode = errorField(ra.Error)
		if st.ErrorCode == "" {
			st.ErrorCode = metaCode(st.ErrorText)
		}
	default:
		return st, fmt.Errorf("status %q", s)
	}
	return st, nil
}
