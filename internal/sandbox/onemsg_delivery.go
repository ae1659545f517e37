package sandbox

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	mathrand "math/rand/v2"
	"mime"
	"net/http"
	"net/url"
	"path"
	"slices"
	"strconv"
	"strings"
	"time"
)

// omBusinessName is the senderName of the business's own messages in
// echoes (UNVERIFIED: [PROD] masks it).
const omBusinessName = "Sandbox Business"

// omStatusRank orders statuses so that late, out-of-order acks never make
// the phone's view regress ([PROD]: "nunca retroceder").
var omStatusRank = map[string]int{"queued": 0, "sent": 1, "delivered": 2, "read": 3, "failed": 4}

// process posts the echo of an accepted send and then its acks: sent →
// delivered → read (reversed with ReorderAcks), or a single failed ack with
// Meta's error text.
func (o *OneMsg) process(in *omInstance, m *omMessage, failCode int) {
	ctx := context.Background()
	o.pause()
	o.mu.Lock()
	echo := o.messagesEnvelope(in, m)
	o.mu.Unlock()
	if err := o.deliver(ctx, in, echo); err != nil {
		o.log.Warn("sandbox 1msg: echo delivery failed", "id", m.id, "err", err)
	}
	steps := []string{"sent", "delivered", "read"}
	if failCode != 0 {
		steps = []string{"failed"}
	} else if o.currentFaults().ReorderAcks {
		slices.Reverse(steps)
	}
	lost := o.currentFaults().AckLossRate > 0 && mathrand.Float64() < o.currentFaults().AckLossRate
	for _, status := range steps {
		o.pause()
		o.mu.Lock()
		if omStatusRank[status] > omStatusRank[m.status] {
			m.status = status
		}
		if failCode != 0 {
			m.errCode, m.errText = failCode, omMetaErrors[failCode]
		}
		ack := o.ackEnvelope(in, m, status)
		acks := in.acks
		o.mu.Unlock()
		if !acks || lost {
			// ackNotificationsOn is off (or the ack was given up on): the
			// message moves on, but no webhook says so ([SPEC]
			// callbacks.Ack); GET /hookInfo does.
			continue
		}
		if err := o.deliver(ctx, in, ack); err != nil {
			o.log.Warn("sandbox 1msg: ack delivery failed", "id", m.id, "status", status, "err", err)
		}
	}
}

func (o *OneMsg) pause() {
	if o.ackDelay > 0 {
		time.Sleep(o.ackDelay)
	}
}

// messagesEnvelope is the webhook body of a message, inbound or an echo:
// {"instanceId":..,"messages":[{...}]} ([PROD], [SPEC] Message). The caller
// holds o.mu.
func (o *OneMsg) messagesEnvelope(in *omInstance, m *omMessage) map[string]any {
	return map[string]any{"instanceId": in.id, "messages": []any{o.messageJSON(in, m)}}
}

// messageJSON is one message as webhooks and GET /messages show it. The
// caller holds o.mu.
func (o *OneMsg) messageJSON(in *omInstance, m *omMessage) map[string]any {
	cust := chatIDOf(m.customer)
	name := in.names[m.customer]
	chatName := name
	if chatName == "" {
		chatName = strings.TrimPrefix(m.customer, "+")
	}
	msg := map[string]any{
		"id":          m.id,
		"body":        m.text,
		"fromMe":      !m.inbound,
		"self":        m.self,
		"isForwarded": false,
		"time":        m.at.Unix(),
		"chatId":      cust,
		"type":        m.kind,
		"chatName":    chatName,
		"quotedMsgId": nil, // [PROD]: null when not a reply
	}
	if m.inbound {
		msg["author"], msg["senderName"] = cust, name
		if m.userID != "" {
			msg["authorBsuid"] = m.userID
		}
		if m.username != "" {
			msg["authorUserName"] = m.username
		}
		if m.hideNumber {
			msg["chatId"], msg["author"] = m.userID+"@lid", m.userID+"@lid"
			if name == "" {
				msg["chatName"] = m.userID
			}
		}
	} else {
		msg["author"], msg["senderName"] = chatIDOf(in.phone), omBusinessName
	}
	if m.quoted != "" {
		msg["quotedMsgId"] = m.quoted
	}
	if m.file != nil {
		// [SPEC]: body is the download link, caption "File caption or filename".
		msg["body"] = m.link
		caption := m.text
		if caption == "" {
			caption = m.file.filename
		}
		msg["caption"] = caption
	}
	return msg
}

