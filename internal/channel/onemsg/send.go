package onemsg

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"mime"
	"net"
	"net/http"
	"net/url"
	"path"
	"sort"
	"strconv"
	"strings"
	"time"

	"parley/internal/channel"
)

// Request bodies of the send methods (§2, §4).
type (
	textSend struct {
		Phone string `json:"phone"`
		Body  string `json:"body"`
	}
	fileSend struct {
		Phone    string `json:"phone"`
		Body     string `json:"body"` // the file's URL, which 1msg downloads
		Filename string `json:"filename"`
		Caption  string `json:"caption,omitempty"`
	}
	buttonSend struct {
		Phone    string         `json:"phone"`
		Body     string         `json:"body"`
		Sections []replySection `json:"sections"`
	}
	replySection struct {
		Type  string      `json:"type"` // "reply"
		Reply replyButton `json:"reply"`
	}
	replyButton struct {
		ID    string `json:"id"`
		Title string `json:"title"`
	}
	templateSend struct {
		Template  string         `json:"template"`
		Language  templateLang   `json:"language"`
		Namespace string         `json:"namespace"`
		Params    []templatePart `json:"params"`
		Phone     string         `json:"phone"`
	}
	templateLang struct {
		Policy string `json:"policy"` // "deterministic"
		Code   string `json:"code"`
	}
	// templatePart is a Cloud API component with its parameters.
	templatePart struct {
		Type       string          `json:"type"`               // header, body or button
		SubType    string          `json:"sub_type,omitempty"` // a button's: url, copy_code
		Index      string          `json:"index,omitempty"`    // a button's position, "0"…
		Parameters []templateParam `json:"parameters"`
	}
	// templateParam is one parameter: text, a media link or a coupon code.
	templateParam struct {
		Type       string     `json:"type"` // text, image, document, video, coupon_code
		Text       string     `json:"text,omitempty"`
		Image      *mediaLink `json:"image,omitempty"`
		Document   *mediaLink `json:"document,omitempty"`
		Video      *mediaLink `json:"video,omitempty"`
		CouponCode string     `json:"coupon_code,omitempty"`
	}
	mediaLink struct {
		Link     string `json:"link"`
		Filename string `json:"filename,omitempty"`
	}
)

// Send delivers one message: a template (POST /sendTemplate, any time), a
// text with reply buttons (POST /sendButton), a file with its caption
// (POST /sendFile) or a text (POST /sendMessage); all but templates only
// inside the 24-hour window.
//
// 1msg answers {"sent":true,"id":…}, or {"sent":false,"jobId":…} when it
// queued the message: that is a success without an id yet (the echo and
// acks carry it later), reported as queued with an empty
// ProviderMessageID. Business failures come as HTTP 200 {"sent":false,
// "message":…}. A send whose outcome is unknown (a 5xx, a timeout, a
// connection broken after the request went out, an unreadable answer) is
// Unknown, not retryable: sending again could reach the client twice (§5,
// "never blind-retry a send with unknown outcome"); Lookup tells.
func (c *Client) Send(ctx context.Context, m channel.Outgoing) (channel.SendResult, error) {
	to := strings.TrimSpace(m.To)
	var phone string
	switch {
	case e164Re.MatchString(to):
		phone = to[1:]
	case channel.IsUserID(to):
		// A client known only by their business-scoped user id: 1msg takes
		// it as the phone and routes it (a production integration's note:
		// a "…@lid" chatId is cut to its digits and fails; github.com/ebor94/1msg
		// docs/migraciones/003-bsuid.sql and its destinatario1msg).
		phone = to
	default:
		return channel.SendResult{}, &channel.SendError{Message: channel.Explain("21211", ""), Err: fmt.Errorf("1msg send: recipient %q is not E.164 or a WhatsApp user id", m.To)}
	}
	var method string
	var payload any
	switch {
	case m.TemplateID != "":
		ns, name, lang, ok := parseTemplateID(m.TemplateID)
		if !ok {
			return channel.SendResult{}, &channel.SendError{
				Message: "This template cannot be read (any more): pick the template again",
				Err:     fmt.Errorf("1msg send: template id %q", m.TemplateID),
			}
		}
		params, err := templateParams(m)
		if err != nil {
			return channel.SendResult{}, err
		}
		method = "sendTemplate"
		payload = templateSend{
			Template: name, Language: templateLang{Policy: "deterministic", Code: lang},
			Namespace: ns, Params: params, Phone: phone,
		}
	case len(m.Buttons) > 0:
		p := buttonSend{Phone: phone, Body: m.Body}
		for i, title := range m.Buttons {
			p.Sections = append(p.Sections, replySection{Type: "reply", Reply: replyButton{ID: strconv.Itoa(i + 1), Title: title}})
		}
		method, payload = "sendButton", p
	case m.MediaURL != "":
		method, payload = "sendFile", fileSend{Phone: phone, Body: m.MediaURL, Filename: filenameOf(m), Caption: m.Body}
	default:
		method, payload = "sendMessage", textSend{Phone: phone, Body: m.Body}
	}
	if err := ctx.Err(); err != nil {
		// Nothing went out: trying again later is safe.
		return channel.SendResult{}, &channel.SendError{Message: "1msg could not be reached; the message will be retried", Retryable: true, Err: err}
	}

	status, body, err := c.call(ctx, method, payload)
	if err != nil {
		return channel.SendResult{}, sendNetError(err)
	}
	if status != http.StatusOK {
		return channel.SendResult{}, c.failure(method, status, body, true)
	}
	var ans struct {
		Sent  json.RawMessage `json:"sent"`
		ID    text            `json:"id"`
		JobID text            `json:"jobId"`
	}
	if err := json.Unmarshal(body, &ans); err != nil {
		return channel.SendResult{}, unreadableSend(method, body, err)
	}
	sent, known := flag(ans.Sent)
	switch {
	case sent:
		// Sent without an id would be odd; the echo brings the id then.
		return channel.SendResult{ProviderMessageID: strings.TrimSpace(string(ans.ID)), Status: channel.StatusQueued}, nil
	case strings.TrimSpace(string(ans.JobID)) != "":
		// Queued by 1msg ([AGT] messaging.md): not a failure.
		return channel.SendResult{Status: channel.StatusQueued}, nil
	}
	msg, code := providerError(body)
	msg = c.redact(msg)
	if !known && msg == "" {
		return channel.SendResult{}, unreadableSend(method, body, errors.New("no sent field"))
	}
	return channel.SendResult{}, &channel.SendError{
		Code: code, Message: channel.Explain(code, msg),
		Err: fmt.Errorf("1msg %s: not sent: %s", method, msg),
	}
}

