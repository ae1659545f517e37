package twilio

import (
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/twilio/twilio-go/client"

	"parley/internal/channel"
)

// maxMedia bounds how many MediaUrlN a webhook may name.
const maxMedia = 10

// ValidSignature checks X-Twilio-Signature over the public URL Twilio called
// and the posted parameters, with the integration's auth token.
func ValidSignature(authToken, publicURL string, form url.Values, signature string) bool {
	if signature == "" || authToken == "" {
		// An empty key is a key anyone can sign with.
		return false
	}
	params := make(map[string]string, len(form))
	for k, v := range form {
		if len(v) > 0 {
			params[k] = v[0]
		}
	}
	// Twilio signs the URL without its fragment (the connection overrides
	// Parley puts there, #rt=…), which it never sends.
	publicURL, _, _ = strings.Cut(publicURL, "#")
	v := client.NewRequestValidator(authToken)
	return v.Validate(publicURL, params, signature)
}

// Event is what one webhook carries: a client's message or a status.
type Event struct {
	Inbound *channel.Inbound
	Status  *channel.Status
	// Warnings are oddities worth a log line that lose nothing (a NumMedia
	// that names more files than were sent).
	Warnings []string
}

// ErrNotWhatsApp is a webhook for another channel (SMS, voice).
var ErrNotWhatsApp = errors.New("not a WhatsApp message: From must be whatsapp:+<number>")

// ParseWebhook reads an inbound-message webhook or a status callback.
func ParseWebhook(form url.Values, now time.Time) (Event, error) {
	sid := form.Get("MessageSid")
	if sid == "" {
		sid = form.Get("SmsSid")
	}
	if sid == "" {
		return Event{}, errors.New("no MessageSid")
	}
	if st := form.Get("MessageStatus"); st != "" && st != "received" {
		s := &channel.Status{ProviderMessageID: sid, Status: normalizeStatus(st), ErrorCode: form.Get("ErrorCode"), ErrorText: form.Get("ErrorMessage")}
		if s.Status == "" {
			return Event{}, fmt.Errorf("unknown MessageStatus %q", st)
		}
		return Event{Status: s}, nil
	}

	from, ok := strings.CutPrefix(form.Get("From"), "whatsapp:")
	if !ok {
		return Event{}, ErrNotWhatsApp
	}
	in := &channel.Inbound{
		ProviderMessageID: sid,
		ProfileName:       strings.TrimSpace(form.Get("ProfileName")),
		Username:          strings.TrimSpace(cmpOr(form.Get("ProfileUsername"), form.Get("Username"))),
		WaID:              strings.TrimSpace(form.Get("WaId")),
		Body:              form.Get("Body"),
		ButtonText:        form.Get("ButtonText"),
		ButtonPayload:     form.Get("ButtonPayload"),
		QuotedID:          strings.TrimSpace(form.Get("OriginalRepliedMessageSid")),
		At:                now, // Twilio's webhook carries no time: its arrival is the best there is
	}
	// A client who hides their number writes from their business-scoped
	// user id (From=whatsapp:IN.2081…, no WaId); others may carry it as
	// ExternalUserId beside the number (research/delivery-facts.md).
	switch {
	case validE164(from):
		in.From = from
	case channel.IsUserID(from):
		in.UserID = from
	default:
		return Event{}, fmt.Errorf("not a phone number or WhatsApp user id: From %q", form.Get("From"))
	}
	if ext := strings.TrimPrefix(strings.TrimSpace(form.Get("ExternalUserId")), "whatsapp:"); in.UserID == "" && channel.IsUserID(ext) {
		in.UserID = ext
	}
	if to, ok := strings.CutPrefix(form.Get("To"), "whatsapp:"); ok && validE164(to) {
		in.To = to
	}
	if in.Body == "" && in.ButtonText != "" {
		in.Body = in.ButtonText
	}
	if lat, lon := form.Get("Latitude"), form.Get("Longitude"); lat != "" && lon != "" {
		in.Location = &channel.Location{Latitude: lat, Longitude: lon, Address: form.Get("Address"), Label: form.Get("Label")}
	}
	if r := referral(form); r != nil {
		in.Referral = r
	}
	ev := Event{Inbound: in}
	n, counted := 0, true
	if v := form.Get("NumMedia"); v != "" {
		var err error
		if n, err = strconv.Atoi(v); err != nil || n < 0 {
			ev.Warnings = append(ev.Warnings, fmt.Sprintf("NumMedia %q is not a count; reading the MediaUrlN present", v))
			n, counted = maxMedia, false
		}
	}
	for i := range min(n, maxMedia) {
		u := form.Get(fmt.Sprintf("MediaUrl%d", i))
		if u == "" {
			if counted {
				ev.Warnings = append(ev.Warnings, fmt.Sprintf("NumMedia says %d but MediaUrl%d is missing", n, i))
			}
			break
		}
		in.Media = append(in.Media, channel.MediaRef{URL: u, ContentType: form.Get(fmt.Sprintf("MediaContentType%d", i))})
	}
	if in.Body == "" && len(in.Media) == 0 && in.Location == nil && in.Referral == nil {
		ev.Warnings = append(ev.Warnings, "empty message")
	}
	return ev, nil
}

// referral reads a click-to-WhatsApp ad's Referral* parameters (Twilio's
// webhook request page): nil when the message did not come from one.
func referral(form url.Values) *channel.Referral {
	r := channel.Referral{
		Headline:   strings.TrimSpace(form.Get("ReferralHeadline")),
		Body:       strings.TrimSpace(form.Get("ReferralBody")),
		SourceURL:  strings.TrimSpace(form.Get("ReferralSourceUrl")),
		SourceType: strings.TrimSpace(form.Get("ReferralSourceType")),
		SourceID:   strings.TrimSpace(form.Get("ReferralSourceId")),
		MediaURL:   strings.TrimSpace(form.Get("ReferralMediaUrl")),
		CtwaClid:   strings.TrimSpace(form.Get("ReferralCtwaClid")),
	}
	if r == (channel.Referral{}) {
		return nil
	}
	return &r
}

func cmpOr(a, b string) string {
	if strings.TrimSpace(a) != "" {
		return a
	}
	return b
}

// validE164 accepts +<country><number>, 8 to 15 digits.
func validE164(s string) bool {
	if len(s) < 9 || len(s) > 16 || s[0] != '+' || s[1] == '0' {
		return false
	}
	for _, r := range s[1:] {
		if r < '0' || r > '9' {
			return false
		}
	}
	return true
}