// hookInfo is GET /hookInfo?messageId=… → {"hooks":[…]}: the statuses the
// message has reached, as Meta's status objects ([SPEC] GetAckInfo: id,
// type, status, timestamp, recipient_id; a failure carries Meta's errors
// array, UNVERIFIED). An unknown id has no hooks (UNVERIFIED).
func (o *OneMsg) hookInfo(w http.ResponseWriter, r *http.Request, in *omInstance) {
	id := r.URL.Query().Get("messageId")
	if id == "" {
		omError(w, http.StatusBadRequest, "messageId is required")
		return
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	hooks := []any{}
	for _, conv := range in.convs {
		for _, m := range conv {
			if m.id != id || m.inbound {
				continue
			}
			reached := []string{"sent", "delivered", "read"}[:min(omStatusRank[m.status], 3)]
			if m.status == "failed" {
				reached = []string{"failed"}
			}
			for _, status := range reached {
				h := map[string]any{"id": m.id, "type": "message", "status": status,
					"timestamp": strconv.FormatInt(m.at.Unix(), 10), "recipient_id": strings.TrimPrefix(m.customer, "+")}
				if status == "failed" {
					h["errors"] = []any{map[string]any{"code": m.errCode, "title": m.errText, "message": m.errText}}
				}
				hooks = append(hooks, h)
			}
		}
	}
	omWriteJSON(w, http.StatusOK, map[string]any{"hooks": hooks})
}

// ackEnvelope is {"instanceId":..,"ack":[{id,chatId,status,phone,error?}]}
// ([PROD]: status sent|delivered|read|failed, error as text only). The
// caller holds o.mu.
func (o *OneMsg) ackEnvelope(in *omInstance, m *omMessage, status string) map[string]any {
	ack := map[string]any{
		"id":     m.id,
		"chatId": chatIDOf(m.customer),
		"status": status,
		"phone":  strings.TrimPrefix(m.customer, "+"),
	}
	if status == "failed" {
		ack["error"] = m.errText
	}
	return map[string]any{"instanceId": in.id, "ack": []any{ack}}
}

// deliver POSTs a JSON webhook to every registered URL except 1msg's own
// inbox hook, plus the configured duplicate deliveries, and returns the
// first failure. With guaranteedHooks on, a webhook that is not answered
// 200 is posted again, up to 20 attempts in all (see omInstance.guaranteed);
// off, it is posted once. 1msg signs nothing ([AGT] webhooks.md).
func (o *OneMsg) deliver(ctx context.Context, in *omInstance, payload any) error {
	body, err := json.Marshal(payload)
	if err != nil {
		return err
	}
	o.mu.Lock()
	var targets []string
	for _, u := range in.webhooks {
		if !isOneMsgOwnHook(u) {
			targets = append(targets, u)
		}
	}
	dups := o.faults.DuplicateDeliveries
	attempts := 1
	if in.guaranteed {
		attempts = omGuaranteedAttempts
	}
	o.mu.Unlock()
	var first error
	for _, target := range targets {
		var err error
		for a := 1; a <= attempts; a++ {
			var status int
			status, err = o.postJSON(ctx, target, body)
			if err == nil && attempts > 1 && status != http.StatusOK {
				err = fmt.Errorf("%w: %s answered %d, not 200", errWebhookRefused, target, status)
			}
			retry := err != nil && a < attempts && ctx.Err() == nil
			o.observer.observe(WebhookAttempt{URL: target, Attempt: a, Status: status, Err: err, Retry: retry})
			if !retry {
				break
			}
			if o.hookRetryPause > 0 {
				time.Sleep(o.hookRetryPause)
			}
		}
		if err != nil {
			if first == nil {
				first = err
			}
			continue
		}
		for range dups {
			if _, err := o.postJSON(ctx, target, body); err != nil {
				o.log.Warn("sandbox 1msg: duplicate delivery failed", "url", target, "err", err)
			}
		}
	}
	return first
}

// omGuaranteedAttempts is how many times a webhook is posted in all with
// guaranteedHooks on.
const omGuaranteedAttempts = 20

func (o *OneMsg) postJSON(ctx context.Context, target string, body []byte) (int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, target, bytes.NewReader(body))
	if err != nil {
		return 0, fmt.Errorf("%w: %v", errWebhookRefused, err)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := o.client.Do(req)
	if err != nil {
		return 0, fmt.Errorf("%w: %v", errWebhookRefused, err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return resp.StatusCode, fmt.Errorf("%w: %s answered %s", errWebhookRefused, target, resp.Status)
	}
	return resp.StatusCode, nil
}

// loadFile gets the file of a sendFile: a multipart upload, a data URI, or
// an http(s) URL downloaded at once (redirects followed). A non-empty
// failure is the sent:false message.
func (o *OneMsg) loadFile(r *http.Request, src, filename string, upload *omFile) (*omFile, string) {
	f := upload
	switch {
	case f != nil:
	case strings.HasPrefix(src, "data:"):
		meta, payload, ok := strings.Cut(strings.TrimPrefix(src, "data:"), ",")
		if !ok {
			return nil, omBadFileBody
		}
		ct, isB64 := strings.CutSuffix(meta, ";base64")
		var data []byte
		var err error
		if isB64 {
			data, err = base64.StdEncoding.DecodeString(payload)
		} else {
			var s string
			s, err = url.PathUnescape(payload)
			data = []byte(s)
		}
		if err != nil || len(data) == 0 {
			return nil, omBadFileBody
		}
		f = &omFile{contentType: ct, data: data}
	case strings.HasPrefix(src, "http://"), strings.HasPrefix(src, "https://"):
		ctx, cancel := context.WithTimeout(r.Context(), 30*time.Second)
		defer cancel()
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, src, nil)
		if err != nil {
			return nil, omBadFileBody
		}
		resp, err := o.client.Do(req)
		if err != nil {
			o.log.Warn("sandbox 1msg: file download failed", "url", src, "err", err)
			return nil, omDownloadFailed
		}
		defer resp.Body.Close()
		if resp.StatusCode < 200 || resp.StatusCode > 299 {
			o.log.Warn("sandbox 1msg: file download failed", "url", src, "status", resp.StatusCode)
			return nil, omDownloadFailed
		}
		data, err := io.ReadAll(io.LimitReader(resp.Body, oneMsgMaxFile+1))
		if err != nil || len(data) == 0 {
			return nil, omDownloadFailed
		}
		f = &omFile{contentType: resp.Header.Get("Content-Type"), data: data}
	default:
		return nil, omBadFileBody
	}
	if len(f.data) > oneMsgMaxFile {
		return nil, omFileTooLarge
	}
	f.id, f.filename = randomHex(12), filename
	ct, _, err := mime.ParseMediaType(f.contentType)
	if err != nil || ct == "" || ct == "application/octet-stream" {
		ct = mime.TypeByExtension(path.Ext(filename))
		if ct == "" {
			ct = http.DetectContentType(f.data)
		}
		ct, _, _ = mime.ParseMediaType(ct)
	}
	f.contentType = ct
	return f, ""
}

// mediaKind is the message type of a file ([SPEC] Message.type).
func mediaKind(contentType string) string {
	switch {
	case contentType == "image/webp":
		return "sticker"
	case strings.HasPrefix(contentType, "image/"):
		return "image"
	case strings.HasPrefix(contentType, "video/"):
		return "video"
	case strings.HasPrefix(contentType, "audio/"):
		return "audio"
	}
	return "document"
}

// newLinkLocked hands out a temporary media link, base/media/<random>,
// valid for oneMsgMediaTTL of simulator time. The caller holds o.mu.
func (o *OneMsg) newLinkLocked(base string, f *omFile, now time.Time) string {
	if len(o.links) >= 1024 { // forget long-expired links so benchmarks do not grow the map forever
		for tok, l := range o.links {
			if now.Sub(l.expires) > time.Hour {
				delete(o.links, tok)
			}
		}
	}
	token := randomHex(20)
	o.links[token] = &omLink{file: f, expires: now.Add(oneMsgMediaTTL)}
	return base + "/media/" + token
}

// serveLink serves a temporary media link without auth: 410 Gone once it
// has expired, 404 for a token it never handed out (real links are S3
// URLs whose expiry answers differ; the codes are the simulator's).
func (o *OneMsg) serveLink(w http.ResponseWriter, r *http.Request, token string) {
	o.mu.Lock()
	link := o.links[token]
	expired := link != nil && !o.now().Before(link.expires)
	o.mu.Unlock()
	switch {
	case r.Method != http.MethodGet && r.Method != http.MethodHead:
		w.Header().Set("Allow", "GET, HEAD")
		omError(w, http.StatusMethodNotAllowed, "Method Not Allowed")
	case link == nil:
		omError(w, http.StatusNotFound, "Not found")
	case expired:
		omError(w, http.StatusGone, "The link has expired")
	default:
		serveOmFile(w, r, link.file)
	}
}

func serveOmFile(w http.ResponseWriter, r *http.Request, f *omFile) {
	w.Header().Set("Content-Type", f.contentType)
	w.Header().Set("Content-Length", strconv.Itoa(len(f.data)))
	if f.filename != "" {
		w.Header().Set("Content-Disposition", mime.FormatMediaType("inline", map[string]string{"filename": f.filename}))
	}
	w.WriteHeader(http.StatusOK)
	if r.Method != http.MethodHead {
		_, _ = w.Write(f.data)
	}
}

// CustomerSends makes a customer's phone send a message to an instance: the
// simulator POSTs {"instanceId":..,"messages":[...]} to every registered
// webhook URL except 1msg's own, and opens (or extends) the customer's
// 24-hour window. It returns the message id, and an error if a webhook
// could not be reached or answered non-2xx (the id is returned then too:
// the message exists regardless).
func (o *OneMsg) CustomerSends(ctx context.Context, msg OneMsgInbound) (id string, err error) {
	customer := normalizeNumber(msg.From)
	if !e164.MatchString(customer) {
		return "", fmt.Errorf("sandbox: customer number %q is not +E164", msg.From)
	}
	if strings.TrimSpace(msg.Body) == "" && msg.Media == nil && msg.ButtonText == "" && msg.VCard == "" && msg.Type == "" {
		return "", errors.New("sandbox: an inbound message needs a body, media, a button, a contact or a type")
	}
	if msg.UserID != "" && !bsuidRe.MatchString(msg.UserID) {
		return "", fmt.Errorf("sandbox: %q is not a business-scoped user id (CC.digits)", msg.UserID)
	}
	if msg.HideNumber && msg.UserID == "" {
		return "", errors.New("sandbox: a customer who hides their number needs a UserID")
	}
	o.mu.Lock()
	in := o.instances[msg.InstanceID]
	pub := o.publicURL
	o.mu.Unlock()
	if in == nil {
		return "", fmt.Errorf("sandbox: no 1msg instance %q", msg.InstanceID)
	}
	if msg.Media != nil && pub == "" {
		return "", errors.New("sandbox: set PublicURL before sending media, media links are built from it")
	}

	m := &omMessage{
		customer: customer, inbound: true, kind: "chat", text: msg.Body, status: "received",
		id:     newWamid(strings.TrimPrefix(customer, "+"), 0x12),
		userID: msg.UserID, username: msg.Username, hideNumber: msg.HideNumber, quoted: msg.QuotedID,
	}
	switch {
	case msg.VCard != "":
		m.kind, m.text = "vcard", msg.VCard
	case msg.Type != "":
		m.kind = msg.Type
	}
	if msg.Media != nil {
		ct, _, err := mime.ParseMediaType(msg.Media.ContentType)
		if err != nil || ct == "" {
			ct = http.DetectContentType(msg.Media.Data)
			ct, _, _ = mime.ParseMediaType(ct)
		}
		m.file = &omFile{id: randomHex(12), contentType: ct, filename: msg.Media.Filename, data: append([]byte(nil), msg.Media.Data...)}
		m.kind = mediaKind(ct)
	}
	o.mu.Lock()
	m.at = o.now()
	if msg.SenderName != "" {
		in.names[customer] = msg.SenderName
	}
	if msg.UserID != "" {
		in.userIDs[msg.UserID] = customer
	}
	if msg.ButtonText != "" {
		// [PROD]: taps arrive as type "button"; which field holds the title
		// is UNVERIFIED (research §4), the simulator puts it in body. The
		// tap answers the last message with buttons, as quotedMsgId (Meta
		// sends the replied message as context.id; UNVERIFIED for 1msg).
		m.kind, m.text = "button", msg.ButtonText
		conv := in.convs[customer]
		for i := len(conv) - 1; i >= 0; i-- {
			if !conv[i].inbound && len(conv[i].buttons) > 0 {
				m.quoted = conv[i].id
				break
			}
		}
	}
	if m.file != nil {
		o.files[m.file.id] = m.file
		m.link = o.newLinkLocked(pub, m.file, m.at)
	}
	in.convs[customer] = append(in.convs[customer], m)
	in.lastIn[customer] = m.at
	payload := o.messagesEnvelope(in, m)
	o.mu.Unlock()

	if err := o.deliver(ctx, in, payload); err != nil {
		return m.id, fmt.Errorf("sandbox: inbound message %s: %w", m.id, err)
	}
	return m.id, nil
}

// BusinessSendsFromPhone is an agent typing on the WhatsApp app of the
// business phone (coexistence): no API call, no 24-hour check, and an echo
// with fromMe true and self 0 ([SPEC] Message.self: "0 - generated by app")
// posted to the webhooks at once. No acks follow (UNVERIFIED: real traffic
// for app messages is not captured). It returns the message id, and an
// error if a webhook refused the echo.
func (o *OneMsg) BusinessSendsFromPhone(ctx context.Context, instanceID, to, body string) (id string, err error) {
	customer := normalizeNumber(to)
	if !e164.MatchString(customer) {
		return "", fmt.Errorf("sandbox: customer number %q is not +E164", to)
	}
	if strings.TrimSpace(body) == "" {
		return "", errors.New("sandbox: empty message")
	}
	o.mu.Lock()
	in := o.instances[instanceID]
	if in == nil {
		o.mu.Unlock()
		return "", fmt.Errorf("sandbox: no 1msg instance %q", instanceID)
	}
	m := &omMessage{
		id: newWamid(strings.TrimPrefix(customer, "+"), 0x11), customer: customer,
		self: 0, kind: "chat", text: body, status: "sent", at: o.now(),
	}
	in.convs[customer] = append(in.convs[customer], m)
	payload := o.messagesEnvelope(in, m)
	o.mu.Unlock()
	if err := o.deliver(ctx, in, payload); err != nil {
		return m.id, fmt.Errorf("sandbox: echo %s: %w", m.id, err)
	}
	return m.id, nil
}
