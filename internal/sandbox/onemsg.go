package sandbox

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"log/slog"
	mathrand "math/rand/v2"
	"net/http"
	"net/url"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
)

// OneMsgOptions configures a 1msg simulator. The zero value is usable.
type OneMsgOptions struct {
	// Now is the simulator's clock: message times, the 24-hour window and
	// the expiry of media links follow it. Default time.Now.
	Now func() time.Time
	// HTTPClient posts webhooks and downloads the files of sendFile.
	// Default: a client with a 10 s timeout (it follows redirects).
	HTTPClient *http.Client
	// Logger receives delivery failures. Default slog.Default().
	Logger *slog.Logger
	// PublicURL is the simulator's own base URL as clients reach it, e.g.
	// "http://127.0.0.1:5555/sandbox/1msg". Media links and the instance
	// API URL returned by AddInstance are built from it. It can be set
	// later with SetPublicURL.
	PublicURL string
	// HookRetryPause is the pause between two attempts of a webhook when
	// the instance has guaranteedHooks on (1msg does not document it).
	// Zero means one second; negative, no pause.
	HookRetryPause time.Duration
	// AckDelay is the pause before the echo and before each ack
	// (sent→delivered→read). Zero means no pause; the echo and acks are
	// still posted from a goroutine after the send has been answered.
	AckDelay time.Duration
}

// OneMsg simulates the parts of the 1msg.io WhatsApp Business API that
// Parley uses, and the customers' WhatsApp phones on the other side of the
// simulated channels (instances). Wire facts are from
// shared/research/onemsg.md and testdata/1msg_waba.openapi.json.
//
// Routes served by Handler, relative to PublicURL:
//
//	GET  /{instanceId}/status?token=        {"status":"connected"}
//	GET  /{instanceId}/me?token=            profile, phone in digits
//	POST /{instanceId}/me?token=            {"result":"success"}
//	GET  /{instanceId}/webhook?token=       {"webhookUrl":[...]}
//	POST /{instanceId}/webhook?token=       replaces the webhook list (≤5)
//	GET  /{instanceId}/settings?token=      {"webhookUrl":"u1,u2","ackNotificationsOn":…,"guaranteedHooks":…}
//	POST /{instanceId}/settings?token=      changes the keys given (webhookUrl as /webhook)
//	POST /{instanceId}/sendMessage?token=   text (open 24-hour window only)
//	POST /{instanceId}/sendFile?token=      URL, data URI or multipart file
//	POST /{instanceId}/sendButton?token=    ≤3 reply buttons
//	POST /{instanceId}/sendTemplate?token=  approved templates, any time
//	GET  /{instanceId}/templates?token=     {"total":n,"templates":[...]}
//	POST /{instanceId}/readMessage?token=   {"result":"success"}
//	GET  /media/{random}                    inbound and echoed media, 10 minutes
//	POST /phone/send                        a customer's phone sends (JSON, form or multipart)
//	GET  /phone/messages?instance=&customer= what the customer's phone shows
//	GET  /phone/customers?instance=         customers who talk to an instance
//	GET  /phone/media/{id}                  media as the phone shows it (no expiry)
//
// "phone" and "media" are therefore not usable as instance IDs.
//
// A OneMsg is safe for concurrent use.
type OneMsg struct {
	now      func() time.Time
	client   *http.Client
	log      *slog.Logger
	ackDelay time.Duration
	// hookRetryPause separates the attempts of a guaranteed webhook.
	hookRetryPause time.Duration
	observer       attemptObserver

	mu        sync.Mutex
	idle      *sync.Cond // signalled when inflight drops to zero
	inflight  int        // accepted sends whose echo and acks are not all posted
	publicURL string
	faults    OneMsgFaults
	instances map[string]*omInstance
	files     map[string]*omFile // by file id: the phone page's stable links
	links     map[string]*omLink // by random token: the temporary /media links
}

