package sandbox

import (
	"context"
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

// WhatsApp media limits: 16 MB per message, 5 MB for images
// (twilio.com/docs/whatsapp/guidance-whatsapp-media-messages).
const (
	maxMediaBytes = 16 << 20
	maxImageBytes = 5 << 20
)

// whatsappMIMETypes are the media types Twilio accepts for WhatsApp
// (twilio.com/docs/whatsapp/guidance-whatsapp-media-messages: JPG/JPEG, PNG,
// WEBP stickers; OGG/opus, AMR, 3GP, AAC, MPEG audio; PDF, DOC, DOCX, PPTX,
// XLSX; MP4 video; vCard). M4A (audio/mp4) and bare Opus are not in that
// list, and WhatsApp's own list has no audio/opus: refused.
var whatsappMIMETypes = map[string]bool{
	"image/jpeg": true, "image/jpg": true, "image/png": true, "image/webp": true,
	"audio/ogg": true, "audio/amr": true, "audio/3gpp": true, "audio/aac": true, "audio/mpeg": true,
	"application/pdf":    true,
	"application/msword": true,
	"application/vnd.openxmlformats-officedocument.wordprocessingml.document":   true,
	"application/vnd.openxmlformats-officedocument.presentationml.presentation": true,
	"application/vnd.openxmlformats-officedocument.spreadsheetml.sheet":         true,
	"video/mp4":  true,
	"text/vcard": true, "text/x-vcard": true,
}

// errWebhookRefused marks a webhook that failed or answered non-2xx.
var errWebhookRefused = errors.New("webhook refused")

// outbound is the asynchronous half of a Messages create.
type outbound struct {
	msg        *twMessage
	tpl        Template // when msg.contentSid is set
	vars       map[string]string
	missing    []string // placeholders with neither a value nor a default
	mediaURLs  []string
	tplMedia   string // a template's media link, variables filled in
	callback   string
	install    string
	windowOpen bool // the customer wrote to the sender in the 24 h before the create
}

// process walks an accepted message through Twilio's statuses and posts a
// status callback for each: sent → delivered → read, or failed with the
// channel's error code.
func (t *Twilio) process(acct *twAccount, job *outbound) {
	ctx := context.Background()
	t.pause()
	if code := t.check(ctx, acct, job); code != 0 {
		t.setStatus(job.msg, "failed", code)
		t.statusCallback(ctx, acct, job, "failed", code)
		return
	}
	type step struct {
		status string
		code   int
	}
	steps := []step{{"sent", 0}, {"delivered", 0}, {"read", 0}}
	f := t.currentFaults()
	if f.UndeliveredRate > 0 && mathrand.Float64() < f.UndeliveredRate {
		steps = []step{{"sent", 0}, {"undelivered", codeUndeliverable}}
	}
	// The message's own status moves in order; its callbacks may not.
	callbacks := slices.Clone(steps)
	lost := f.CallbackLossRate > 0 && mathrand.Float64() < f.CallbackLossRate
	if f.ShuffleCallbacks {
		mathrand.Shuffle(len(callbacks), func(i, j int) { callbacks[i], callbacks[j] = callbacks[j], callbacks[i] })
	}
	for i := range steps {
		if i > 0 {
			t.pause()
		}
		t.setStatus(job.msg, steps[i].status, steps[i].code)
		if !lost {
			t.statusCallback(ctx, acct, job, callbacks[i].status, callbacks[i].code)
		}
	}
}

func (t *Twilio) pause() {
	if t.statusDelay > 0 {
		time.Sleep(t.statusDelay)
	}
}

// check applies WhatsApp's rules to an accepted message and returns the
// error code it fails with, or 0.
func (t *Twilio) check(ctx context.Context, acct *twAccount, job *outbound) int {
	if job.msg.contentSid != "" {
		if len(job.missing) > 0 {
			return codeTemplateParams
		}
		switch job.tpl.Status {
		case "approved":
			// Approved templates may be sent at any time; WhatsApp then
			// fetches the media of a media header like a MediaUrl's.
			return t.attachMedia(ctx, acct, job, job.tplMedia)
		case "rejected":
			return codeTemplateRejected
		case "paused":
			return codeTemplatePaused
		case "disabled":
			return codeTemplateDisabled
		}
		// Content that WhatsApp has not approved goes out as a free-form
		// session message: fine inside the 24-hour window, 63016 outside
		// (twilio.com/docs/content/send-templates-created-with-the-content-template-builder:
		// an approved template is needed outside the 24-hour session).
		if !job.windowOpen {
			return codeOutsideWindow
		}
		return 0
	}
	// Free-form text and media need an open 24-hour customer service window
	// (twilio.com/docs/api/errors/63016).
	if !job.windowOpen {
		return codeOutsideWindow
	}
	for _, u := range job.mediaURLs {
		if code := t.attachMedia(ctx, acct, job, u); code != 0 {
			return code
		}
	}
	return 0
}

// attachMedia downloads a message's media (none when u is "") and keeps
// it on the message, or returns the error code it fails with.
func (t *Twilio) attachMedia(ctx context.Context, acct *twAccount, job *outbound, u string) int {
	if u == "" {
		return 0
	}
	caption := job.msg.body
	if job.msg.contentSid != "" {
		caption = "" // a template's text is not a caption
	}
	md, code := t.fetchMedia(ctx, u, caption)
	if code != 0 {
		return code
	}
	t.mu.Lock()
	md.account, md.message, md.created = acct.sid, job.msg.sid, t.now()
	t.media[md.sid] = md
	job.msg.media = append(job.msg.media, md)
	t.mu.Unlock()
	return 0
}

// fetchMedia downloads a MediaUrl as Twilio does at send time, following
// redirects, and checks WhatsApp's size and type rules.
func (t *Twilio) fetchMedia(ctx context.Context, rawURL, caption string) (*twMedia, int) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, rawURL, nil)
	if err != nil {
		return nil, codeMediaDownload
	}
	req.Header.Set("User-Agent", "TwilioProxy/1.1")
	resp, err := t.client.Do(req)
	if err != nil {
		t.log.Warn("sandbox twilio: media download failed", "url", rawURL, "err", err)
		return nil, codeMediaDownload
	}
	defer resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		t.log.Warn("sandbox twilio: media download failed", "url", rawURL, "status", resp.StatusCode)
		return nil, codeMediaDownload
	}
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxMediaBytes+1))
	switch {
	case err != nil, len(data) == 0:
		return nil, codeMediaDownload
	case len(data) > maxMediaBytes:
		return nil, codeMediaTooLarge
	}
	if code := twilioMediaCode(resp.Header.Get("Content-Type"), data, caption); code != 0 {
		return nil, code
	}
	ct, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type"))
	name := ""
	if u, err := url.Parse(rawURL); err == nil {
		if base := path.Base(u.Path); base != "/" && base != "." {
			name = base
		}
	}
	return &twMedia{sid: "ME" + randomHex(16), contentType: ct, filename: name, data: data}, 0
}

