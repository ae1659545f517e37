package sandbox

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

const apiVersion = "2010-04-01"

var (
	contentSidRe = regexp.MustCompile(`^HX[0-9a-fA-F]{32}$`)
	placeholder  = regexp.MustCompile(`\{\{\s*([^{}\s]+)\s*\}\}`)
	// A content variable may not hold a newline, a tab or more than four
	// consecutive spaces (twilio.com/docs/api/errors/21656).
	badVariableValue = regexp.MustCompile(`[\n\r\t]| {5,}`)
)

// serveAPI answers the REST API (api.twilio.com) routes; p starts with
// "/2010-04-01/".
func (t *Twilio) serveAPI(w http.ResponseWriter, r *http.Request, p string) {
	seg := strings.Split(strings.TrimPrefix(p, "/"), "/")
	if len(seg) < 3 || seg[0] != apiVersion || seg[1] != "Accounts" {
		notFound(w, p)
		return
	}
	acct, ok := t.authenticate(w, r)
	if !ok {
		return
	}
	if len(seg) == 3 { // /2010-04-01/Accounts/{Sid}.json
		sid, isJSON := strings.CutSuffix(seg[2], ".json")
		if !isJSON || sid != acct.sid {
			notFound(w, p)
			return
		}
		if !allowMethods(w, r, http.MethodGet) {
			return
		}
		writeJSON(w, http.StatusOK, t.accountJSON(acct))
		return
	}
	if seg[2] != acct.sid {
		notFound(w, p)
		return
	}
	rest := seg[3:]
	switch {
	case len(rest) == 1 && rest[0] == "Messages.json":
		if !allowMethods(w, r, http.MethodPost, http.MethodGet) {
			return
		}
		if r.Method == http.MethodGet {
			t.listMessages(w, r, acct)
			return
		}
		t.createMessage(w, r, acct)
	case len(rest) == 2 && rest[0] == "Messages" && strings.HasSuffix(rest[1], ".json"):
		if !allowMethods(w, r, http.MethodGet) {
			return
		}
		m := t.messageJSONBySid(acct.sid, strings.TrimSuffix(rest[1], ".json"))
		if m == nil {
			notFound(w, p)
			return
		}
		writeJSON(w, http.StatusOK, m)
	case len(rest) == 4 && rest[0] == "Messages" && rest[2] == "Media":
		if !allowMethods(w, r, http.MethodGet) {
			return
		}
		t.serveMedia(w, r, acct, rest[1], rest[3], p)
	default:
		notFound(w, p)
	}
}

func allowMethods(w http.ResponseWriter, r *http.Request, methods ...string) bool {
	for _, m := range methods {
		if r.Method == m || (m == http.MethodGet && r.Method == http.MethodHead) {
			return true
		}
	}
	w.Header().Set("Allow", strings.Join(methods, ", "))
	writeError(w, http.StatusMethodNotAllowed, codeMethodNotAllowed, "Method not allowed")
	return false
}

// accountJSON is the api.v2010.account schema.
func (t *Twilio) accountJSON(a *twAccount) map[string]any {
	base := "/2010-04-01/Accounts/" + a.sid
	subs := map[string]string{}
	for _, s := range []string{"Addresses", "Applications", "AuthorizedConnectApps", "AvailablePhoneNumbers", "Balance",
		"Calls", "Conferences", "ConnectApps", "IncomingPhoneNumbers", "Keys", "Messages", "Notifications",
		"OutgoingCallerIds", "Queues", "Recordings", "SigningKeys", "Transcriptions", "Usage"} {
		subs[toSnake(s)] = base + "/" + s + ".json"
	}
	subs["sip"] = base + "/SIP.json"
	subs["short_codes"] = base + "/SMS/ShortCodes.json"
	name := a.name
	if name == "" {
		name = "My first Twilio account"
	}
	return map[string]any{
		"auth_token":        a.token,
		"date_created":      rfc2822(a.created),
		"date_updated":      rfc2822(a.created),
		"friendly_name":     name,
		"owner_account_sid": a.sid,
		"sid":               a.sid,
		"status":            "active",
		"subresource_uris":  subs,
		"type":              "Full",
		"uri":               base + ".json",
	}
}