type omInstance struct {
	id, token string
	phone     string // +E164
	namespace string // the WABA's template namespace
	webhooks  []string
	// acks is ackNotificationsOn: 1msg posts acks only when it is on
	// ([SPEC] callbacks.Ack: "It works only if the settings webhookUrl and
	// ackNotificationsOn"). No source gives its value on a new channel;
	// the simulator starts it off, the stricter choice.
	acks bool
	// guaranteed is guaranteedHooks: a webhook is posted again until the
	// receiver answers 200, 20 attempts in all (chat-api.com, 1msg's
	// lineage: "Each webhook will make 20 attempts to send until it
	// receives 200 status from the server"). Off on a new channel, as
	// acks; off, a failed webhook is not posted again (no source says 1msg
	// retries otherwise).
	guaranteed bool
	// trial: an unpaid channel, which sends only to its own number.
	trial     bool
	profile   map[string]string // GET /me fields
	templates []*omTemplate
	convs     map[string][]*omMessage // by customer +E164, oldest first
	names     map[string]string       // customer's profile name
	userIDs   map[string]string       // customer's business-scoped user id (BSUID) → +E164
	lastIn    map[string]time.Time    // customer's last inbound message: the 24-hour window
	sent      []OneMsgSent
}

type omTemplate struct {
	id  string
	tpl OneMsgTemplate
}

type omMessage struct {
	id       string
	customer string // +E164
	inbound  bool
	self     int    // outbound: 1 sent through the API, 0 typed in the WhatsApp app
	kind     string // the webhook "type": chat, image, document, button, interactive...
	text     string // the text, or a file's caption
	file     *omFile
	link     string // the temporary media link used as body in webhooks
	buttons  []string
	quoted   string
	// An inbound message's author: their business-scoped user id and
	// username, and whether they hide their number (an @lid chat).
	userID, username string
	hideNumber       bool
	status           string
	errCode          int
	errText          string
	at               time.Time
}

type omFile struct {
	id, contentType, filename string
	data                      []byte
}

type omLink struct {
	file    *omFile
	expires time.Time
}

// OneMsgFaults makes the simulated API misbehave, for fault tests and
// benchmarks. The zero value means no faults.
type OneMsgFaults struct {
	// Latency is added before answering every API request (/{instanceId}/...).
	Latency time.Duration
	// ServerErrorRate is the share (0..1) of API requests answered with a
	// 500 or 503 and a {"error": ...} body.
	ServerErrorRate float64
	// TimeoutRate is the share (0..1) of API requests that hang until the
	// client gives up (the request's context ends).
	TimeoutRate float64
	// DuplicateDeliveries is how many extra times every webhook POST
	// (messages, echoes and acks) is made, byte-identical.
	DuplicateDeliveries int
	// ReorderAcks delivers each message's acks in reverse order
	// (read, delivered, sent), as out-of-order delivery does in real traffic.
	ReorderAcks bool
	// LostAnswerRate is the share (0..1) of accepted sends whose answer is
	// lost (LostAnswers, all kinds when empty): the message exists and goes
	// out, the client cannot know.
	LostAnswerRate float64
	LostAnswers    []LostAnswer
	// AckLossRate is the share (0..1) of accepted sends none of whose acks
	// reach the webhook, as when 1msg gave up posting them: the message
	// still moves on, and GET /hookInfo shows where it stands.
	AckLossRate float64
}

// OneMsgTemplate is a WhatsApp message template of a 1msg channel.
type OneMsgTemplate struct {
	Name string
	// Language is a WhatsApp language code: "en", "es", "pt_BR", "de"...
	Language string
	// Status is the approval status as GET /templates serves it, e.g.
	// "approved", "APPROVED", "pending", "rejected" (real 1msg mixes the
	// case; the simulator compares case-insensitively). Empty means "approved".
	Status string
	// Category: MARKETING, UTILITY or AUTHENTICATION. Empty means UTILITY.
	Category string
	// Namespace is served as the template's namespace; empty leaves it out
	// of the list (a real quirk). Such a template is sent with the
	// namespace its sibling templates list.
	Namespace string
	// Body is the text, with {{1}}, {{2}}... placeholders; Header (a TEXT
	// header) may have placeholders too.
	Body, Header, Footer string
	// QuickReplies are the titles of QUICK_REPLY buttons.
	QuickReplies []string
	// HeaderFormat makes a media header: IMAGE, DOCUMENT, VIDEO or
	// LOCATION (Header is then not used); HeaderSample is its approved
	// sample link (Meta's example.header_handle).
	HeaderFormat, HeaderSample string
	// Buttons are the other buttons, after the quick replies: URL (a
	// link, maybe ending with {{1}}), PHONE_NUMBER, COPY_CODE (a coupon),
	// OTP (an authentication template's copy-code button), FLOW…
	Buttons []OneMsgButton
	// ComponentsAsString serves components as a JSON string (a real quirk).
	ComponentsAsString bool
	// LanguageAsObject serves language as {"code": ...} (a real quirk).
	LanguageAsObject bool
}