func (t *Twilio) setStatus(m *twMessage, status string, code int) {
	t.mu.Lock()
	defer t.mu.Unlock()
	now := t.now()
	m.status, m.updated = status, now
	if status == "sent" {
		m.sentAt = now
	}
	if code != 0 {
		m.errorCode, m.errorMessage = code, errorMessages[code]
	}
}

// statusCallback posts one status callback with the parameters Twilio sends
// for WhatsApp (shared/research/twilio.md §2, from captured callbacks):
// EventType only on delivered and read, StructuredMessage on sent,
// ErrorCode and ErrorMessage on failed.
func (t *Twilio) statusCallback(ctx context.Context, acct *twAccount, job *outbound, status string, code int) {
	m := job.msg
	p := url.Values{}
	p.Set("MessageSid", m.sid)
	p.Set("SmsSid", m.sid)
	p.Set("SmsStatus", status)
	p.Set("MessageStatus", status)
	p.Set("AccountSid", acct.sid)
	p.Set("From", m.from)
	p.Set("To", m.to)
	p.Set("ChannelToAddress", m.customer)
	p.Set("ChannelPrefix", "whatsapp")
	p.Set("ChannelInstallSid", job.install)
	p.Set("ApiVersion", apiVersion)
	switch status {
	case "sent":
		p.Set("StructuredMessage", "false")
	case "delivered":
		p.Set("EventType", "DELIVERED")
	case "read":
		p.Set("EventType", "READ")
	case "failed", "undelivered":
		p.Set("ErrorCode", strconv.Itoa(code))
		p.Set("ErrorMessage", errorMessages[code])
	}
	if err := t.deliver(ctx, acct.token, job.callback, p); err != nil {
		t.log.Warn("sandbox twilio: status callback failed", "sid", m.sid, "status", status, "err", err)
	}
}