func toSnake(s string) string {
	var b strings.Builder
	for i, r := range s {
		if r >= 'A' && r <= 'Z' {
			if i > 0 {
				b.WriteByte('_')
			}
			r += 'a' - 'A'
		}
		b.WriteRune(r)
	}
	return b.String()
}

// apiMessage is the api.v2010.account.message schema.
type apiMessage struct {
	AccountSid          string            `json:"account_sid"`
	APIVersion          string            `json:"api_version"`
	Body                string            `json:"body"`
	DateCreated         string            `json:"date_created"`
	DateSent            *string           `json:"date_sent"`
	DateUpdated         string            `json:"date_updated"`
	Direction           string            `json:"direction"`
	ErrorCode           *int              `json:"error_code"`
	ErrorMessage        *string           `json:"error_message"`
	From                string            `json:"from"`
	MessagingServiceSid *string           `json:"messaging_service_sid"`
	NumMedia            string            `json:"num_media"`
	NumSegments         string            `json:"num_segments"`
	Price               *string           `json:"price"`
	PriceUnit           string            `json:"price_unit"`
	Sid                 string            `json:"sid"`
	Status              string            `json:"status"`
	SubresourceURIs     map[string]string `json:"subresource_uris"`
	To                  string            `json:"to"`
	URI                 string            `json:"uri"`
}

// messageJSON renders a message; the caller holds t.mu.
func messageJSON(m *twMessage) apiMessage {
	uri := fmt.Sprintf("/2010-04-01/Accounts/%s/Messages/%s", m.account, m.sid)
	out := apiMessage{
		AccountSid:      m.account,
		APIVersion:      apiVersion,
		Body:            m.body,
		DateCreated:     rfc2822(m.created),
		DateUpdated:     rfc2822(m.updated),
		Direction:       m.direction,
		From:            m.from,
		NumMedia:        strconv.Itoa(len(m.media)),
		NumSegments:     "1",
		PriceUnit:       "USD",
		Sid:             m.sid,
		Status:          m.status,
		SubresourceURIs: map[string]string{"media": uri + "/Media.json"},
		To:              m.to,
		URI:             uri + ".json",
	}
	if !m.sentAt.IsZero() {
		s := rfc2822(m.sentAt)
		out.DateSent = &s
	}
	if m.errorCode != 0 {
		code, msg := m.errorCode, m.errorMessage
		out.ErrorCode, out.ErrorMessage = &code, &msg
	}
	return out
}

func (t *Twilio) messageJSONBySid(account, sid string) *apiMessage {
	t.mu.Lock()
	defer t.mu.Unlock()
	m := t.messages[sid]
	if m == nil || m.account != account {
		return nil
	}
	out := messageJSON(m)
	return &out
}