// OneMsgButton is a template button as Meta lists it.
type OneMsgButton struct {
	Type, Text, URL, Phone string
	Example                string // a URL button's sample end, a coupon's sample code
}

// OneMsgSent is one send the API accepted ("sent": true): the method path
// and the exact request body (JSON numbers as json.Number; form fields as
// strings).
type OneMsgSent struct {
	Method string
	Body   map[string]any
	At     time.Time
}

// OneMsgInbound is what a customer's phone sends to a channel.
type OneMsgInbound struct {
	InstanceID string
	// From is the customer's number, "+E164".
	From string
	// SenderName is the customer's WhatsApp profile name.
	SenderName string
	Body       string
	// Media is an attachment, exposed to webhooks as a temporary link;
	// Body becomes its caption.
	Media *MediaFile
	// ButtonText is a tap on a quick-reply or reply button: type "button",
	// body = the button text.
	ButtonText string
	// UserID is the customer's business-scoped user id (authorBsuid, in
	// every message of real traffic) and Username their WhatsApp username
	// (authorUserName); with HideNumber the chat is "<UserID>@lid" and has
	// no number ([PROD]; github.com/ebor94/1msg docs/migraciones/003-bsuid.sql).
	UserID, Username string
	HideNumber       bool
	// QuotedID is the message a swipe-reply quotes (quotedMsgId).
	QuotedID string
	// VCard is a shared contact: type vcard, the card in body.
	VCard string
	// Type sends an item of another type with Body as its body (a
	// "reaction", a "poll", an "order"…): what Parley cannot show.
	Type string
}

// oneMsgInboxHost is 1msg's own inbox, whose hook every real channel has
// in its webhook list; the simulator never posts to it.
const oneMsgInboxHost = "app.1msg.io"

// Webhook list limit ([N8N] utils/webhooks.ts MAX_WEBHOOKS, [AGT]).
const maxOneMsgWebhooks = 5

// oneMsgMediaTTL is how long a media link in a webhook works. Real links are
// temporary S3 URLs ("download at once", [PROD]); 10 minutes is the
// simulator's choice.
const oneMsgMediaTTL = 10 * time.Minute

// oneMsgMaxFile is the largest file sendFile accepts (WhatsApp's 16 MB
// media limit, research §6).
const oneMsgMaxFile = 16 << 20

// NewOneMsg returns a simulator with no instances.
func NewOneMsg(opts OneMsgOptions) *OneMsg {
	o := &OneMsg{
		now:            opts.Now,
		client:         opts.HTTPClient,
		log:            opts.Logger,
		ackDelay:       max(opts.AckDelay, 0),
		hookRetryPause: opts.HookRetryPause,
		publicURL:      strings.TrimRight(opts.PublicURL, "/"),
		instances:      map[string]*omInstance{},
		files:          map[string]*omFile{},
		links:          map[string]*omLink{},
	}
	o.idle = sync.NewCond(&o.mu)
	if o.now == nil {
		o.now = time.Now
	}
	if o.client == nil {
		o.client = &http.Client{Timeout: 10 * time.Second}
	}
	if o.log == nil {
		o.log = slog.Default()
	}
	switch {
	case o.hookRetryPause == 0:
		o.hookRetryPause = time.Second
	case o.hookRetryPause < 0:
		o.hookRetryPause = 0
	}
	return o
}

