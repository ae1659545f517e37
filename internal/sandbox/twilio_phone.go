package sandbox

import (
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net/http"
	"sort"
	"strings"
	"time"
)

// PhoneMessage is one message as the customer's phone shows it.
type PhoneMessage struct {
	Sid string `json:"sid"`
	// Direction is "inbound" (customer → business) or "outbound".
	Direction         string   `json:"direction"`
	Body              string   `json:"body"`
	MediaURLs         []string `json:"media_urls"`
	MediaContentTypes []string `json:"media_content_types"`
	// Buttons are the quick-reply buttons of an outbound template.
	Buttons []string `json:"buttons"`
	// Status is the Twilio status: "received" for inbound messages;
	// "queued", "sent", "delivered", "read" or "failed" for outbound ones.
	// Failed messages never reached the phone; they are listed so tests and
	// the phone page can show what the business tried to send.
	Status    string    `json:"status"`
	ErrorCode int       `json:"error_code"`
	At        time.Time `json:"at"`
}

// Conversation returns what the customer's phone shows of its chat with a
// sender, inbound and outbound, oldest first. Template messages show their
// variables substituted and their quick-reply buttons.
func (t *Twilio) Conversation(sender, customer string) []PhoneMessage {
	sender, customer = normalizeNumber(sender), normalizeNumber(customer)
	t.mu.Lock()
	defer t.mu.Unlock()
	msgs := t.convs[convKey(sender, customer)]
	out := make([]PhoneMessage, 0, len(msgs))
	for _, m := range msgs {
		pm := PhoneMessage{
			Sid:               m.sid,
			Direction:         "outbound",
			Body:              m.body,
			MediaURLs:         []string{},
			MediaContentTypes: []string{},
			Buttons:           append([]string{}, m.buttons...),
			Status:            m.status,
			ErrorCode:         m.errorCode,
			At:                m.created,
		}
		if m.direction == "inbound" {
			pm.Direction = "inbound"
		}
		for _, md := range m.media {
			pm.MediaURLs = append(pm.MediaURLs, t.publicURL+"/phone/media/"+md.sid)
			pm.MediaContentTypes = append(pm.MediaContentTypes, md.contentType)
		}
		out = append(out, pm)
	}
	return out
}

// Customers returns the numbers that have a conversation with a sender, sorted.
func (t *Twilio) Customers(sender string) []string {
	sender = normalizeNumber(sender)
	t.mu.Lock()
	defer t.mu.Unlock()
	out := []string{}
	for k, msgs := range t.convs {
		s, c, _ := strings.Cut(k, "|")
		if s == sender && len(msgs) > 0 {
			out = append(out, c)
		}
	}
	sort.Strings(out)
	return out
}

// phoneSend is the body of POST /phone/send.
type phoneSend struct {
	Sender        string `json:"sender"`
	From          string `json:"from"`
	ProfileName   string `json:"profile_name"`
	Body          string `json:"body"`
	ButtonText    string `json:"button_text"`
	ButtonPayload string `json:"button_payload"`
	Latitude      string `json:"latitude"`
	Longitude     string `json:"longitude"`
	Address       string `json:"address"`
	Label         string `json:"label"`
	// A customer known by a business-scoped user id, who may hide their
	// number; a swipe-reply quoting a message; an ad they came from.
	UserID             string `json:"user_id"`
	Username           string `json:"username"`
	HideNumber         bool   `json:"hide_number"`
	QuotedSid          string `json:"quoted_sid"`
	ReferralHeadline   string `json:"referral_headline"`
	ReferralBody       string `json:"referral_body"`
	ReferralSourceURL  string `json:"referral_source_url"`
	ReferralSourceType string `json:"referral_source_type"`
}

// referral is the ad of a phone send, or nil.
func (p phoneSend) referral() *AdReferral {
	r := AdReferral{Headline: p.ReferralHeadline, Body: p.ReferralBody, SourceURL: p.ReferralSourceURL, SourceType: p.ReferralSourceType}
	if r == (AdReferral{}) {
		return nil
	}
	if r.SourceType == "" {
		r.SourceType = "ad"
	}
	return &r
}

// maxPhoneUpload bounds a phone upload; WhatsApp lets customers send files
// up to 100 MB, Parley accepts 25 MB, and the sandbox needs no more.
const maxPhoneUpload = 64 << 20