// unknownOutcome ends every message about a send that may have gone out.
const unknownOutcome = "the message may or may not have reached the client. Check the conversation before sending it again"

func unreadableSend(method string, body []byte, err error) *channel.SendError {
	return &channel.SendError{
		Message: "1msg gave an answer Parley could not read: " + unknownOutcome,
		Unknown: true,
		Err:     fmt.Errorf("1msg %s: answer %.200q: %w", method, body, err),
	}
}

// sendNetError classifies a transport failure of a send: retryable only
// when the request surely did not go out (the connection could not be
// made, or the host name did not resolve).
func sendNetError(err error) *channel.SendError {
	var op *net.OpError
	var dns *net.DNSError
	switch {
	case errors.As(err, &op) && op.Op == "dial", errors.As(err, &dns):
		return &channel.SendError{Message: "1msg could not be reached; the message will be retried", Retryable: true, Err: err}
	case isTimeout(err) || errors.Is(err, context.DeadlineExceeded):
		return &channel.SendError{Message: "1msg did not answer in time: " + unknownOutcome, Unknown: true, Err: err}
	}
	return &channel.SendError{Message: "The connection to 1msg broke: " + unknownOutcome, Unknown: true, Err: err}
}

// clockSkew is how far 1msg's clock may be behind Parley's.
const clockSkew = time.Minute