// AckNotifications says whether an instance has ackNotificationsOn.
func (o *OneMsg) AckNotifications(instanceID string) bool {
	o.mu.Lock()
	defer o.mu.Unlock()
	in := o.instances[instanceID]
	return in != nil && in.acks
}

// GuaranteedHooks says whether an instance has guaranteedHooks on.
func (o *OneMsg) GuaranteedHooks(instanceID string) bool {
	o.mu.Lock()
	defer o.mu.Unlock()
	in := o.instances[instanceID]
	return in != nil && in.guaranteed
}

// SetAckNotifications turns an instance's ackNotificationsOn on or off,
// as the channel's owner may in 1msg's dashboard.
func (o *OneMsg) SetAckNotifications(instanceID string, on bool) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if in := o.instances[instanceID]; in != nil {
		in.acks = on
	}
}

// OnWebhookAttempt sets a function told of every webhook attempt, after
// it is answered (nil: none). It runs before the next retry.
func (o *OneMsg) OnWebhookAttempt(fn func(WebhookAttempt)) { o.observer.set(fn) }

// SetPublicURL sets the simulator's own base URL as clients reach it.
func (o *OneMsg) SetPublicURL(u string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.publicURL = strings.TrimRight(u, "/")
}

// WaitIdle blocks until every send the API has accepted so far has had its
// echo and all its acks posted. Tests use it instead of sleeping.
func (o *OneMsg) WaitIdle() {
	o.mu.Lock()
	defer o.mu.Unlock()
	for o.inflight > 0 {
		o.idle.Wait()
	}
}

// SetTrial makes a channel a trial one (on) or a paid one (off): a trial
// channel refuses to send to any number but its own.
func (o *OneMsg) SetTrial(instanceID string, on bool) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if in, ok := o.instances[instanceID]; ok {
		in.trial = on
	}
}

// AddInstance creates (or updates the token and phone of) a channel and
// returns its API URL, PublicURL + "/" + instanceID + "/". phone is the
// channel's number, "+E164". The channel's webhook list starts with 1msg's
// own inbox hook, https://app.1msg.io/service/service_core/whatsapp/webhook/<n>,
// as on a real channel ([PROD]).
func (o *OneMsg) AddInstance(instanceID, token, phone string) (apiURL string) {
	phone = normalizeNumber(phone)
	o.mu.Lock()
	defer o.mu.Unlock()
	if in, ok := o.instances[instanceID]; ok {
		in.token, in.phone = token, phone
		in.profile["phone"] = strings.TrimPrefix(phone, "+")
	} else {
		o.instances[instanceID] = &omInstance{
			id:        instanceID,
			token:     token,
			phone:     phone,
			namespace: newNamespace(),
			webhooks:  []string{fmt.Sprintf("https://%s/service/service_core/whatsapp/webhook/%d", oneMsgInboxHost, 10000+mathrand.IntN(90000))},
			profile: map[string]string{
				"about": "Sandbox WhatsApp channel", "address": "", "description": "", "email": "",
				"phone": strings.TrimPrefix(phone, "+"), "vertical": "Other", "photo": "",
			},
			convs:   map[string][]*omMessage{},
			names:   map[string]string{},
			userIDs: map[string]string{},
			lastIn:  map[string]time.Time{},
		}
	}
	return o.publicURL + "/" + instanceID + "/"
}

// Webhooks returns an instance's webhook list, 1msg's own hook included.
func (o *OneMsg) Webhooks(instanceID string) []string {
	o.mu.Lock()
	defer o.mu.Unlock()
	in := o.instances[instanceID]
	if in == nil {
		return nil
	}
	return append([]string{}, in.webhooks...)
}

// SetFaults replaces the fault settings.
func (o *OneMsg) SetFaults(f OneMsgFaults) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.faults = f
}

func (o *OneMsg) currentFaults() OneMsgFaults {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.faults
}

// Sent returns every send the API accepted for an instance, oldest first.
func (o *OneMsg) Sent(instanceID string) []OneMsgSent {
	o.mu.Lock()
	defer o.mu.Unlock()
	in := o.instances[instanceID]
	if in == nil {
		return nil
	}
	out := make([]OneMsgSent, 0, len(in.sent))
	for _, s := range in.sent {
		s.Body, _ = cloneJSONValue(s.Body).(map[string]any)
		out = append(out, s)
	}
	return out
}

