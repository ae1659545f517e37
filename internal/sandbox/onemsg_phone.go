package sandbox

import (
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net/http"
	"strings"
)

// Conversation returns what the customer's phone shows of its chat with an
// instance, inbound and outbound, oldest first. Sid is the message id;
// Status is "received" (or "read" after readMessage) for inbound messages
// and "queued", "sent", "delivered", "read" or "failed" for outbound ones;
// ErrorCode is the Meta error code of a failed one. Template messages show
// their filled body and their quick-reply Buttons; sendButton messages show
// their reply buttons. Media links are the phone page's, without expiry.
func (o *OneMsg) Conversation(instanceID, customer string) []PhoneMessage {
	customer = normalizeNumber(customer)
	o.mu.Lock()
	defer o.mu.Unlock()
	in := o.instances[instanceID]
	if in == nil {
		return []PhoneMessage{}
	}
	msgs := in.convs[customer]
	out := make([]PhoneMessage, 0, len(msgs))
	for _, m := range msgs {
		pm := PhoneMessage{
			Sid:               m.id,
			Direction:         "outbound",
			Body:              m.text,
			MediaURLs:         []string{},
			MediaContentTypes: []string{},
			Buttons:           append([]string{}, m.buttons...),
			Status:            m.status,
			ErrorCode:         m.errCode,
			At:                m.at,
		}
		if m.inbound {
			pm.Direction = "inbound"
		}
		if m.file != nil {
			pm.MediaURLs = append(pm.MediaURLs, o.publicURL+"/phone/media/"+m.file.id)
			pm.MediaContentTypes = append(pm.MediaContentTypes, m.file.contentType)
		}
		out = append(out, pm)
	}
	return out
}

// omPhoneSend is the body of POST /phone/send.
type omPhoneSend struct {
	Instance   string `json:"instance"`
	From       string `json:"from"`
	SenderName string `json:"sender_name"`
	Body       string `json:"body"`
	ButtonText string `json:"button_text"`
	// A customer known by a business-scoped user id, who may hide their
	// number; a swipe-reply; a shared contact; an item of another type.
	UserID     string `json:"user_id"`
	Username   string `json:"username"`
	HideNumber bool   `json:"hide_number"`
	QuotedID   string `json:"quoted_id"`
	VCard      string `json:"vcard"`
	Type       string `json:"type"`
}

// servePhone answers the customer-phone routes used by Parley's sandbox
// phone page and by tests:
//
//	POST /phone/send                         {instance, from, sender_name, body, button_text, user_id,
//	                                         username, hide_number, quoted_id, vcard, type} as JSON,
//	                                         a form, or multipart with an optional "file"
//	                                         → {"id": ..., "sid": ...} (sid: the same id, as the
//	                                         Twilio phone answers); 502 when Parley refused the webhook
//	GET  /phone/messages?instance=&customer= Conversation
//	GET  /phone/customers?instance=          Customers
//	GET  /phone/media/{id}                   a file as the phone shows it
func (o *OneMsg) servePhone(w http.ResponseWriter, r *http.Request, p string) {
	q := r.URL.Query()
	switch {
	case p == "/send":
		if r.Method != http.MethodPost {
			w.Header().Set("Allow", http.MethodPost)
			omError(w, http.StatusMethodNotAllowed, "use POST")
			return
		}
		o.phoneSend(w, r)
	case p == "/messages" && r.Method == http.MethodGet:
		omWriteJSON(w, http.StatusOK, o.Conversation(q.Get("instance"), q.Get("customer")))
	case p == "/customers" && r.Method == http.MethodGet:
		omWriteJSON(w, http.StatusOK, o.Customers(q.Get("instance")))
	case strings.HasPrefix(p, "/media/") && (r.Method == http.MethodGet || r.Method == http.MethodHead):
		o.mu.Lock()
		f := o.files[strings.TrimPrefix(p, "/media/")]
		o.mu.Unlock()
		if f == nil {
			omError(w, http.StatusNotFound, "no such media")
			return
		}
		serveOmFile(w, r, f)
	default:
		omError(w, http.StatusNotFound, "not found")
	}
}

func (o *OneMsg) phoneSend(w http.ResponseWriter, r *http.Request) {
	var req omPhoneSend
	var file *MediaFile
	ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	switch ct {
	case "application/json":
		if err := json.NewDecoder(io.LimitReader(r.Body, 1<<20)).Decode(&req); err != nil {
			omError(w, http.StatusBadRequest, "invalid JSON: "+err.Error())
			return
		}
	case "multipart/form-data":
		r.Body = http.MaxBytesReader(w, r.Body, maxPhoneUpload)
		if err := r.ParseMultipartForm(maxPhoneUpload); err != nil {
			omError(w, http.StatusBadRequest, "invalid upload: "+err.Error())
			return
		}
		if fhs := r.MultipartForm.File["file"]; len(fhs) > 0 {
			f, err := fhs[0].Open()
			if err != nil {
				omError(w, http.StatusBadRequest, "invalid upload: "+err.Error())
				return
			}
			data, err := io.ReadAll(f)
			f.Close()
			if err != nil {
				omError(w, http.StatusBadRequest, "invalid upload: "+err.Error())
				return
			}
			ftype := fhs[0].Header.Get("Content-Type")
			if ftype == "" || ftype == "application/octet-stream" {
				ftype = http.DetectContentType(data)
			}
			file = &MediaFile{ContentType: ftype, Filename: fhs[0].Filename, Data: data}
		}
		req = omPhoneSendFromForm(r)
	default:
		if err := r.ParseForm(); err != nil {
			omError(w, http.StatusBadRequest, "invalid form: "+err.Error())
			return
		}
		req = omPhoneSendFromForm(r)
	}
	id, err := o.CustomerSends(r.Context(), OneMsgInbound{
		InstanceID: req.Instance, From: req.From, SenderName: req.SenderName,
		Body: req.Body, Media: file, ButtonText: req.ButtonText,
		UserID: req.UserID, Username: req.Username, HideNumber: req.HideNumber, QuotedID: req.QuotedID, VCard: req.VCard, Type: req.Type,
	})
	switch {
	case errors.Is(err, errWebhookRefused):
		omWriteJSON(w, http.StatusBadGateway, map[string]string{"id": id, "sid": id, "error": err.Error()})
	case err != nil:
		omError(w, http.StatusBadRequest, err.Error())
	default:
		omWriteJSON(w, http.StatusOK, map[string]string{"id": id, "sid": id})
	}
}

func omPhoneSendFromForm(r *http.Request) omPhoneSend {
	f := r.FormValue
	return omPhoneSend{
		Instance: f("instance"), From: f("from"), SenderName: f("sender_name"),
		Body: f("body"), ButtonText: f("button_text"),
		UserID: f("user_id"), Username: f("username"), HideNumber: f("hide_number") == "on" || f("hide_number") == "true",
		QuotedID: f("quoted_id"), VCard: f("vcard"), Type: f("type"),
	}
}