// deliver POSTs a signed webhook as Twilio does: retried per the URL's
// connection overrides (#rc=…&rp=…, see twOverrides; their defaults when
// the URL has none), within the total time tt, and never with the fragment,
// which is not part of the signed URL either. The configured duplicate
// deliveries follow a delivered webhook. It returns the outcome of the
// last attempt.
func (t *Twilio) deliver(ctx context.Context, token, target string, params url.Values) error {
	if target == "" {
		return nil
	}
	signed, fragment, _ := strings.Cut(target, "#")
	ov, err := parseTwOverrides(fragment)
	if err != nil {
		// Twilio does not call a URL whose overrides it cannot read.
		return fmt.Errorf("%w: %v", errWebhookRefused, err)
	}
	sig := SignTwilio(token, signed, params)
	body := params.Encode()
	idem := randomHex(16)
	start := time.Now()
	var last error
	for attempt := 1; ; attempt++ {
		left := ov.tt - time.Since(start)
		if left <= 0 {
			break
		}
		connected, status, err := t.post(ctx, signed, body, sig, idem, min(ov.ct+ov.rt, left))
		class := twFailureClass(connected, status, err)
		retry := err != nil && attempt <= ov.rc && ov.rp[class] && time.Since(start) < ov.tt
		t.observer.observe(WebhookAttempt{URL: signed, Attempt: attempt, Status: status, Err: err, Retry: retry})
		last = err
		if !retry {
			break
		}
	}
	if last != nil {
		return last
	}
	for range t.currentFaults().DuplicateDeliveries {
		if _, _, err := t.post(ctx, signed, body, sig, idem, ov.ct+ov.rt); err != nil {
			t.log.Warn("sandbox twilio: duplicate delivery failed", "url", signed, "err", err)
		}
	}
	return nil
}

// OnWebhookAttempt sets a function told of every webhook attempt, after
// it is answered (nil: none). It runs before the next retry.
func (t *Twilio) OnWebhookAttempt(fn func(WebhookAttempt)) { t.observer.set(fn) }