// AddTemplate stores (or replaces, by name and language) a template; it does
// nothing for an unknown instance.
func (o *OneMsg) AddTemplate(instanceID string, t OneMsgTemplate) {
	if t.Status == "" {
		t.Status = "approved"
	}
	if t.Category == "" {
		t.Category = "UTILITY"
	}
	t.QuickReplies = append([]string(nil), t.QuickReplies...)
	t.Buttons = append([]OneMsgButton(nil), t.Buttons...)
	o.mu.Lock()
	defer o.mu.Unlock()
	in := o.instances[instanceID]
	if in == nil {
		return
	}
	for _, et := range in.templates {
		if et.tpl.Name == t.Name && et.tpl.Language == t.Language {
			et.tpl = t
			return
		}
	}
	// Meta template IDs are 15–16 digit numbers.
	id := strconv.FormatInt(1_000_000_000_000_000+mathrand.Int64N(9_000_000_000_000_000), 10)
	in.templates = append(in.templates, &omTemplate{id: id, tpl: t})
}

// RemoveTemplate deletes a template; sending it afterwards answers 400
// "template is not defined".
func (o *OneMsg) RemoveTemplate(instanceID, name, language string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	in := o.instances[instanceID]
	if in == nil {
		return
	}
	for i, et := range in.templates {
		if et.tpl.Name == name && et.tpl.Language == language {
			in.templates = append(in.templates[:i:i], in.templates[i+1:]...)
			return
		}
	}
}

// SeedDemoTemplates adds a realistic set of templates to an instance:
// several languages (one name in two), with and without {{n}} variables, a
// header and footer, a quick-reply template with the buttons "Yes", "No"
// and "Talk to an agent", a pending and a rejected one, and the list quirks
// of real 1msg: status case, components as a JSON string, language as an
// object, and a template without namespace beside siblings that have it.
func (o *OneMsg) SeedDemoTemplates(instanceID string) {
	o.mu.Lock()
	in := o.instances[instanceID]
	ns := ""
	if in != nil {
		ns = in.namespace
	}
	o.mu.Unlock()
	if in == nil {
		return
	}
	for _, t := range []OneMsgTemplate{
		{
			Name: "order_shipped", Language: "en", Status: "APPROVED", Category: "UTILITY", Namespace: ns,
			Body: "Hi {{1}}, your order {{2}} has shipped and should arrive on {{3}}.",
		},
		{
			Name: "order_shipped", Language: "es", Status: "approved", Category: "UTILITY", Namespace: ns,
			Body: "Hola {{1}}, tu pedido {{2}} fue enviado y llegará el {{3}}.", LanguageAsObject: true,
		},
		{
			Name: "conversation_follow_up", Language: "en", Status: "approved", Category: "UTILITY", Namespace: ns,
			Body:               "Hello! We have an update on your request. Reply to this message to continue the conversation.",
			ComponentsAsString: true,
		},
		{
			Name: "issue_resolved_check", Language: "en", Status: "APPROVED", Category: "UTILITY", Namespace: ns,
			Body: "Hi {{1}}, was your issue resolved?", Footer: "Tap a button to answer",
			QuickReplies: []string{"Yes", "No", "Talk to an agent"},
		},
		{
			// The sibling without namespace.
			Name: "atualizacao_atendimento", Language: "pt_BR", Status: "approved", Category: "UTILITY",
			Body: "Olá! Seu atendimento foi atualizado. Responda a esta mensagem para continuar a conversa.",
		},
		{
			Name: "terminerinnerung", Language: "de", Status: "APPROVED", Category: "UTILITY", Namespace: ns,
			Header: "Terminerinnerung", Body: "Hallo {{1}}, wir erinnern Sie an Ihren Termin am {{2}}.",
			Footer: "Antworten Sie, um den Termin zu ändern.",
		},
		{
			Name: "spring_menu", Language: "en", Status: "APPROVED", Category: "MARKETING", Namespace: ns,
			HeaderFormat: "IMAGE", HeaderSample: o.sampleLink(SampleImage),
			Body: "Hi {{1}}, our spring menu is here!", Footer: "Demo Company",
		},
		{
			Name: "order_receipt", Language: "en", Status: "approved", Category: "UTILITY", Namespace: ns,
			HeaderFormat: "DOCUMENT", HeaderSample: o.sampleLink("receipt.pdf"),
			Body: "Hi {{1}}, here is the receipt for your order {{2}}.",
		},
		{
			Name: "store_tour", Language: "en", Status: "approved", Category: "MARKETING", Namespace: ns,
			HeaderFormat: "VIDEO", HeaderSample: o.sampleLink("tour.mp4"),
			Body: "Take a tour of our new store!",
		},
		{
			Name: "track_order", Language: "en", Status: "APPROVED", Category: "UTILITY", Namespace: ns,
			Body: "Hi {{1}}, your order {{2}} is on its way.",
			Buttons: []OneMsgButton{
				{Type: "URL", Text: "Track order", URL: "https://track.example.com/{{1}}", Example: "https://track.example.com/AB12CD"},
				{Type: "PHONE_NUMBER", Text: "Call us", Phone: "+15550002222"},
			},
		},
		{
			Name: "login_code", Language: "en", Status: "APPROVED", Category: "AUTHENTICATION", Namespace: ns,
			Body: "*{{1}}* is your verification code. For your security, do not share this code.", Footer: "This code expires in 10 minutes.",
			// Created as OTP, listed as URL (Meta's copy code authentication templates).
			Buttons: []OneMsgButton{{Type: "URL", Text: "Copy code", URL: "https://www.whatsapp.com/otp/code/?otp_type=COPY_CODE&code=otp{{1}}"}},
		},
		{
			Name: "store_location", Language: "en", Status: "approved", Category: "UTILITY", Namespace: ns,
			HeaderFormat: "LOCATION", Body: "Our new store is open. Come and see us!",
		},
		{
			Name: "spring_sale", Language: "en", Status: "PENDING", Category: "MARKETING", Namespace: ns,
			Body: "Spring sale! Get {{1}} off every plan until Sunday.",
		},
		{
			Name: "account_verification", Language: "en", Status: "rejected", Category: "AUTHENTICATION", Namespace: ns,
			Body: "{{1}}",
		},
	} {
		o.AddTemplate(instanceID, t)
	}
}