// servePhone answers the customer-phone routes used by Parley's sandbox
// phone page and by tests.
func (t *Twilio) servePhone(w http.ResponseWriter, r *http.Request, p string) {
	switch {
	case p == "/send":
		if r.Method != http.MethodPost {
			w.Header().Set("Allow", http.MethodPost)
			writePhoneError(w, http.StatusMethodNotAllowed, "use POST")
			return
		}
		t.phoneSend(w, r)
	case p == "/messages" && r.Method == http.MethodGet:
		q := r.URL.Query()
		writeJSON(w, http.StatusOK, t.Conversation(q.Get("sender"), q.Get("customer")))
	case p == "/customers" && r.Method == http.MethodGet:
		writeJSON(w, http.StatusOK, t.Customers(r.URL.Query().Get("sender")))
	case strings.HasPrefix(p, "/media/") && (r.Method == http.MethodGet || r.Method == http.MethodHead):
		t.mu.Lock()
		md := t.media[strings.TrimPrefix(p, "/media/")]
		t.mu.Unlock()
		if md == nil {
			writePhoneError(w, http.StatusNotFound, "no such media")
			return
		}
		serveBytes(w, r, md)
	default:
		writePhoneError(w, http.StatusNotFound, "not found")
	}
}

func (t *Twilio) phoneSend(w http.ResponseWriter, r *http.Request) {
	var req phoneSend
	var files []MediaFile
	ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	switch ct {
	case "application/json":
		if err := json.NewDecoder(io.LimitReader(r.Body, 1<<20)).Decode(&req); err != nil {
			writePhoneError(w, http.StatusBadRequest, "invalid JSON: "+err.Error())
			return
		}
	case "multipart/form-data":
		r.Body = http.MaxBytesReader(w, r.Body, maxPhoneUpload)
		if err := r.ParseMultipartForm(maxPhoneUpload); err != nil {
			writePhoneError(w, http.StatusBadRequest, "invalid upload: "+err.Error())
			return
		}
		for _, fh := range r.MultipartForm.File["file"] {
			f, err := fh.Open()
			if err != nil {
				writePhoneError(w, http.StatusBadRequest, "invalid upload: "+err.Error())
				return
			}
			data, err := io.ReadAll(f)
			f.Close()
			if err != nil {
				writePhoneError(w, http.StatusBadRequest, "invalid upload: "+err.Error())
				return
			}
			ftype := fh.Header.Get("Content-Type")
			if ftype == "" || ftype == "application/octet-stream" {
				ftype = http.DetectContentType(data)
			}
			files = append(files, MediaFile{ContentType: ftype, Filename: fh.Filename, Data: data})
		}
		req = phoneSendFromForm(r)
	default:
		if err := r.ParseForm(); err != nil {
			writePhoneError(w, http.StatusBadRequest, "invalid form: "+err.Error())
			return
		}
		req = phoneSendFromForm(r)
	}
	sid, err := t.CustomerSends(r.Context(), InboundMessage{
		From: req.From, ProfileName: req.ProfileName, To: req.Sender, Body: req.Body, Media: files,
		ButtonText: req.ButtonText, ButtonPayload: req.ButtonPayload,
		Latitude: req.Latitude, Longitude: req.Longitude, Address: req.Address, Label: req.Label,
		UserID: req.UserID, Username: req.Username, HideNumber: req.HideNumber, QuotedSid: req.QuotedSid, Referral: req.referral(),
	})
	switch {
	case errors.Is(err, errWebhookRefused):
		writeJSON(w, http.StatusBadGateway, map[string]string{"sid": sid, "error": err.Error()})
	case err != nil:
		writePhoneError(w, http.StatusBadRequest, err.Error())
	default:
		writeJSON(w, http.StatusOK, map[string]string{"sid": sid})
	}
}

func phoneSendFromForm(r *http.Request) phoneSend {
	f := r.FormValue
	return phoneSend{
		Sender: f("sender"), From: f("from"), ProfileName: f("profile_name"), Body: f("body"),
		ButtonText: f("button_text"), ButtonPayload: f("button_payload"),
		Latitude: f("latitude"), Longitude: f("longitude"), Address: f("address"), Label: f("label"),
		UserID: f("user_id"), Username: f("username"), HideNumber: f("hide_number") == "on" || f("hide_number") == "true",
		QuotedSid: f("quoted_sid"), ReferralHeadline: f("referral_headline"), ReferralBody: f("referral_body"),
		ReferralSourceURL: f("referral_source_url"), ReferralSourceType: f("referral_source_type"),
	}
}

func writePhoneError(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, map[string]string{"error": msg})
}