// createMessage is POST /2010-04-01/Accounts/{AccountSid}/Messages.json.
// Request validation errors are synchronous 400s; channel errors (24-hour
// window, media, template approval and parameters) are asynchronous: the
// create answers 201 "queued" and the status callback reports "failed".
func (t *Twilio) createMessage(w http.ResponseWriter, r *http.Request, acct *twAccount) {
	if err := r.ParseForm(); err != nil {
		writeError(w, http.StatusBadRequest, codeInvalidParameter, "Invalid request body")
		return
	}
	form := r.PostForm
	to, from := strings.TrimSpace(form.Get("To")), strings.TrimSpace(form.Get("From"))
	body := form.Get("Body")
	mediaURLs := form["MediaUrl"]
	contentSid := form.Get("ContentSid")
	_, hasVars := form["ContentVariables"]

	if to == "" {
		writeError(w, http.StatusBadRequest, codeToRequired, "A 'To' phone number is required.")
		return
	}
	if from == "" {
		// A MessagingServiceSid would pick a sender; the simulator has no
		// Messaging Services, so From is required.
		writeError(w, http.StatusBadRequest, codeFromRequired, "A 'From' phone number is required.")
		return
	}
	toWA, fromWA := strings.HasPrefix(to, "whatsapp:"), strings.HasPrefix(from, "whatsapp:")
	if toWA != fromWA {
		writeError(w, http.StatusBadRequest, codeChannelMismatch,
			fmt.Sprintf("Invalid From and To pair. From and To should be of the same channel. From(%s) and To(%s) addresses should be of the same channel.", from, to))
		return
	}
	if !fromWA {
		writeError(w, http.StatusBadRequest, codeFromNotMessaging,
			fmt.Sprintf("The 'From' number %s is not a valid message-capable Twilio phone number for this destination.", from))
		return
	}
	customer := strings.TrimPrefix(to, "whatsapp:")
	t.mu.Lock()
	if n, ok := t.userIDs[customer]; ok {
		// A customer who hides their number is written to by their
		// business-scoped user id, which WhatsApp routes to them.
		customer = n
	}
	t.mu.Unlock()
	if !e164.MatchString(customer) {
		writeError(w, http.StatusBadRequest, codeInvalidTo, fmt.Sprintf("The 'To' number %s is not a valid phone number.", to))
		return
	}
	senderNum := strings.TrimPrefix(from, "whatsapp:")
	t.mu.Lock()
	sender := t.senders[senderNum]
	t.mu.Unlock()
	if sender == nil || sender.account != acct.sid {
		writeError(w, http.StatusBadRequest, codeFromNotChannel, "Twilio could not find a Channel with the specified From address")
		return
	}
	if len(mediaURLs) > 10 {
		writeError(w, http.StatusBadRequest, codeTooManyMedia, "The number of media files exceeds the allowed limit of 10.")
		return
	}
	if code, msg := twilioBodyRefusal(body); code != 0 {
		writeError(w, http.StatusBadRequest, code, msg)
		return
	}
	var (
		tpl  *twTemplate
		vars map[string]string
	)
	switch {
	case contentSid != "":
		t.mu.Lock()
		tpl = t.templates[contentSid]
		t.mu.Unlock()
		if !contentSidRe.MatchString(contentSid) || tpl == nil || tpl.account != acct.sid {
			writeError(w, http.StatusBadRequest, codeContentSidInvalid, "The ContentSid is Invalid")
			return
		}
		if hasVars {
			var code int
			var msg string
			if vars, code, msg = parseContentVariables(form.Get("ContentVariables")); code != 0 {
				writeError(w, http.StatusBadRequest, code, msg)
				return
			}
		}
		for _, k := range requiredVars(tpl.tpl) {
			if _, ok := vars[k]; !ok {
				writeError(w, http.StatusBadRequest, codeContentVariablesInvalid,
					fmt.Sprintf("The ContentVariables Parameter is invalid: variable %q must be defined at the time of send.", k))
				return
			}
		}
	case hasVars:
		writeError(w, http.StatusBadRequest, codeContentSidRequired, "ContentSid Required")
		return
	case strings.TrimSpace(body) == "" && len(mediaURLs) == 0:
		writeError(w, http.StatusBadRequest, codeBodyRequired, "A text message body or media urls must be specified.")
		return
	}

	now := t.now()
	prefix := "SM"
	if tpl == nil && len(mediaURLs) > 0 {
		prefix = "MM"
	}
	m := &twMessage{
		sid:            prefix + randomHex(16),
		account:        acct.sid,
		direction:      "outbound-api",
		from:           from,
		to:             to,
		sender:         senderNum,
		customer:       customer,
		body:           body,
		contentSid:     contentSid,
		status:         "queued",
		statusCallback: form.Get("StatusCallback"),
		created:        now,
		updated:        now,
	}
	job := &outbound{msg: m, vars: vars, callback: m.statusCallback, install: sender.install}
	if job.callback == "" {
		job.callback = sender.webhook
	}
	if tpl != nil {
		job.tpl = tpl.tpl
		m.body, job.missing = renderTemplate(tpl.tpl, vars)
		if u := waMedia(tpl.tpl); u != "" {
			job.tplMedia = placeholder.ReplaceAllStringFunc(u, func(ph string) string {
				return vars[placeholder.FindStringSubmatch(ph)[1]]
			})
		}
		for _, q := range waButtons(tpl.tpl) {
			m.buttons = append(m.buttons, q)
			m.buttonIDs = append(m.buttonIDs, actionID(q))
		}
	}
	if len(mediaURLs) > 0 && tpl == nil {
		// WhatsApp carries one attachment per message; Twilio ignores the
		// others (help.twilio.com article 360017961894). The Media
		// subresource is filled in once the file has been downloaded.
		job.mediaURLs = mediaURLs[:1]
	}

	t.mu.Lock()
	t.messages[m.sid] = m
	k := convKey(senderNum, customer)
	t.convs[k] = append(t.convs[k], m)
	job.windowOpen = !t.lastIn[k].IsZero() && now.Sub(t.lastIn[k]) <= 24*time.Hour
	t.sent[acct.sid] = append(t.sent[acct.sid], SentMessage{Sid: m.sid, Params: cloneValues(form), At: now})
	t.inflight++
	out := messageJSON(m)
	t.mu.Unlock()

	f := t.currentFaults()
	if ok, err := json.Marshal(out); err != nil || !loseAnswer(w, r, f.LostAnswerRate, f.LostAnswers, http.StatusCreated, ok, func(w http.ResponseWriter, status int, msg string) {
		writeError(w, status, codeInternalError, msg)
	}) {
		writeJSON(w, http.StatusCreated, out)
	}
	go func() {
		defer func() {
			t.mu.Lock()
			t.inflight--
			if t.inflight == 0 {
				t.idle.Broadcast()
			}
			t.mu.Unlock()
		}()
		t.process(acct, job)
	}()
}