// sampleLink is the link of a sample media file, "" without a PublicURL.
func (o *OneMsg) sampleLink(name string) string {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.publicURL == "" {
		return ""
	}
	return o.publicURL + "/samples/" + name
}

// Handler serves all simulator routes relative to PublicURL; mount it with
// http.StripPrefix when PublicURL has a path.
func (o *OneMsg) Handler() http.Handler {
	return http.HandlerFunc(o.serveHTTP)
}

func (o *OneMsg) serveHTTP(w http.ResponseWriter, r *http.Request) {
	first, rest, _ := strings.Cut(strings.TrimPrefix(r.URL.Path, "/"), "/")
	switch first {
	case "phone":
		o.servePhone(w, r, "/"+rest)
	case "media":
		o.serveLink(w, r, rest)
	case "samples":
		serveSample(w, r, rest)
	case "":
		omError(w, http.StatusNotFound, "Not found")
	default:
		if o.applyFaults(w, r) {
			return
		}
		o.serveAPI(w, r, first, rest)
	}
}

// omError writes 1msg's error body, {"error": "..."} ([SPEC] Unauthorized
// response, [SDK2] ErrorResponse).
func omError(w http.ResponseWriter, status int, msg string) {
	omWriteJSON(w, status, map[string]string{"error": msg})
}