// Lookup lists the chat's messages since since (less clockSkew) with GET
// /messages (chatId, min_time, limit 0 = all of them, [SPEC]) and keeps
// those sent from the business with m's text: the body of a text or a
// filled template, the caption of a file. The list says nothing of
// delivery: the results are queued, the acks tell the rest.
func (c *Client) Lookup(ctx context.Context, m channel.Outgoing, since time.Time) ([]channel.SendResult, error) {
	to := strings.TrimSpace(m.To)
	if !e164Re.MatchString(to) {
		return nil, fmt.Errorf("1msg lookup: recipient %q is not E.164", m.To)
	}
	q := url.Values{"chatId": {to[1:] + "@c.us"}, "min_time": {strconv.FormatInt(since.Add(-clockSkew).Unix(), 10)}, "limit": {"0"}}
	status, body, err := c.call(ctx, "messages?"+q.Encode(), nil)
	if err != nil {
		return nil, err
	}
	if status != http.StatusOK {
		return nil, c.failure("messages", status, body, false)
	}
	var ans struct {
		Messages []struct {
			ID      text            `json:"id"`
			Body    text            `json:"body"`
			Caption text            `json:"caption"`
			FromMe  json.RawMessage `json:"fromMe"`
			Type    text            `json:"type"`
			Time    text            `json:"time"`
		} `json:"messages"`
	}
	if err := json.Unmarshal(body, &ans); err != nil {
		return nil, fmt.Errorf("1msg messages: answer %.200q: %w", body, err)
	}
	type found struct {
		channel.SendResult
		at int64
	}
	var matches []found
	file := m.MediaURL != "" && m.TemplateID == ""
	want := strings.TrimSpace(m.Body)
	if file && want == "" {
		want = filenameOf(m) // 1msg's caption is the file's name when none was given ([SPEC])
	}
	for _, msg := range ans.Messages {
		if fromMe, _ := flag(msg.FromMe); !fromMe {
			continue
		}
		at, err := strconv.ParseInt(strings.TrimSpace(string(msg.Time)), 10, 64)
		if err != nil {
			return nil, fmt.Errorf("1msg messages: message %s: time %q", msg.ID, msg.Time)
		}
		got := strings.TrimSpace(string(msg.Body))
		if file {
			got = strings.TrimSpace(string(msg.Caption))
			if string(msg.Type) == "chat" {
				continue
			}
		}
		if got == want && strings.TrimSpace(string(msg.ID)) != "" {
			matches = append(matches, found{channel.SendResult{ProviderMessageID: strings.TrimSpace(string(msg.ID)), Status: channel.StatusQueued}, at})
		}
	}
	sort.SliceStable(matches, func(i, j int) bool { return matches[i].at < matches[j].at })
	out := make([]channel.SendResult, len(matches))
	for i, f := range matches {
		out[i] = f.SendResult
	}
	return out, nil
}

// templateParams turns a template's values into Cloud API components
// (Meta's "Send template messages"; 1msg passes them on as params): the
// header's media link or its variables ("h1", "h2"…), the body's
// variables ("1", "2"…), each in numeric order, one text parameter per
// variable, then one component per button that takes a value (a link's
// end, "b<index>"; an authentication code, the body's "1"; a coupon code,
// "c<index>"); [] without any.
func templateParams(m channel.Outgoing) ([]templatePart, error) {
	type numbered struct {
		n     int
		value string
	}
	var header, body []numbered
	for k, v := range m.Variables {
		if strings.HasPrefix(k, "b") || strings.HasPrefix(k, "c") {
			continue // a button's, below
		}
		key, isHeader := strings.CutPrefix(k, "h")
		n, err := strconv.Atoi(key)
		if err != nil || n < 1 || key != strconv.Itoa(n) {
			return nil, &channel.SendError{Message: channel.Explain("132000", ""), Err: fmt.Errorf("1msg send: template variable %q", k)}
		}
		if isHeader {
			header = append(header, numbered{n, v})
		} else {
			body = append(body, numbered{n, v})
		}
	}
	params := []templatePart{}
	if md := m.TemplateMedia; md.NeedsFile() {
		if strings.TrimSpace(m.MediaURL) == "" {
			return nil, &channel.SendError{Message: "This template needs its " + md.Kind + ": attach a file or give its link", Err: errors.New("1msg send: template media without a link")}
		}
		link := &mediaLink{Link: m.MediaURL}
		p := templateParam{Type: md.Kind}
		switch md.Kind {
		case channel.MediaImage:
			p.Image = link
		case channel.MediaVideo:
			p.Video = link
		case channel.MediaDocument:
			link.Filename = filenameOf(m)
			p.Document = link
		default:
			return nil, &channel.SendError{Message: "Parley cannot send a template with a " + md.Kind + " header", Err: fmt.Errorf("1msg send: header %q", md.Kind)}
		}
		params = append(params, templatePart{Type: "header", Parameters: []templateParam{p}})
	}
	for _, c := range []struct {
		kind string
		vars []numbered
	}{{"header", header}, {"body", body}} {
		if len(c.vars) == 0 {
			continue
		}
		sort.Slice(c.vars, func(i, j int) bool { return c.vars[i].n < c.vars[j].n })
		part := templatePart{Type: c.kind}
		for _, v := range c.vars {
			part.Parameters = append(part.Parameters, templateParam{Type: "text", Text: v.value})
		}
		params = append(params, part)
	}
	for _, b := range m.TemplateLinks {
		if b.Var == "" {
			continue
		}
		v, ok := m.Variables[b.Var]
		if !ok {
			return nil, &channel.SendError{Message: channel.Explain("132000", ""), Err: fmt.Errorf("1msg send: no value for button %d's {{%s}}", b.Index, b.Var)}
		}
		part := templatePart{Type: "button", Index: strconv.Itoa(b.Index)}
		switch {
		case b.Kind == channel.ButtonCopyCode && b.URL == "":
			part.SubType = "copy_code"
			part.Parameters = []templateParam{{Type: "coupon_code", CouponCode: v}}
		default: // a link's end; an authentication code (its button is a link)
			part.SubType = "url"
			part.Parameters = []templateParam{{Type: "text", Text: v}}
		}
		params = append(params, part)
	}
	return params, nil
}