// listMessages is GET Messages.json: the account's messages, newest
// first, filtered by To, From and the day they were sent (DateSent,
// DateSent<, DateSent>: YYYY-MM-DD in GMT; a message not sent yet has no
// date_sent and matches no date filter), in pages of PageSize (default 50,
// at most 1000) with PageToken links.
func (t *Twilio) listMessages(w http.ResponseWriter, r *http.Request, acct *twAccount) {
	q := r.URL.Query()
	size, offset, ok := pageParams(w, q)
	if !ok {
		return
	}
	type dayFilter struct {
		param string
		keep  func(sent, day string) bool
	}
	filters := []dayFilter{
		{"DateSent", func(sent, day string) bool { return sent == day }},
		{"DateSent<", func(sent, day string) bool { return sent <= day }},
		{"DateSent>", func(sent, day string) bool { return sent >= day }},
	}
	days := map[string]string{}
	for _, f := range filters {
		if v := q.Get(f.param); v != "" {
			day, err := time.Parse(time.DateOnly, v)
			if err != nil {
				// twilio-go sends the time.Time's date; a full timestamp is refused.
				writeError(w, http.StatusBadRequest, codeInvalidParameter, fmt.Sprintf("Invalid value %q for %s: use YYYY-MM-DD", v, f.param))
				return
			}
			days[f.param] = day.Format(time.DateOnly)
		}
	}
	to, from := q.Get("To"), q.Get("From")
	t.mu.Lock()
	var list []*twMessage
	for _, m := range t.messages {
		if m.account != acct.sid || (to != "" && m.to != to) || (from != "" && m.from != from) {
			continue
		}
		keep := true
		for _, f := range filters {
			if day, set := days[f.param]; set {
				keep = keep && !m.sentAt.IsZero() && f.keep(m.sentAt.UTC().Format(time.DateOnly), day)
			}
		}
		if keep {
			list = append(list, m)
		}
	}
	slices.SortFunc(list, func(a, b *twMessage) int {
		if c := b.created.Compare(a.created); c != 0 {
			return c
		}
		return strings.Compare(b.sid, a.sid)
	})
	end := min(offset+size, len(list))
	page := make([]apiMessage, 0, end-offset)
	for _, m := range list[min(offset, end):end] {
		page = append(page, messageJSON(m))
	}
	t.mu.Unlock()

	base := "/" + apiVersion + "/Accounts/" + acct.sid + "/Messages.json"
	link := func(off int) string {
		v := url.Values{}
		for k, vs := range q {
			if k != "PageToken" && k != "Page" {
				v[k] = vs
			}
		}
		v.Set("PageSize", strconv.Itoa(size))
		v.Set("Page", strconv.Itoa(off/size))
		if off > 0 {
			v.Set("PageToken", encodePageToken(off))
		}
		return base + "?" + v.Encode()
	}
	var next, prev any
	if end < len(list) {
		next = link(end)
	}
	if offset > 0 {
		prev = link(max(offset-size, 0))
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"messages": page, "end": max(end-1, 0), "first_page_uri": link(0), "next_page_uri": next,
		"page": offset / size, "page_size": size, "previous_page_uri": prev, "start": offset, "uri": link(offset),
	})
}

