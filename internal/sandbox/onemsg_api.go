package sandbox

import (
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"path"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// Answers of the 1msg API. Sources are the keys of shared/research/onemsg.md:
// [SPEC] swagger.waba.json 2.39.0 (testdata/1msg_waba.openapi.json),
// [SDK2] github.com/1msg/1msg-sdk, [N8N] github.com/1msg/1msg-n8n-nodes,
// [AGT] github.com/1msg/1msg-for-agents, [PROD] github.com/ebor94/1msg
// (captured production webhooks). UNVERIFIED marks the simulator's guesses.
const (
	// omSentDescription goes with every accepted send ([SPEC] SendMessageStatus example).
	omSentDescription = "Message has been sent to the provider"
	// omEmptyBody: [N8N] test fixture {"sent":false,"message":"empty body"}.
	omEmptyBody = "empty body"
	// omWindowClosed: the text 1msg gives for a free-form send outside the
	// 24-hour window ([N8N] test fixture and humanizeMessage). [N8N]'s
	// fixture wraps it in an HTTP 400 error; the simulator answers HTTP 200
	// sent:false as 1msg does for its other business failures ([N8N]
	// errors.ts assertSendSucceeded). Which of the two real 1msg uses for
	// this case is UNVERIFIED.
	omWindowClosed = "Dialog window is closed"
	// omTemplateNotDefined: HTTP 400 {"message":"template is not defined"}
	// when the name, language or namespace is missing or matches no
	// template ([N8N] test fixture '400 - {"message":"template is not defined"}').
	omTemplateNotDefined = "template is not defined"
	// omUnsupportedInteractive: [SDK2] "Unsupported Interactive Message
	// type" (HTTP 200 with sent: false), used for buttons that are not
	// reply buttons.
	omUnsupportedInteractive = "Unsupported Interactive Message type"

	// The remaining sent:false texts are UNVERIFIED: no source quotes them.
	omNoRecipient     = "phone or chatId is required"
	omBadPhone        = "Wrong phone number"
	omBadChatID       = "Wrong chatId"
	omGroupChat       = "Group chats are not supported on this channel"
	omNoFilename      = "empty filename"
	omBadFileBody     = "Wrong file: body must be an http(s) URL or a data URI"
	omDownloadFailed  = "Failed to download the file"
	omFileTooLarge    = "File is too large. Maximum file size is 16 MB"
	omNoButtons       = "buttons are required"
	omTooManyButtons  = "Maximum 3 buttons are allowed"
	omButtonTitleLong = "Button title must be at most 20 characters"
	omTooManyHooks    = "Maximum 5 webhook URLs are allowed"
	omBadHookURL      = "Wrong webhook URL"
)

// Meta error codes and texts carried by failed acks. [PROD]: a failed ack
// carries the text only ("error"), no code. The "(#code) message" form is
// the Graph API's error.message (research §6). The codes and their meaning
// are Meta's (research §5: 132000 param count mismatch, 132001 template
// does not exist in the language or is not approved, 132015 paused, 132016
// disabled); 131008 "Required parameter is missing" is Meta's code for an
// empty parameter, from memory, not in the research. The message texts are
// Graph API texts from memory (the 132000 one is the brief's example), and
// that 1msg relays them verbatim is UNVERIFIED.
const (
	omCodeParamCount     = 132000
	omCodeParamMissing   = 131008
	omCodeTemplateAbsent = 132001
	omCodeTemplatePaused = 132015
	omCodeTemplateOff    = 132016
	// omCodeParamFormat: 132012 "Parameter format does not match format in
	// the created template" (research §5); omCodeMediaUpload: 131053
	// "Media upload error", Meta's code for media it could not download
	// (from memory of Meta's error codes page).
	omCodeParamFormat = 132012
	omCodeMediaUpload = 131053
)

var omMetaErrors = map[int]string{
	omCodeParamCount:     "(#132000) Number of parameters does not match the expected number of params",
	omCodeParamMissing:   "(#131008) Required parameter is missing",
	omCodeTemplateAbsent: "(#132001) Template name does not exist in the translation",
	omCodeTemplatePaused: "(#132015) Template is Paused",
	omCodeTemplateOff:    "(#132016) Template is Disabled",
	omCodeParamFormat:    "(#132012) Parameter format does not match format in the created template",
	omCodeMediaUpload:    "(#131053) Media upload error",
}

// serveAPI answers /{instanceId}/{method}?token=...
func (o *OneMsg) serveAPI(w http.ResponseWriter, r *http.Request, id, method string) {
	o.mu.Lock()
	in := o.instances[id]
	var token string
	if in != nil {
		token = in.token
	}
	o.mu.Unlock()
	if in == nil {
		// UNVERIFIED: no source shows 1msg's answer for an unknown channel.
		omError(w, http.StatusNotFound, fmt.Sprintf("Channel %q not found", id))
		return
	}
	given := r.URL.Query().Get("token")
	if subtle.ConstantTimeCompare([]byte(given), []byte(token)) != 1 {
		// Verbatim shape from [SPEC] (Unauthorized response example).
		omError(w, http.StatusUnauthorized, `Wrong token "`+given+`" for channel "`+id+`". Please provide token as a GET parameter.`)
		return
	}
	switch r.Method + " " + method {
	case "GET status":
		omWriteJSON(w, http.StatusOK, map[string]string{"status": "connected"})
	case "GET me":
		o.mu.Lock()
		out := make(map[string]string, len(in.profile))
		for k, v := range in.profile {
			out[k] = v
		}
		o.mu.Unlock()
		omWriteJSON(w, http.StatusOK, out)
	case "POST me":
		o.setMe(w, r, in)
	case "GET webhook":
		omWriteJSON(w, http.StatusOK, map[string]any{"webhookUrl": o.Webhooks(id)})
	case "POST webhook":
		o.setWebhook(w, r, in)
	case "GET settings":
		omWriteJSON(w, http.StatusOK, o.settingsJSON(in))
	case "POST settings":
		o.setSettings(w, r, in)
	case "GET templates":
		omWriteJSON(w, http.StatusOK, o.templatesJSON(in))
	case "GET messages":
		o.listMessages(w, r, in)
	case "GET hookInfo":
		o.hookInfo(w, r, in)
	case "POST sendMessage":
		o.sendMessage(w, r, in)
	case "POST sendFile":
		o.sendFile(w, r, in)
	case "POST sendButton":
		o.sendButton(w, r, in)
	case "POST sendTemplate":
		o.sendTemplate(w, r, in)
	case "POST readMessage":
		o.readMessage(w, r, in)
	default:
		// 404 for an unknown method path ([N8N] errors.ts); wording UNVERIFIED.
		omError(w, http.StatusNotFound, fmt.Sprintf("Method %s /%s not found", r.Method, method))
	}
}

// omMaxBody bounds a request body: room for a 16 MB file as a base64 data URI.
const omMaxBody = 32 << 20

// readOneMsgBody decodes a POST body: JSON, form-urlencoded ([SPEC] accepts
// both; [PROD] sends forms) or multipart ([SPEC] sendFile "File in
// form-data input field"). JSON numbers stay json.Number so a phone sent as
// a number keeps its digits. A multipart file in the "body" field is returned
// as upload.
func readOneMsgBody(w http.ResponseWriter, r *http.Request) (body map[string]any, upload *omFile, err error) {
	ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	switch ct {
	case "application/x-www-form-urlencoded":
		r.Body = http.MaxBytesReader(w, r.Body, omMaxBody)
		if err := r.ParseForm(); err != nil {
			return nil, nil, err
		}
		return formToMap(r.PostForm), nil, nil
	case "multipart/form-data":
		r.Body = http.MaxBytesReader(w, r.Body, omMaxBody)
		if err := r.ParseMultipartForm(omMaxBody); err != nil {
			return nil, nil, err
		}
		body = formToMap(r.MultipartForm.Value)
		if fhs := r.MultipartForm.File["body"]; len(fhs) > 0 {
			f, err := fhs[0].Open()
			if err != nil {
				return nil, nil, err
			}
			data, err := io.ReadAll(f)
			f.Close()
			if err != nil {
				return nil, nil, err
			}
			upload = &omFile{id: randomHex(12), contentType: fhs[0].Header.Get("Content-Type"), filename: fhs[0].Filename, data: data}
		}
		return body, upload, nil
	default:
		raw, err := io.ReadAll(http.MaxBytesReader(w, r.Body, omMaxBody))
		if err != nil {
			return nil, nil, err
		}
		body = map[string]any{}
		if strings.TrimSpace(string(raw)) == "" {
			return body, nil, nil
		}
		dec := json.NewDecoder(strings.NewReader(string(raw)))
		dec.UseNumber()
		if err := dec.Decode(&body); err != nil {
			return nil, nil, err
		}
		if body == nil {
			return nil, nil, errors.New("the body is not a JSON object")
		}
		return body, nil, nil
	}
}

func formToMap(v url.Values) map[string]any {
	out := make(map[string]any, len(v))
	for k, vs := range v {
		if len(vs) == 1 {
			out[k] = vs[0]
			continue
		}
		list := make([]any, len(vs))
		for i, s := range vs {
			list[i] = s
		}
		out[k] = list
	}
	return out
}

// omString reads a scalar field; numbers (a phone sent as a JSON number,
// [SDK2] examples) keep their digits.
func omString(v any) string {
	switch v := v.(type) {
	case string:
		return v
	case json.Number:
		return v.String()
	case float64:
		return strconv.FormatFloat(v, 'f', -1, 64)
	case bool:
		return strconv.FormatBool(v)
	}
	return ""
}

// jsonish decodes a form field that carries JSON ("params", "language",
// "sections" sent form-urlencoded); other values pass through.
func jsonish(v any) any {
	s, ok := v.(string)
	if !ok {
		return v
	}
	t := strings.TrimSpace(s)
	if !strings.HasPrefix(t, "[") && !strings.HasPrefix(t, "{") {
		return v
	}
	var out any
	dec := json.NewDecoder(strings.NewReader(t))
	dec.UseNumber()
	if err := dec.Decode(&out); err != nil {
		return v
	}
	return out
}

func badBody(w http.ResponseWriter, err error) {
	// UNVERIFIED wording; [SDK2] documents 400 for invalid parameters.
	omError(w, http.StatusBadRequest, "Invalid request body: "+err.Error())
}

func sentFalse(w http.ResponseWriter, msg string) {
	omWriteJSON(w, http.StatusOK, map[string]any{"sent": false, "message": msg})
}

// recipient is omRecipient, with a phone that is the business-scoped user
// id of a customer who hides their number taken as that customer (1msg
// routes it; a "<id>@lid" chatId is cut to digits and fails, per a
// production integration's notes: github.com/ebor94/1msg
// docs/migraciones/003-bsuid.sql and its destinatario1msg).
func (o *OneMsg) recipient(in *omInstance, body map[string]any) (customer, failure string) {
	if phone := strings.TrimSpace(omString(body["phone"])); bsuidRe.MatchString(phone) && strings.TrimSpace(omString(body["chatId"])) == "" {
		o.mu.Lock()
		customer, ok := in.userIDs[phone]
		o.mu.Unlock()
		if !ok {
			return "", omBadPhone
		}
		return customer, ""
	}
	return omRecipient(body)
}

// omRecipient resolves chatId ("12020721369@c.us") or phone (digits, as a
// string or a number) to the customer's "+E164". A non-empty failure is the
// sent:false message.
func omRecipient(body map[string]any) (customer, failure string) {
	chatID := strings.TrimSpace(omString(body["chatId"]))
	phone := strings.TrimSpace(omString(body["phone"]))
	switch {
	case chatID != "":
		if strings.HasSuffix(chatID, "@g.us") {
			return "", omGroupChat
		}
		d, ok := strings.CutSuffix(chatID, "@c.us")
		if !ok || !omDigits.MatchString(d) {
			return "", omBadChatID
		}
		return "+" + d, ""
	case phone != "":
		d := strings.TrimPrefix(phone, "+")
		if !omDigits.MatchString(d) {
			return "", omBadPhone
		}
		return "+" + d, ""
	}
	return "", omNoRecipient
}

// windowOpen reports whether the customer wrote in the last 24 hours; only
// inbound customer messages open or extend the window ([AGT] messaging.md).
func (o *OneMsg) windowOpen(in *omInstance, customer string) bool {
	o.mu.Lock()
	defer o.mu.Unlock()
	last := in.lastIn[customer]
	return !last.IsZero() && o.now().Sub(last) <= omWindow
}

// omTrialRefusal is 1msg's answer to a trial channel sending to another
// number than its own. 1msg answers trial and subscriptionBlocked
// channels 403 in plain text (research/onemsg.md §5); a trial channel
// "allows you only to explore 1msg and send messages exclusively to your
// own number" (the article). The wording is UNVERIFIED.
const omTrialRefusal = "subscriptionBlocked: trial channel, messages can be sent only to the channel's own number"

// trialRefuses answers 403 for a trial channel's message to anyone but
// its own number.
func (o *OneMsg) trialRefuses(w http.ResponseWriter, in *omInstance, customer string) bool {
	o.mu.Lock()
	refuse := in.trial && customer != in.phone
	o.mu.Unlock()
	if refuse {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.WriteHeader(http.StatusForbidden)
		_, _ = io.WriteString(w, omTrialRefusal)
	}
	return refuse
}

// omWindow is WhatsApp's customer service window.
const omWindow = 24 * time.Hour

// sendMessage is POST /sendMessage {body, chatId|phone, quotedMsgId?}.
func (o *OneMsg) sendMessage(w http.ResponseWriter, r *http.Request, in *omInstance) {
	body, _, err := readOneMsgBody(w, r)
	if err != nil {
		badBody(w, err)
		return
	}
	text := omString(body["body"])
	if strings.TrimSpace(text) == "" {
		sentFalse(w, omEmptyBody)
		return
	}
	customer, fail := o.recipient(in, body)
	if fail != "" {
		sentFalse(w, fail)
		return
	}
	if o.trialRefuses(w, in, customer) {
		return
	}
	if !o.windowOpen(in, customer) {
		sentFalse(w, omWindowClosed)
		return
	}
	if fail := oneMsgTextRefusal(text); fail != "" {
		sentFalse(w, fail)
		return
	}
	m := &omMessage{kind: "chat", text: text, quoted: omString(body["quotedMsgId"])}
	o.accept(w, r, in, "sendMessage", body, customer, m, 0)
}

// sendFile is POST /sendFile {body: URL | data URI | multipart file,
// filename, caption?, chatId|phone}.
func (o *OneMsg) sendFile(w http.ResponseWriter, r *http.Request, in *omInstance) {
	body, upload, err := readOneMsgBody(w, r)
	if err != nil {
		badBody(w, err)
		return
	}
	src := strings.TrimSpace(omString(body["body"]))
	if src == "" && upload == nil {
		sentFalse(w, omEmptyBody)
		return
	}
	filename := omString(body["filename"])
	if filename == "" && upload != nil {
		filename = upload.filename
	}
	if strings.TrimSpace(filename) == "" {
		sentFalse(w, omNoFilename)
		return
	}
	customer, fail := o.recipient(in, body)
	if fail != "" {
		sentFalse(w, fail)
		return
	}
	if o.trialRefuses(w, in, customer) {
		return
	}
	if !o.windowOpen(in, customer) {
		sentFalse(w, omWindowClosed)
		return
	}
	f, fail := o.loadFile(r, src, filename, upload)
	if fail != "" {
		sentFalse(w, fail)
		return
	}
	if fail := oneMsgMediaRefusal(f.data, omString(body["caption"])); fail != "" {
		sentFalse(w, fail)
		return
	}
	m := &omMessage{kind: mediaKind(f.contentType), text: omString(body["caption"]), file: f, quoted: omString(body["quotedMsgId"])}
	o.accept(w, r, in, "sendFile", body, customer, m, 0)
}

// sendButton is POST /sendButton {body, footer?, sections: [{type:"reply",
// reply:{id,title}}], chatId|phone} ([SDK2]); "buttons" with titles or
// {id,title} objects is accepted too. WhatsApp allows 1–3 reply buttons
// with titles of at most 20 characters (research §4).
func (o *OneMsg) sendButton(w http.ResponseWriter, r *http.Request, in *omInstance) {
	body, _, err := readOneMsgBody(w, r)
	if err != nil {
		badBody(w, err)
		return
	}
	text := omString(body["body"])
	if strings.TrimSpace(text) == "" {
		sentFalse(w, omEmptyBody)
		return
	}
	titles, fail := buttonTitles(body)
	if fail != "" {
		sentFalse(w, fail)
		return
	}
	customer, fail := o.recipient(in, body)
	if fail != "" {
		sentFalse(w, fail)
		return
	}
	if o.trialRefuses(w, in, customer) {
		return
	}
	if !o.windowOpen(in, customer) {
		sentFalse(w, omWindowClosed)
		return
	}
	if fail := oneMsgButtonTextRefusal(text); fail != "" {
		sentFalse(w, fail)
		return
	}
	m := &omMessage{kind: "interactive", text: text, buttons: titles, quoted: omString(body["quotedMsgId"])}
	o.accept(w, r, in, "sendButton", body, customer, m, 0)
}

func buttonTitles(body map[string]any) ([]string, string) {
	raw := jsonish(body["sections"])
	if raw == nil {
		raw = jsonish(body["buttons"])
	}
	var items []any
	switch v := raw.(type) {
	case []any:
		items = v
	case string:
		for s := range strings.SplitSeq(v, ",") {
			if s = strings.TrimSpace(s); s != "" {
				items = append(items, s)
			}
		}
	}
	var titles []string
	for _, it := range items {
		title := ""
		switch it := it.(type) {
		case string:
			title = it
		case map[string]any:
			typ := omString(it["type"])
			if typ != "" && typ != "reply" {
				return nil, omUnsupportedInteractive
			}
			if reply, ok := it["reply"].(map[string]any); ok {
				title = omString(reply["title"])
			} else {
				title = omString(it["title"])
			}
		default:
			return nil, omUnsupportedInteractive
		}
		if strings.TrimSpace(title) == "" {
			return nil, omNoButtons
		}
		if utf8.RuneCountInString(title) > 20 {
			return nil, omButtonTitleLong
		}
		titles = append(titles, title)
	}
	switch {
	case len(titles) == 0:
		return nil, omNoButtons
	case len(titles) > 3:
		return nil, omTooManyButtons
	}
	return titles, ""
}

// sendTemplate is POST /sendTemplate {template, language:{policy,code},
// namespace, params:[Cloud API components], chatId|phone} ([SPEC]). It
// works outside the 24-hour window. Unknown name, language or namespace is
// a synchronous 400; everything Meta checks (approval, parameter count,
// empty parameters) is accepted and then reported by a failed ack.
func (o *OneMsg) sendTemplate(w http.ResponseWriter, r *http.Request, in *omInstance) {
	body, _, err := readOneMsgBody(w, r)
	if err != nil {
		badBody(w, err)
		return
	}
	name := strings.TrimSpace(omString(body["template"]))
	ns := strings.TrimSpace(omString(body["namespace"]))
	lang := languageCode(body)
	tpl, ok := o.findTemplate(in, name, lang, ns)
	if !ok {
		omWriteJSON(w, http.StatusBadRequest, map[string]string{"message": omTemplateNotDefined})
		return
	}
	customer, fail := o.recipient(in, body)
	if fail != "" {
		sentFalse(w, fail)
		return
	}
	if o.trialRefuses(w, in, customer) {
		return
	}
	text, code, link := renderOneMsgTemplate(tpl, jsonish(body["params"]))
	var file *omFile
	if code == 0 && link != "" {
		// WhatsApp downloads a media header's link when it sends; one it
		// cannot download fails the message (131053).
		f, fail := o.loadFile(r, link, path.Base(link), nil)
		want := strings.ToLower(tpl.HeaderFormat)
		if fail != "" || (want != "document" && mediaKind(f.contentType) != want) {
			code = omCodeMediaUpload
		} else {
			file = f
		}
	}
	if code == 0 {
		switch strings.ToLower(tpl.Status) {
		case "approved":
		case "paused":
			code = omCodeTemplatePaused
		case "disabled":
			code = omCodeTemplateOff
		default: // pending, rejected...: Meta knows no approved translation
			code = omCodeTemplateAbsent
		}
	}
	m := &omMessage{kind: "chat", text: text, buttons: append([]string{}, tpl.QuickReplies...)}
	if file != nil {
		m.kind, m.file = mediaKind(file.contentType), file
	}
	o.accept(w, r, in, "sendTemplate", body, customer, m, code)
}

// languageCode reads language as {"policy","code"} ([SPEC]), a JSON string
// of it (form bodies), "language[code]" (PHP-style forms) or a bare code.
func languageCode(body map[string]any) string {
	if c := omString(body["language[code]"]); c != "" {
		return c
	}
	switch v := jsonish(body["language"]).(type) {
	case map[string]any:
		return strings.TrimSpace(omString(v["code"]))
	default:
		return strings.TrimSpace(omString(v))
	}
}

func (o *OneMsg) findTemplate(in *omInstance, name, lang, ns string) (OneMsgTemplate, bool) {
	if name == "" || lang == "" || ns == "" {
		return OneMsgTemplate{}, false
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	for _, t := range in.templates {
		if t.tpl.Name != name || t.tpl.Language != lang {
			continue
		}
		if t.tpl.Namespace != "" {
			return t.tpl, t.tpl.Namespace == ns
		}
		// Listed without a namespace: the WABA's namespace, which its
		// siblings list, is the one that works.
		if ns == in.namespace {
			return t.tpl, true
		}
		for _, s := range in.templates {
			if s.tpl.Namespace == ns {
				return t.tpl, true
			}
		}
		return OneMsgTemplate{}, false
	}
	return OneMsgTemplate{}, false
}

var omPlaceholder = regexp.MustCompile(`\{\{\s*(\d+)\s*\}\}`)

// placeholders returns a text's distinct {{n}} numbers in numeric order.
func placeholders(text string) []int {
	seen := map[int]bool{}
	var out []int
	for _, m := range omPlaceholder.FindAllStringSubmatch(text, -1) {
		n, _ := strconv.Atoi(m[1])
		if !seen[n] {
			seen[n] = true
			out = append(out, n)
		}
	}
	sort.Ints(out)
	return out
}

// renderOneMsgTemplate fills the template's body with the body component's
// parameters: one per distinct {{n}}, in numeric order ([N8N]
// templates.ts). It returns a Meta error code when the parameters do not
// fit: 132000 when a header or body has a different number of parameters
// than placeholders ([SPEC] "The number of parameters passed must match"),
// or a button that takes a value (a link ending with {{1}}, an
// authentication code, a coupon code) has no button component with one
// parameter at its index; 132012 when a media header's parameter is not of
// the header's format with a link; 131008 when a text parameter is empty.
// link is the media header's link, to fetch.
func renderOneMsgTemplate(t OneMsgTemplate, params any) (text string, code int, link string) {
	var headerParams, bodyParams []any
	buttonParams := map[string][]any{} // by index, "0"…
	list, _ := params.([]any)
	if params != nil && list == nil {
		return t.Body, omCodeParamCount, ""
	}
	for _, c := range list {
		comp, ok := c.(map[string]any)
		if !ok {
			// "Never a list of strings" (docs.rs one-msg-sdk SendTemplateRequest).
			return t.Body, omCodeParamCount, ""
		}
		ps, _ := jsonish(comp["parameters"]).([]any)
		switch strings.ToLower(omString(comp["type"])) {
		case "header":
			headerParams = ps
		case "body":
			bodyParams = ps
		case "button":
			buttonParams[omString(comp["index"])] = ps
		}
		for _, p := range ps {
			pm, ok := p.(map[string]any)
			if !ok {
				return t.Body, omCodeParamCount, ""
			}
			if omString(pm["type"]) == "text" && strings.TrimSpace(omString(pm["text"])) == "" {
				return t.Body, omCodeParamMissing, ""
			}
		}
	}
	bodyVars := placeholders(t.Body)
	if len(bodyParams) != len(bodyVars) {
		return t.Body, omCodeParamCount, ""
	}
	switch format := strings.ToLower(t.HeaderFormat); format {
	case "":
		if len(headerParams) != len(placeholders(t.Header)) {
			return t.Body, omCodeParamCount, ""
		}
	case "image", "document", "video", "location":
		// A media header's media is given at send time, always.
		if len(headerParams) != 1 {
			return t.Body, omCodeParamCount, ""
		}
		pm, _ := headerParams[0].(map[string]any)
		media, _ := jsonish(pm[format]).(map[string]any)
		if omString(pm["type"]) != format || media == nil {
			return t.Body, omCodeParamFormat, ""
		}
		if format != "location" {
			link = strings.TrimSpace(omString(media["link"]))
			if !strings.HasPrefix(link, "https://") && !strings.HasPrefix(link, "http://") {
				return t.Body, omCodeParamFormat, ""
			}
		}
	}
	index := len(t.QuickReplies)
	for _, b := range t.Buttons {
		needs := (b.Type == "URL" && omPlaceholder.MatchString(b.URL)) || b.Type == "OTP" || b.Type == "COPY_CODE"
		ps, given := buttonParams[strconv.Itoa(index)]
		index++
		if needs && (!given || len(ps) != 1) {
			return t.Body, omCodeParamCount, ""
		}
	}
	values := map[int]string{}
	for i, n := range bodyVars {
		values[n] = paramText(bodyParams[i])
	}
	text = omPlaceholder.ReplaceAllStringFunc(t.Body, func(ph string) string {
		n, _ := strconv.Atoi(omPlaceholder.FindStringSubmatch(ph)[1])
		return values[n]
	})
	return text, 0, link
}

// paramText is what a parameter shows: text, or the fallback_value of a
// currency or date_time parameter.
func paramText(p any) string {
	pm, _ := p.(map[string]any)
	switch omString(pm["type"]) {
	case "currency", "date_time":
		obj, _ := pm[omString(pm["type"])].(map[string]any)
		return omString(obj["fallback_value"])
	}
	return omString(pm["text"])
}

// accept records an accepted send, answers sent:true and walks the message
// through its echo and acks in the background. failCode is the Meta error
// the message will fail with, or 0.
func (o *OneMsg) accept(w http.ResponseWriter, r *http.Request, in *omInstance, method string, body map[string]any, customer string, m *omMessage, failCode int) {
	base := o.baseURL(r)
	digits := strings.TrimPrefix(customer, "+")
	o.mu.Lock()
	now := o.now()
	m.id = newWamid(digits, 0x11)
	m.customer, m.self, m.status, m.at = customer, 1, "queued", now
	if m.file != nil {
		o.files[m.file.id] = m.file
		m.link = o.newLinkLocked(base, m.file, now)
	}
	in.convs[customer] = append(in.convs[customer], m)
	in.sent = append(in.sent, OneMsgSent{Method: method, Body: body, At: now})
	o.inflight++
	o.mu.Unlock()

	answer := map[string]any{
		"sent":        true,
		"id":          m.id,
		"message":     "Sent to " + digits + "@c.us",
		"description": omSentDescription,
	}
	f := o.currentFaults()
	if ok, err := json.Marshal(answer); err != nil || !loseAnswer(w, r, f.LostAnswerRate, f.LostAnswers, http.StatusOK, ok, omError) {
		omWriteJSON(w, http.StatusOK, answer)
	}
	go func() {
		defer func() {
			o.mu.Lock()
			o.inflight--
			if o.inflight == 0 {
				o.idle.Broadcast()
			}
			o.mu.Unlock()
		}()
		o.process(in, m, failCode)
	}()
}

// listMessages is GET /messages ([SPEC]): the channel's messages, numbered
// in the order they came (messageNumber), filtered by chatId, min_time,
// max_time (unix seconds, inclusive) and msgId; limit (default 100, 0 =
// all) counts from the first message after lastMessageNumber, or from the
// end with last=true.
func (o *OneMsg) listMessages(w http.ResponseWriter, r *http.Request, in *omInstance) {
	q := r.URL.Query()
	ints := map[string]int64{"limit": 100, "lastMessageNumber": 0, "min_time": 0, "max_time": 0}
	for k := range ints {
		if v := q.Get(k); v != "" {
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil || n < 0 {
				omError(w, http.StatusBadRequest, fmt.Sprintf("Wrong %s: %q", k, v))
				return
			}
			ints[k] = n
		}
	}
	chatID, msgID, last := q.Get("chatId"), q.Get("msgId"), q.Get("last") == "true" || q.Get("last") == "1"
	o.mu.Lock()
	var all []*omMessage
	for _, conv := range in.convs {
		all = append(all, conv...)
	}
	slices.SortStableFunc(all, func(a, b *omMessage) int { return a.at.Compare(b.at) })
	out := []any{}
	for i, m := range all {
		n := int64(i + 1)
		switch {
		case chatID != "" && chatIDOf(m.customer) != chatID,
			msgID != "" && m.id != msgID,
			ints["min_time"] > 0 && m.at.Unix() < ints["min_time"],
			ints["max_time"] > 0 && m.at.Unix() > ints["max_time"],
			!last && n <= ints["lastMessageNumber"]:
			continue
		}
		msg := o.messageJSON(in, m)
		// The list's schema differs from the webhooks' captures ([SPEC]
		// GetMessages): isForwarded is 0 or 1, quotedMsgId a string or absent.
		msg["messageNumber"], msg["isForwarded"] = n, 0
		if msg["quotedMsgId"] == nil {
			delete(msg, "quotedMsgId")
		}
		out = append(out, msg)
	}
	o.mu.Unlock()
	if limit := int(ints["limit"]); limit > 0 && len(out) > limit {
		if last {
			out = out[len(out)-limit:]
		} else {
			out = out[:limit]
		}
	}
	omWriteJSON(w, http.StatusOK, map[string]any{"messages": out})
}

// readMessage is POST /readMessage {messageId} → {"result":"success"}
// ([SPEC]); the customer's phone then shows the message as read. An
// unknown id is answered the same way (UNVERIFIED).
func (o *OneMsg) readMessage(w http.ResponseWriter, r *http.Request, in *omInstance) {
	body, _, err := readOneMsgBody(w, r)
	if err != nil {
		badBody(w, err)
		return
	}
	id := omString(body["messageId"])
	if id == "" {
		id = omString(body["msgId"]) // [SDK2]
	}
	o.mu.Lock()
	for _, msgs := range in.convs {
		for _, m := range msgs {
			if m.id == id && m.inbound {
				m.status = "read"
			}
		}
	}
	o.mu.Unlock()
	omWriteJSON(w, http.StatusOK, map[string]string{"result": "success"})
}

// setMe is POST /me → {"result":"success"} ([SPEC] SetMe).
func (o *OneMsg) setMe(w http.ResponseWriter, r *http.Request, in *omInstance) {
	body, _, err := readOneMsgBody(w, r)
	if err != nil {
		badBody(w, err)
		return
	}
	o.mu.Lock()
	for _, k := range []string{"about", "address", "description", "email", "vertical", "photo"} {
		if v, ok := body[k]; ok {
			in.profile[k] = omString(v)
		}
	}
	o.mu.Unlock()
	omWriteJSON(w, http.StatusOK, map[string]string{"result": "success"})
}

// webhookList reads webhookUrl: one URL, a list, or a legacy
// comma-separated string ([N8N] webhooks.ts). null or "" is an empty list.
func webhookList(v any) ([]string, string) {
	var raw []string
	switch v := jsonish(v).(type) {
	case nil:
	case string:
		raw = strings.Split(v, ",")
	case []any:
		for _, it := range v {
			s, ok := it.(string)
			if !ok {
				return nil, omBadHookURL
			}
			raw = append(raw, s)
		}
	default:
		return nil, omBadHookURL
	}
	urls := []string{}
	for _, s := range raw {
		s = strings.TrimSpace(s)
		if s == "" {
			continue
		}
		u, err := url.Parse(s)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return nil, omBadHookURL + ": " + s
		}
		urls = append(urls, s)
	}
	if len(urls) > maxOneMsgWebhooks {
		return nil, omTooManyHooks
	}
	return urls, ""
}

// setWebhook is POST /webhook {"webhookUrl": "u" | ["u1","u2"]}: the list
// is replaced, not appended to ([AGT] webhooks.md), at most 5 URLs. The
// answer is [SPEC]'s SetWebhookStatus, {"set":true,"message":<the URLs,
// comma-separated>} (for several URLs the message is UNVERIFIED); a refused
// list answers {"set":false,"message":...} (UNVERIFIED).
func (o *OneMsg) setWebhook(w http.ResponseWriter, r *http.Request, in *omInstance) {
	body, _, err := readOneMsgBody(w, r)
	if err != nil {
		badBody(w, err)
		return
	}
	v, ok := body["webhookUrl"]
	if !ok {
		omWriteJSON(w, http.StatusOK, map[string]any{"set": false, "message": "webhookUrl is required"})
		return
	}
	urls, fail := webhookList(v)
	if fail != "" {
		omWriteJSON(w, http.StatusOK, map[string]any{"set": false, "message": fail})
		return
	}
	o.mu.Lock()
	in.webhooks = urls
	o.mu.Unlock()
	omWriteJSON(w, http.StatusOK, map[string]any{"set": true, "message": strings.Join(urls, ",")})
}

// settingsJSON is GET /settings ([SPEC] Settings): webhookUrl is the list as
// a comma-separated string, or null when empty ([N8N]: "a legacy
// comma-separated string"); ackNotificationsOn and guaranteedHooks are
// the channel's ([AGT] names both; chat-api.com, 1msg's lineage, serves
// them as booleans).
func (o *OneMsg) settingsJSON(in *omInstance) map[string]any {
	o.mu.Lock()
	defer o.mu.Unlock()
	var hook any
	if len(in.webhooks) > 0 {
		hook = strings.Join(in.webhooks, ",")
	}
	return map[string]any{"webhookUrl": hook, "ackNotificationsOn": in.acks, "guaranteedHooks": in.guaranteed}
}

// omFlag reads a boolean setting as JSON (true, false, 1, 0) or a form
// field ("true", "false", "1", "0").
func omFlag(v any) (bool, bool) {
	switch v := jsonish(v).(type) {
	case bool:
		return v, true
	case string:
		switch strings.ToLower(strings.TrimSpace(v)) {
		case "true", "1":
			return true, true
		case "false", "0":
			return false, true
		}
	case json.Number:
		switch v.String() {
		case "1":
			return true, true
		case "0":
			return false, true
		}
	case float64:
		switch v {
		case 1:
			return true, true
		case 0:
			return false, true
		}
	}
	return false, false
}

// setSettings is POST /settings: only the keys given change (the answer's
// "update" "lists the fields changed in the request", [SPEC]
// UpdateSettings); webhookUrl replaces the list as POST /webhook does. A
// value that is not a boolean is refused with 400 and changes nothing
// (wording UNVERIFIED).
func (o *OneMsg) setSettings(w http.ResponseWriter, r *http.Request, in *omInstance) {
	body, _, err := readOneMsgBody(w, r)
	if err != nil {
		badBody(w, err)
		return
	}
	update := map[string]any{}
	var urls []string
	setHooks := false
	if v, ok := body["webhookUrl"]; ok {
		var fail string
		if urls, fail = webhookList(v); fail != "" {
			omError(w, http.StatusBadRequest, fail) // UNVERIFIED
			return
		}
		setHooks = true
		var hook any
		if len(urls) > 0 {
			hook = strings.Join(urls, ",")
		}
		update["webhookUrl"] = hook
	}
	flags := map[string]bool{}
	for _, k := range []string{"ackNotificationsOn", "guaranteedHooks"} {
		v, ok := body[k]
		if !ok {
			continue
		}
		b, ok := omFlag(v)
		if !ok {
			omError(w, http.StatusBadRequest, k+" must be true or false") // UNVERIFIED
			return
		}
		flags[k], update[k] = b, b
	}
	o.mu.Lock()
	if setHooks {
		in.webhooks = urls
	}
	if b, ok := flags["ackNotificationsOn"]; ok {
		in.acks = b
	}
	if b, ok := flags["guaranteedHooks"]; ok {
		in.guaranteed = b
	}
	o.mu.Unlock()
	out := o.settingsJSON(in)
	out["update"] = update
	omWriteJSON(w, http.StatusOK, out)
}

// templatesJSON is GET /templates ([SPEC] GetTemplates) with the quirks of
// real lists ([N8N] templates.ts): status in mixed case, components
// sometimes a JSON string, language sometimes {"code": ...}, namespace
// missing on some templates.
func (o *OneMsg) templatesJSON(in *omInstance) map[string]any {
	o.mu.Lock()
	defer o.mu.Unlock()
	list := make([]map[string]any, 0, len(in.templates))
	for _, et := range in.templates {
		t := et.tpl
		reason := "NONE"
		if strings.EqualFold(t.Status, "rejected") {
			reason = "INVALID_FORMAT"
		}
		item := map[string]any{
			"id":              et.id,
			"name":            t.Name,
			"language":        t.Language,
			"status":          t.Status,
			"category":        t.Category,
			"rejected_reason": reason,
		}
		if t.Namespace != "" {
			item["namespace"] = t.Namespace
		}
		if t.LanguageAsObject {
			item["language"] = map[string]string{"code": t.Language}
		}
		comps := templateComponents(t)
		if t.ComponentsAsString {
			b, _ := json.Marshal(comps)
			item["components"] = string(b)
		} else {
			item["components"] = comps
		}
		list = append(list, item)
	}
	return map[string]any{"total": len(list), "templates": list}
}

// templateComponents renders Meta's components: HEADER (TEXT, or a media
// format with its sample in example.header_handle), BODY, FOOTER, BUTTONS
// (quick replies, then the other buttons).
func templateComponents(t OneMsgTemplate) []map[string]any {
	var out []map[string]any
	switch {
	case t.HeaderFormat != "":
		h := map[string]any{"type": "HEADER", "format": t.HeaderFormat}
		if t.HeaderSample != "" {
			h["example"] = map[string]any{"header_handle": []string{t.HeaderSample}}
		}
		out = append(out, h)
	case t.Header != "":
		out = append(out, map[string]any{"type": "HEADER", "format": "TEXT", "text": t.Header})
	}
	out = append(out, map[string]any{"type": "BODY", "text": t.Body})
	if t.Footer != "" {
		out = append(out, map[string]any{"type": "FOOTER", "text": t.Footer})
	}
	var buttons []map[string]any
	for _, q := range t.QuickReplies {
		buttons = append(buttons, map[string]any{"type": "QUICK_REPLY", "text": q})
	}
	for _, b := range t.Buttons {
		m := map[string]any{"type": b.Type, "text": b.Text}
		switch b.Type {
		case "URL":
			m["url"] = b.URL
		case "PHONE_NUMBER":
			m["phone_number"] = b.Phone
		case "OTP":
			m["otp_type"] = "COPY_CODE"
		}
		if b.Example != "" {
			m["example"] = []string{b.Example}
		}
		buttons = append(buttons, m)
	}
	if len(buttons) > 0 {
		out = append(out, map[string]any{"type": "BUTTONS", "buttons": buttons})
	}
	return out
}

// baseURL is PublicURL, or when it is unset, the base the request came in on.
func (o *OneMsg) baseURL(r *http.Request) string {
	o.mu.Lock()
	pub := o.publicURL
	o.mu.Unlock()
	return requestBase(pub, r)
}