// filenameOf is the name 1msg gives the file (sendFile requires one): the
// message's, else the last part of the URL's path.
func filenameOf(m channel.Outgoing) string {
	if f := strings.TrimSpace(m.Filename); f != "" {
		return f
	}
	if u, err := url.Parse(m.MediaURL); err == nil {
		if base := path.Base(u.Path); base != "." && base != "/" && base != "" {
			return base
		}
	}
	if exts, _ := mime.ExtensionsByType(m.MediaType); len(exts) > 0 {
		return "file" + exts[0]
	}
	return "file"
}

// FetchMedia downloads an inbound file. 1msg's links are temporary public
// links (no token; an expired one answers an error status); redirects are
// followed, and files over max are refused without keeping them.
func (c *Client) FetchMedia(ctx context.Context, link string, max int64) (channel.Media, error) {
	u, err := url.Parse(link)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return channel.Media{}, fmt.Errorf("fetch media: %q is not an http(s) link", link)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, link, nil)
	if err != nil {
		return channel.Media{}, fmt.Errorf("media request: %w", err)
	}
	resp, err := c.media.Do(req)
	if err != nil {
		return channel.Media{}, fmt.Errorf("fetch media: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		if resp.StatusCode == http.StatusNotFound || resp.StatusCode == http.StatusGone || resp.StatusCode == http.StatusForbidden {
			// 1msg's media links expire: trying again cannot help.
			return channel.Media{}, fmt.Errorf("fetch media: %s: %w", resp.Status, channel.ErrMediaGone)
		}
		return channel.Media{}, fmt.Errorf("fetch media: %s", resp.Status)
	}
	data, err := channel.ReadMedia(resp, max)
	if err != nil {
		return channel.Media{}, err
	}
	// Storage links often serve everything as octet-stream: the stored
	// file's type is settled by the conversation, from the webhook's type,
	// the file's name and its bytes (conversation.fileType).
	return channel.Media{ContentType: resp.Header.Get("Content-Type"), Filename: channel.DispositionFilename(resp.Header), Data: data}, nil
}

// Status reads the acks 1msg holds for the message (GET /hookInfo, Meta's
// status objects) and returns the furthest (a failure counts only before
// delivery); queued when there is none yet.
func (c *Client) Status(ctx context.Context, id string) (channel.Status, error) {
	status, body, err := c.call(ctx, "hookInfo?"+url.Values{"messageId": {id}}.Encode(), nil)
	if err != nil {
		return channel.Status{}, err
	}
	if status != http.StatusOK {
		return channel.Status{}, c.failure("hookInfo", status, body, false)
	}
	var ans struct {
		Hooks []json.RawMessage `json:"hooks"`
	}
	if err := json.Unmarshal(body, &ans); err != nil {
		return channel.Status{}, fmt.Errorf("1msg hookInfo: answer %.200q: %w", body, err)
	}
	best := channel.Status{ProviderMessageID: id, Status: channel.StatusQueued}
	for _, h := range ans.Hooks {
		st, err := parseMetaStatus(h)
		if err != nil {
			return channel.Status{}, fmt.Errorf("1msg hookInfo: %w", err)
		}
		if st.ProviderMessageID == id && ackRank[st.Status] > ackRank[best.Status] {
			best = st
		}
	}
	return best, nil
}

// ackRank orders the acks of one message: a message delivered or read
// after a failed attempt was delivered.
var ackRank = map[string]int{channel.StatusQueued: 0, channel.StatusSent: 1, channel.StatusFailed: 2, channel.StatusDelivered: 3, channel.StatusRead: 4}