// parseContentVariables decodes ContentVariables, a JSON object of
// placeholder keys to values. For what Twilio refuses it returns the error
// code (21656, or 21658 for an over-long value) and message.
func parseContentVariables(raw string) (vars map[string]string, code int, msg string) {
	var obj map[string]any
	if err := json.Unmarshal([]byte(raw), &obj); err != nil || obj == nil {
		return nil, codeContentVariablesInvalid, "The ContentVariables Parameter is invalid: it must be a JSON string of key value pairs."
	}
	vars = make(map[string]string, len(obj))
	for k, v := range obj {
		var s string
		switch v := v.(type) {
		case string:
			s = v
		case float64, bool:
			s = fmt.Sprint(v)
		case nil:
			return nil, codeContentVariablesInvalid, fmt.Sprintf("The ContentVariables Parameter is invalid: variable %q is null.", k)
		default:
			return nil, codeContentVariablesInvalid, fmt.Sprintf("The ContentVariables Parameter is invalid: variable %q is not a string.", k)
		}
		switch {
		case strings.TrimSpace(s) == "":
			return nil, codeContentVariablesInvalid, fmt.Sprintf("The ContentVariables Parameter is invalid: variable %q is empty.", k)
		case badVariableValue.MatchString(s):
			return nil, codeContentVariablesInvalid, fmt.Sprintf("The ContentVariables Parameter is invalid: variable %q contains a newline, a tab or more than four consecutive spaces.", k)
		case utf8.RuneCountInString(s) > 1600:
			return nil, codeParameterTooLong, fmt.Sprintf("Content variable %q exceeds the 1600 character limit.", k)
		}
		vars[k] = s
	}
	return vars, 0, ""
}

// renderTemplate substitutes the template's placeholders with vars, falling
// back to the template's default placeholder values as Twilio does
// (twilio.com/docs/api/errors/21656: "If a value is omitted, Twilio uses the
// template's default placeholder value"). missing lists placeholders that
// have neither.
func renderTemplate(tpl Template, vars map[string]string) (body string, missing []string) {
	text := tpl.Body
	if tpl.Types != nil {
		text = waText(tpl)
	}
	body = placeholder.ReplaceAllStringFunc(text, func(ph string) string {
		key := placeholder.FindStringSubmatch(ph)[1]
		if v, ok := vars[key]; ok {
			return v
		}
		if v := tpl.Variables[key]; strings.TrimSpace(v) != "" {
			return v
		}
		missing = append(missing, key)
		return ph
	})
	return body, missing
}

// actionID is the quick-reply action id Twilio reports back as ButtonPayload.
func actionID(title string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(strings.TrimSpace(title)) {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9':
			b.WriteRune(r)
		case b.Len() > 0 && !strings.HasSuffix(b.String(), "_"):
			b.WriteByte('_')
		}
	}
	return strings.TrimSuffix(b.String(), "_")
}