func omWriteJSON(w http.ResponseWriter, status int, v any) {
	body, err := json.Marshal(v)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

// newNamespace makes a WABA template namespace in Meta's shape,
// "ca300906_cfbc_410b_99fb_dcee8e13d578".
func newNamespace() string {
	h := randomHex(16)
	return h[0:8] + "_" + h[8:12] + "_" + h[12:16] + "_" + h[16:20] + "_" + h[20:32]
}

// newWamid makes a WhatsApp Cloud API message id, "wamid." + base64 of a
// small binary record: the customer's number, then a random hex part (the
// layout of Meta's ids as they decode, from memory; research §2 only says
// they look like "wamid.HBgN…", and that 1msg passes them through on Cloud
// channels is UNVERIFIED). kind marks the direction in the record: 0x12 for
// inbound, 0x11 for outbound (UNVERIFIED; nothing should rely on it).
func newWamid(customerDigits string, kind byte) string {
	var b []byte
	b = append(b, 0x1c, 0x18, byte(len(customerDigits)))
	b = append(b, customerDigits...)
	b = append(b, 0x15, 0x02, 0x00, kind, 0x18, 0x14)
	b = append(b, strings.ToUpper(randomHex(10))...)
	b = append(b, 0x00)
	return "wamid." + base64.StdEncoding.EncodeToString(b)
}

var omDigits = regexp.MustCompile(`^[1-9][0-9]{6,14}$`)

func chatIDOf(e164 string) string { return strings.TrimPrefix(e164, "+") + "@c.us" }

// isOneMsgOwnHook reports whether a webhook URL is 1msg's own inbox (or
// not an http(s) URL at all); the simulator posts to every other one.
func isOneMsgOwnHook(raw string) bool {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return true
	}
	return strings.EqualFold(u.Hostname(), oneMsgInboxHost)
}

// cloneJSONValue deep-copies a decoded JSON value.
func cloneJSONValue(v any) any {
	switch v := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(v))
		for k, x := range v {
			out[k] = cloneJSONValue(x)
		}
		return out
	case []any:
		out := make([]any, len(v))
		for i, x := range v {
			out[i] = cloneJSONValue(x)
		}
		return out
	default:
		return v
	}
}

// Customers returns the numbers that have a conversation with an instance, sorted.
func (o *OneMsg) Customers(instanceID string) []string {
	o.mu.Lock()
	defer o.mu.Unlock()
	out := []string{}
	in := o.instances[instanceID]
	if in == nil {
		return out
	}
	for c, msgs := range in.convs {
		if len(msgs) > 0 {
			out = append(out, c)
		}
	}
	sort.Strings(out)
	return out
}

// applyFaults injects the configured faults, answering in 1msg's error
// format ({"error": ...}, [SDK2]; the 503 is the simulator's stand-in for
// an overloaded gateway, UNVERIFIED); it reports whether the request has
// been answered (or abandoned).
func (o *OneMsg) applyFaults(w http.ResponseWriter, r *http.Request) bool {
	f := o.currentFaults()
	return injectFaults(w, r, f.Latency, f.TimeoutRate, f.ServerErrorRate, omError)
}

// OneMsgAPIURL is a channel's API URL as 1msg shows it; in the sandbox,
// OneMsgTransport carries requests to it to the simulator.
func OneMsgAPIURL(instanceID string) string {
	return "https://" + oneMsgAPIHost + "/" + instanceID + "/"
}

const oneMsgAPIHost = "api.1msg.io"

// OneMsgTransport sends requests for https://api.1msg.io/... to the
// simulator at simulatorBaseURL, keeping path and query, and everything
// else to base (nil: http.DefaultTransport): the 1msg adapter runs as in
// production, with the API URL 1msg shows.
func OneMsgTransport(simulatorBaseURL string, base http.RoundTripper) http.RoundTripper {
	if base == nil {
		base = http.DefaultTransport
	}
	sim, err := url.Parse(strings.TrimRight(simulatorBaseURL, "/"))
	return roundTripFunc(func(req *http.Request) (*http.Response, error) {
		if req.URL.Hostname() != oneMsgAPIHost {
			return base.RoundTrip(req)
		}
		if err != nil {
			return nil, fmt.Errorf("sandbox: bad simulator URL %q: %w", simulatorBaseURL, err)
		}
		out := req.Clone(req.Context())
		u := *req.URL
		u.Scheme, u.Host = sim.Scheme, sim.Host
		u.Path = sim.Path + req.URL.Path
		u.RawPath = ""
		out.URL = &u
		out.Host = ""
		return base.RoundTrip(out)
	})
}