func (t *Twilio) post(ctx context.Context, target, body, sig, idem string, deadline time.Duration) (connected bool, status int, err error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, target, strings.NewReader(body))
	if err != nil {
		return false, 0, fmt.Errorf("%w: %v", errWebhookRefused, err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded; charset=utf-8")
	req.Header.Set("X-Twilio-Signature", sig)
	req.Header.Set("I-Twilio-Idempotency-Token", idem)
	req.Header.Set("User-Agent", "TwilioProxy/1.1")
	req.Header.Set("Accept", "*/*")
	return postOnce(ctx, t.client, req, deadline)
}

// InboundMessage is what a customer's phone sends to a sender.
type InboundMessage struct {
	// From is the customer's number, "+E164".
	From string
	// ProfileName is the customer's WhatsApp profile name.
	ProfileName string
	// To is the sender's number, "+E164".
	To   string
	Body string
	// Media are attachments; each is stored by the simulator and exposed as
	// MediaUrlN (Basic auth, redirecting to a short-lived CDN link).
	Media []MediaFile
	// ButtonText and ButtonPayload are a quick-reply tap. When ButtonText
	// matches a button of the last template sent to the customer and
	// ButtonPayload is empty, the button's action id is used, as WhatsApp does.
	ButtonText, ButtonPayload string
	// Latitude, Longitude, Address and Label are a shared location.
	Latitude, Longitude, Address, Label string
	// UserID is the customer's business-scoped user id (BSUID,
	// "IN.2081…") and Username their WhatsApp username. With HideNumber
	// the customer hides their number: From=whatsapp:<UserID>, no WaId;
	// without it the id comes as ExternalUserId beside the number
	// (research/delivery-facts.md). ParentUserID is the "…ENT…" id.
	UserID, ParentUserID, Username string
	HideNumber                     bool
	// QuotedSid is the message a swipe-reply quotes
	// (OriginalRepliedMessageSid and its sender).
	QuotedSid string
	// Referral is the click-to-WhatsApp ad the customer tapped
	// (Referral* parameters).
	Referral *AdReferral
	// MediaGone makes the files' URLs answer 404, as Twilio does for media
	// deleted before Parley downloaded them.
	MediaGone bool
}

// AdReferral is a click-to-WhatsApp ad as the webhook names it.
type AdReferral struct {
	Headline, Body, SourceURL, SourceType, SourceID, MediaURL, CtwaClid string
}

// MediaFile is one attachment of an inbound message.
type MediaFile struct {
	ContentType, Filename string
	Data                  []byte
}

// CustomerSends makes a customer's phone send a message to a sender: the
// simulator builds Twilio's webhook form parameters, signs them with the
// account's auth token and POSTs them to the sender's webhook URL. It
// returns the new message SID, and an error if the webhook could not be
// delivered or answered non-2xx (the SID is returned then too: Twilio keeps
// the message, and the customer's 24-hour window opens regardless).
func (t *Twilio) CustomerSends(ctx context.Context, in InboundMessage) (messageSid string, err error) {
	senderNum, customer := normalizeNumber(in.To), normalizeNumber(in.From)
	if !e164.MatchString(customer) {
		return "", fmt.Errorf("sandbox: customer number %q is not +E164", in.From)
	}
	if in.Body == "" && len(in.Media) == 0 && in.ButtonText == "" && in.Latitude == "" {
		return "", errors.New("sandbox: an inbound message needs a body, media, a button or a location")
	}
	t.mu.Lock()
	sender := t.senders[senderNum]
	var acct *twAccount
	if sender != nil {
		acct = t.accounts[sender.account]
	}
	pub := t.publicURL
	t.mu.Unlock()
	if sender == nil || acct == nil {
		return "", fmt.Errorf("sandbox: %s is not a registered WhatsApp sender", senderNum)
	}
	if len(in.Media) > 0 && pub == "" {
		return "", errors.New("sandbox: set PublicURL before sending media, MediaUrl values are built from it")
	}
	if in.UserID != "" && !bsuidRe.MatchString(in.UserID) {
		return "", fmt.Errorf("sandbox: %q is not a business-scoped user id (CC.digits)", in.UserID)
	}
	if in.HideNumber && in.UserID == "" {
		return "", errors.New("sandbox: a customer who hides their number needs a UserID")
	}

	now := t.now()
	prefix := "SM"
	if len(in.Media) > 0 {
		prefix = "MM"
	}
	m := &twMessage{
		sid:       prefix + randomHex(16),
		account:   acct.sid,
		direction: "inbound",
		from:      "whatsapp:" + customer,
		to:        "whatsapp:" + senderNum,
		sender:    senderNum,
		customer:  customer,
		body:      in.Body,
		status:    "received",
		created:   now,
		updated:   now,
		sentAt:    now,
	}
	p := url.Values{}
	p.Set("MessageSid", m.sid)
	p.Set("SmsMessageSid", m.sid)
	p.Set("SmsSid", m.sid)
	p.Set("AccountSid", acct.sid)
	p.Set("From", m.from)
	p.Set("To", m.to)
	p.Set("Body", in.Body)
	p.Set("NumMedia", strconv.Itoa(len(in.Media)))
	p.Set("NumSegments", "1")
	p.Set("ReferralNumMedia", "0")
	p.Set("SmsStatus", "received")
	p.Set("ApiVersion", apiVersion)
	if in.HideNumber {
		p.Set("From", "whatsapp:"+in.UserID)
		p.Set("ExternalUserId", in.UserID)
	} else {
		p.Set("WaId", strings.TrimPrefix(customer, "+"))
		if in.UserID != "" {
			p.Set("ExternalUserId", "whatsapp:"+in.UserID)
		}
	}
	if in.ParentUserID != "" {
		p.Set("ParentExternalUserId", in.ParentUserID)
	}
	if in.Username != "" {
		p.Set("ProfileUsername", in.Username)
	}
	if in.ProfileName != "" {
		p.Set("ProfileName", in.ProfileName)
	}
	if r := in.Referral; r != nil {
		for k, v := range map[string]string{"ReferralHeadline": r.Headline, "ReferralBody": r.Body, "ReferralSourceUrl": r.SourceURL,
			"ReferralSourceType": r.SourceType, "ReferralSourceId": r.SourceID, "ReferralMediaUrl": r.MediaURL, "ReferralCtwaClid": r.CtwaClid} {
			if v != "" {
				p.Set(k, v)
			}
		}
		if r.MediaURL != "" {
			p.Set("ReferralNumMedia", "1")
		}
	}
	for i, f := range in.Media {
		ct := f.ContentType
		if ct == "" {
			ct = "application/octet-stream"
		}
		md := &twMedia{
			sid: "ME" + randomHex(16), account: acct.sid, message: m.sid,
			contentType: ct, filename: f.Filename, data: append([]byte(nil), f.Data...), created: now,
		}
		m.media = append(m.media, md)
		p.Set(fmt.Sprintf("MediaContentType%d", i), ct)
		p.Set(fmt.Sprintf("MediaUrl%d", i), fmt.Sprintf("%s/api/2010-04-01/Accounts/%s/Messages/%s/Media/%s", pub, acct.sid, m.sid, md.sid))
	}
	k := convKey(senderNum, customer)
	t.mu.Lock()
	if in.UserID != "" {
		t.userIDs[in.UserID] = customer
	}
	if in.QuotedSid != "" {
		if q := t.messages[in.QuotedSid]; q != nil && q.sender == senderNum && q.customer == customer {
			p.Set("OriginalRepliedMessageSid", q.sid)
			p.Set("OriginalRepliedMessageSender", q.from)
		} else {
			t.mu.Unlock()
			return "", fmt.Errorf("sandbox: no message %s in this conversation to quote", in.QuotedSid)
		}
	}
	if in.ButtonText != "" {
		// A tap on a quick-reply button answers the last message that had
		// buttons; Twilio reports it as OriginalRepliedMessageSid.
		for i := len(t.convs[k]) - 1; i >= 0; i-- {
			prev := t.convs[k][i]
			if prev.direction == "inbound" || len(prev.buttons) == 0 {
				continue
			}
			p.Set("OriginalRepliedMessageSid", prev.sid)
			p.Set("OriginalRepliedMessageSender", prev.from)
			if in.ButtonPayload == "" {
				for j, b := range prev.buttons {
					if b == in.ButtonText {
						in.ButtonPayload = prev.buttonIDs[j]
					}
				}
			}
			break
		}
		p.Set("ButtonText", in.ButtonText)
		p.Set("ButtonPayload", in.ButtonPayload)
		if in.Body == "" {
			m.body = in.ButtonText
			p.Set("Body", in.ButtonText)
		}
	}
	p.Set("MessageType", inboundMessageType(in))
	if in.Latitude != "" || in.Longitude != "" {
		p.Set("Latitude", in.Latitude)
		p.Set("Longitude", in.Longitude)
		if in.Address != "" {
			p.Set("Address", in.Address)
		}
		if in.Label != "" {
			p.Set("Label", in.Label)
		}
	}
	t.messages[m.sid] = m
	for _, md := range m.media {
		if !in.MediaGone {
			t.media[md.sid] = md
		}
	}
	t.convs[k] = append(t.convs[k], m)
	t.lastIn[k] = now
	t.mu.Unlock()

	if err := t.deliver(ctx, acct.token, sender.webhook, p); err != nil {
		return m.sid, fmt.Errorf("sandbox: inbound message %s: %w", m.sid, err)
	}
	return m.sid, nil
}

// inboundMessageType is the MessageType webhook parameter. A quick-reply tap
// is "interactive" as in the captured webhook in shared/research/twilio.md
// §1; the media type names follow WhatsApp's message types (UNVERIFIED
// casing for Twilio).
func inboundMessageType(in InboundMessage) string {
	switch {
	case in.ButtonText != "":
		return "interactive"
	case in.Latitude != "":
		return "location"
	case len(in.Media) > 0 && strings.HasPrefix(in.Media[0].ContentType, "text/vcard"):
		return "contacts" // a shared contact (research/delivery-facts.md)
	case len(in.Media) > 0:
		ct := in.Media[0].ContentType
		for _, kind := range []string{"image", "video", "audio"} {
			if strings.HasPrefix(ct, kind+"/") {
				return kind
			}
		}
		return "document"
	}
	return "text"
}