// serveMedia is GET .../Messages/{MessageSid}/Media/{Sid}: with ".json" the
// Media resource, without it a redirect to a short-lived CDN link, as
// Twilio does when HTTP auth is enforced on media URLs
// (help.twilio.com article 223183748).
func (t *Twilio) serveMedia(w http.ResponseWriter, r *http.Request, acct *twAccount, msgSid, mediaSeg, p string) {
	sid, isJSON := strings.CutSuffix(mediaSeg, ".json")
	t.mu.Lock()
	md := t.media[sid]
	if md == nil || md.account != acct.sid || md.message != msgSid {
		t.mu.Unlock()
		notFound(w, p)
		return
	}
	if isJSON {
		out := map[string]any{
			"account_sid":  md.account,
			"content_type": md.contentType,
			"date_created": rfc2822(md.created),
			"date_updated": rfc2822(md.created),
			"parent_sid":   md.message,
			"sid":          md.sid,
			"uri":          fmt.Sprintf("/2010-04-01/Accounts/%s/Messages/%s/Media/%s.json", md.account, md.message, md.sid),
		}
		t.mu.Unlock()
		writeJSON(w, http.StatusOK, out)
		return
	}
	now := t.now()
	if len(t.cdn) >= 1024 { // forget expired links so benchmarks do not grow the map forever
		for tok, l := range t.cdn {
			if !now.Before(l.expires) {
				delete(t.cdn, tok)
			}
		}
	}
	token := randomHex(20)
	t.cdn[token] = &cdnLink{media: md, expires: now.Add(4 * time.Hour)}
	t.mu.Unlock()
	http.Redirect(w, r, t.baseURL(r)+"/cdn/"+token, http.StatusTemporaryRedirect)
}

// serveCDN serves a media link handed out by serveMedia, without auth,
// until it expires (4 h of simulator time).
func (t *Twilio) serveCDN(w http.ResponseWriter, r *http.Request, token string) {
	t.mu.Lock()
	link := t.cdn[token]
	expired := link != nil && !t.now().Before(link.expires)
	if expired {
		delete(t.cdn, token)
	}
	t.mu.Unlock()
	if link == nil || expired || (r.Method != http.MethodGet && r.Method != http.MethodHead) {
		notFound(w, "/cdn/"+token)
		return
	}
	serveBytes(w, r, link.media)
}

func serveBytes(w http.ResponseWriter, r *http.Request, md *twMedia) {
	w.Header().Set("Content-Type", md.contentType)
	w.Header().Set("Content-Length", strconv.Itoa(len(md.data)))
	if md.filename != "" {
		w.Header().Set("Content-Disposition", fmt.Sprintf("inline; filename=%q", md.filename))
	}
	w.WriteHeader(http.StatusOK)
	if r.Method != http.MethodHead {
		_, _ = w.Write(md.data)
	}
}

// serveContent answers the Content API (content.twilio.com) routes; p
// starts with "/v1/".
func (t *Twilio) serveContent(w http.ResponseWriter, r *http.Request, p string) {
	seg := strings.Split(strings.TrimPrefix(p, "/"), "/")
	if len(seg) < 2 || seg[0] != "v1" {
		notFound(w, p)
		return
	}
	acct, ok := t.authenticate(w, r)
	if !ok {
		return
	}
	if !allowMethods(w, r, http.MethodGet) {
		return
	}
	switch {
	case len(seg) == 2 && seg[1] == "ContentAndApprovals":
		t.listContent(w, r, acct, "ContentAndApprovals", contentAndApprovalsJSON)
	case len(seg) == 2 && seg[1] == "Content":
		t.listContent(w, r, acct, "Content", contentJSON)
	case len(seg) == 3 && seg[1] == "Content":
		tp := t.template(acct.sid, seg[2])
		if tp == nil {
			notFound(w, p)
			return
		}
		writeJSON(w, http.StatusOK, contentJSON(tp))
	case len(seg) == 4 && seg[1] == "Content" && seg[3] == "ApprovalRequests":
		tp := t.template(acct.sid, seg[2])
		if tp == nil {
			notFound(w, p)
			return
		}
		wa := approvalJSON(tp)
		wa["type"] = "whatsapp"
		writeJSON(w, http.StatusOK, map[string]any{
			"sid":         tp.sid,
			"account_sid": tp.account,
			"whatsapp":    wa,
			"url":         contentBase + "/v1/Content/" + tp.sid + "/ApprovalRequests",
		})
	default:
		notFound(w, p)
	}
}

const contentBase = "https://content.twilio.com"

func (t *Twilio) template(account, sid string) *twTemplate {
	t.mu.Lock()
	defer t.mu.Unlock()
	tp := t.templates[sid]
	if tp == nil || tp.account != account {
		return nil
	}
	cp := *tp
	return &cp
}

// listContent answers a paged Content API list. Page links are absolute
// URLs on the real host, as Twilio's are, so twilio-go follows them through
// TwilioTransport. PageToken is opaque to clients; here it encodes the
// offset of the page's first item.
func (t *Twilio) listContent(w http.ResponseWriter, r *http.Request, acct *twAccount, resource string, render func(*twTemplate) map[string]any) {
	q := r.URL.Query()
	pageSize := 50
	if s := q.Get("PageSize"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > 1000 {
			writeError(w, http.StatusBadRequest, codeInvalidParameter, "PageSize must be an integer between 1 and 1000")
			return
		}
		pageSize = n
	}
	page := 0
	if s := q.Get("Page"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 0 {
			writeError(w, http.StatusBadRequest, codeInvalidParameter, "Page must be a non-negative integer")
			return
		}
		page = n
	}
	offset := page * pageSize
	if tok := q.Get("PageToken"); tok != "" {
		n, ok := decodePageToken(tok)
		if !ok {
			writeError(w, http.StatusBadRequest, codeInvalidParameter, "Invalid PageToken")
			return
		}
		offset = n
	}

	t.mu.Lock()
	sids := t.tplOrder[acct.sid]
	total := len(sids)
	items := []map[string]any{}
	for i := offset; i < total && i < offset+pageSize; i++ {
		items = append(items, render(t.templates[sids[i]]))
	}
	t.mu.Unlock()

	base := contentBase + "/v1/" + resource
	pageURL := func(page, offset int) string {
		v := url.Values{}
		v.Set("PageSize", strconv.Itoa(pageSize))
		v.Set("Page", strconv.Itoa(page))
		if offset > 0 {
			v.Set("PageToken", encodePageToken(offset))
		}
		return base + "?" + v.Encode()
	}
	meta := map[string]any{
		"page":              page,
		"page_size":         pageSize,
		"first_page_url":    pageURL(0, 0),
		"previous_page_url": nil,
		"url":               pageURL(page, offset),
		"next_page_url":     nil,
		"key":               "contents",
	}
	if offset > 0 {
		meta["previous_page_url"] = pageURL(max(page-1, 0), max(offset-pageSize, 0))
	}
	if offset+pageSize < total {
		meta["next_page_url"] = pageURL(page+1, offset+pageSize)
	}
	writeJSON(w, http.StatusOK, map[string]any{"contents": items, "meta": meta})
}

func encodePageToken(offset int) string {
	return "PT" + base64.RawURLEncoding.EncodeToString([]byte("offset="+strconv.Itoa(offset)))
}

func decodePageToken(tok string) (int, bool) {
	raw, err := base64.RawURLEncoding.DecodeString(strings.TrimPrefix(tok, "PT"))
	if err != nil {
		return 0, false
	}
	n, err := strconv.Atoi(strings.TrimPrefix(string(raw), "offset="))
	return n, err == nil && n >= 0
}

// contentAndApprovalsJSON is the content.v1.content_and_approvals schema.
// Dates are RFC 3339: twilio-go decodes them into *time.Time.
func contentAndApprovalsJSON(tp *twTemplate) map[string]any {
	return map[string]any{
		"date_created":      tp.created.UTC().Format(time.RFC3339),
		"date_updated":      tp.created.UTC().Format(time.RFC3339),
		"sid":               tp.sid,
		"account_sid":       tp.account,
		"friendly_name":     tp.tpl.FriendlyName,
		"language":          tp.tpl.Language,
		"variables":         templateVariables(tp.tpl),
		"types":             templateTypes(tp.tpl),
		"approval_requests": approvalJSON(tp),
	}
}

// contentJSON is the content.v1.content schema.
func contentJSON(tp *twTemplate) map[string]any {
	self := contentBase + "/v1/Content/" + tp.sid
	return map[string]any{
		"date_created":  tp.created.UTC().Format(time.RFC3339),
		"date_updated":  tp.created.UTC().Format(time.RFC3339),
		"sid":           tp.sid,
		"account_sid":   tp.account,
		"friendly_name": tp.tpl.FriendlyName,
		"language":      tp.tpl.Language,
		"variables":     templateVariables(tp.tpl),
		"types":         templateTypes(tp.tpl),
		"url":           self,
		"links": map[string]string{
			"approval_create": self + "/ApprovalRequests/whatsapp",
			"approval_fetch":  self + "/ApprovalRequests",
		},
	}
}

func templateVariables(tpl Template) map[string]string {
	if tpl.Variables == nil {
		return map[string]string{}
	}
	return tpl.Variables
}

func templateContentType(tpl Template) string {
	kind, _ := waType(tpl)
	return kind
}

// templateTypes renders the "types" object: the template's own Types, or
// twilio/text or twilio/quick-reply (schemas twilioText and
// twilioQuickReply).
func templateTypes(tpl Template) map[string]any {
	if tpl.Types != nil {
		return tpl.Types
	}
	if len(tpl.QuickReplies) == 0 {
		return map[string]any{"twilio/text": map[string]any{"body": tpl.Body}}
	}
	actions := make([]map[string]string, 0, len(tpl.QuickReplies))
	for _, q := range tpl.QuickReplies {
		actions = append(actions, map[string]string{"title": q, "id": actionID(q)})
	}
	return map[string]any{"twilio/quick-reply": map[string]any{"body": tpl.Body, "actions": actions}}
}

// approvalJSON is the WhatsApp approval request as ContentAndApprovals
// shows it (see the readResults example in the Content API document).
func approvalJSON(tp *twTemplate) map[string]any {
	if tp.tpl.Status == "unsubmitted" {
		return map[string]any{
			"name": "", "category": "", "content_type": "", "status": "unsubmitted",
			"rejection_reason": "", "allow_category_change": true,
		}
	}
	reason := ""
	if tp.tpl.Status == "rejected" {
		reason = "INVALID_FORMAT: the template body cannot start or end with a placeholder."
	}
	return map[string]any{
		"name":                  actionID(tp.tpl.FriendlyName),
		"category":              "UTILITY",
		"content_type":          templateContentType(tp.tpl),
		"status":                tp.tpl.Status,
		"rejection_reason":      reason,
		"allow_category_change": true,
	}
}

// pageParams reads a list's PageSize (1–1000, default 50), Page and
// PageToken, answering 400 20001 for a bad one; offset is where the page
// starts.
func pageParams(w http.ResponseWriter, q url.Values) (size, offset int, ok bool) {
	size = 50
	if s := q.Get("PageSize"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > 1000 {
			writeError(w, http.StatusBadRequest, codeInvalidParameter, "PageSize must be an integer between 1 and 1000")
			return 0, 0, false
		}
		size = n
	}
	if s := q.Get("Page"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 0 {
			writeError(w, http.StatusBadRequest, codeInvalidParameter, "Page must be a non-negative integer")
			return 0, 0, false
		}
		offset = n * size
	}
	if tok := q.Get("PageToken"); tok != "" {
		n, valid := decodePageToken(tok)
		if !valid {
			writeError(w, http.StatusBadRequest, codeInvalidParameter, "Invalid PageToken")
			return 0, 0, false
		}
		offset = n
	}
	return size, offset, true
}
