package sandbox

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha1"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"regexp"
	"sort"
	"strings"
	"sync"
	"time"
)

// TwilioOptions configures a Twilio simulator. The zero value is usable.
type TwilioOptions struct {
	// Now is the simulator's clock: message dates, the 24-hour window and
	// the expiry of CDN media links follow it. Default time.Now.
	Now func() time.Time
	// HTTPClient posts webhooks and status callbacks and downloads the
	// media of outbound messages. Default: a client with a 10 s timeout.
	HTTPClient *http.Client
	// Logger receives delivery failures and other events. Default slog.Default().
	Logger *slog.Logger
	// PublicURL is the simulator's own base URL as clients reach it, e.g.
	// "http://127.0.0.1:5555/sandbox/twilio". Inbound MediaUrlN values and
	// CDN redirects are built from it. It can be set later with SetPublicURL.
	PublicURL string
	// StatusDelay is the pause before each status callback step
	// (queued→sent→delivered→read). Zero means no pause; the callbacks are
	// still posted from a goroutine, never inline. 50 ms gives the demo a
	// visible pace (DefaultStatusDelay).
	StatusDelay time.Duration
}

// DefaultStatusDelay is a status callback pace that a person can watch.
const DefaultStatusDelay = 50 * time.Millisecond

// Twilio simulates the parts of Twilio's HTTP API that Parley uses for
// WhatsApp (accounts, messages, media, Content API templates) and the
// customers' WhatsApp phones that talk to the simulated senders.
//
// Routes served by Handler, relative to PublicURL:
//
//	GET  /api/2010-04-01/Accounts/{Sid}.json
//	POST /api/2010-04-01/Accounts/{AccountSid}/Messages.json
//	GET  /api/2010-04-01/Accounts/{AccountSid}/Messages/{Sid}.json
//	GET  /api/2010-04-01/Accounts/{AccountSid}/Messages/{MessageSid}/Media/{Sid}[.json]
//	GET  /content/v1/ContentAndApprovals
//	GET  /content/v1/Content, /content/v1/Content/{Sid}, /content/v1/Content/{Sid}/ApprovalRequests
//	GET  /cdn/{token}                     short-lived media links (no auth)
//	POST /phone/send                      a customer's phone sends (JSON, form or multipart)
//	GET  /phone/messages?sender=&customer= what the customer's phone shows
//	GET  /phone/customers?sender=         customers who talk to a sender
//	GET  /phone/media/{Sid}               media as the phone shows it (no auth)
//
// A Twilio is safe for concurrent use.
type Twilio struct {
	now         func() time.Time
	client      *http.Client
	log         *slog.Logger
	statusDelay time.Duration
	observer    attemptObserver

	mu        sync.Mutex
	idle      *sync.Cond // signalled when inflight drops to zero
	inflight  int        // accepted messages whose status callbacks are not all posted
	publicURL string
	faults    TwilioFaults
	accounts  map[string]*twAccount   // by account SID
	senders   map[string]*twSender    // by "+E164"
	messages  map[string]*twMessage   // by message SID
	convs     map[string][]*twMessage // by convKey(sender, customer), oldest first
	lastIn    map[string]time.Time    // last inbound message per convKey: the 24-hour window
	userIDs   map[string]string       // customers' business-scoped user ids (BSUID) → their "+E164"
	media     map[string]*twMedia     // by media SID
	cdn       map[string]*cdnLink     // by random token
	templates map[string]*twTemplate  // by content SID
	tplOrder  map[string][]string     // account SID → content SIDs, in creation order
	sent      map[string][]SentMessage
}

type twAccount struct {
	sid, token, name string
	created          time.Time
}

type twSender struct {
	account string
	number  string // +E164
	webhook string
	install string // ChannelInstallSid (XE…), stable per sender
}

type twMessage struct {
	sid, account     string
	direction        string // "inbound" or "outbound-api"
	from, to         string // channel addresses, "whatsapp:+E164"
	sender, customer string // "+E164"
	body             string
	media            []*twMedia
	buttons          []string
	buttonIDs        []string
	contentSid       string
	status           string
	errorCode        int
	errorMessage     string
	statusCallback   string
	created, updated time.Time
	sentAt           time.Time
}

type twMedia struct {
	sid, account, message string
	contentType, filename string
	data                  []byte
	created               time.Time
}

type cdnLink struct {
	media   *twMedia
	expires time.Time
}

type twTemplate struct {
	sid, account string
	tpl          Template
	created      time.Time
}

// TwilioFaults makes the simulated API misbehave, for fault tests and
// benchmarks. The zero value means no faults.
type TwilioFaults struct {
	// Latency is added before answering every API request (/api and /content).
	Latency time.Duration
	// ServerErrorRate is the share (0..1) of API requests answered with a
	// 500 or 503 and a Twilio JSON error body.
	ServerErrorRate float64
	// TimeoutRate is the share (0..1) of API requests that hang until the
	// client gives up (the request's context ends).
	TimeoutRate float64
	// DuplicateDeliveries is how many extra times every webhook and status
	// callback is posted (same MessageSid, same signature), as Twilio's
	// retries do.
	DuplicateDeliveries int
	// LostAnswerRate is the share (0..1) of accepted message creates whose
	// answer is lost (LostAnswers, all kinds when empty): the message
	// exists and goes out, the client cannot know.
	LostAnswerRate float64
	LostAnswers    []LostAnswer
	// ShuffleCallbacks posts each message's status callbacks in a random
	// order, as Twilio does not promise their order.
	ShuffleCallbacks bool
	// UndeliveredRate is the share (0..1) of accepted messages that end
	// "undelivered" (63024, the recipient cannot receive it) after "sent".
	UndeliveredRate float64
	// CallbackLossRate is the share (0..1) of accepted messages none of
	// whose status callbacks arrive, as when Twilio gave up retrying them:
	// the message still moves on, and fetching it shows where it stands.
	CallbackLossRate float64
}

// Template is a Content API template (a WhatsApp message template).
type Template struct {
	FriendlyName string
	// Language is a WhatsApp language code: "en", "es", "pt_BR", "de"...
	Language string
	// Body is the text, with {{1}}, {{2}}... placeholders.
	Body string
	// Variables are the sample (default placeholder) values, e.g. {"1": "Customer name"}.
	Variables map[string]string
	// QuickReplies, when non-empty, make a twilio/quick-reply template with
	// these button titles; otherwise the template is twilio/text.
	QuickReplies []string
	// Status is the WhatsApp approval status: "approved", "pending",
	// "rejected", "unsubmitted" ("paused" and "disabled" also work).
	// Empty means "approved".
	Status string
	// Types, when set, are the Content API types served as they are
	// (twilio/media, twilio/call-to-action, twilio/card, whatsapp/card,
	// whatsapp/authentication, twilio/list-picker…, in the API's JSON
	// shapes); Body and QuickReplies are then not used.
	Types map[string]any
}

// SentMessage is one Messages create that the API accepted (201), with the
// exact form parameters it received.
type SentMessage struct {
	Sid    string
	Params url.Values
	At     time.Time
}

// NewTwilio returns a simulator with no accounts.
func NewTwilio(opts TwilioOptions) *Twilio {
	t := &Twilio{
		now:         opts.Now,
		client:      opts.HTTPClient,
		log:         opts.Logger,
		statusDelay: opts.StatusDelay,
		publicURL:   strings.TrimRight(opts.PublicURL, "/"),
		accounts:    map[string]*twAccount{},
		senders:     map[string]*twSender{},
		messages:    map[string]*twMessage{},
		convs:       map[string][]*twMessage{},
		lastIn:      map[string]time.Time{},
		userIDs:     map[string]string{},
		media:       map[string]*twMedia{},
		cdn:         map[string]*cdnLink{},
		templates:   map[string]*twTemplate{},
		tplOrder:    map[string][]string{},
		sent:        map[string][]SentMessage{},
	}
	t.idle = sync.NewCond(&t.mu)
	if t.now == nil {
		t.now = time.Now
	}
	if t.client == nil {
		t.client = &http.Client{Timeout: 10 * time.Second}
	}
	if t.log == nil {
		t.log = slog.Default()
	}
	if t.statusDelay < 0 {
		t.statusDelay = 0
	}
	return t
}

// WaitIdle blocks until every message the API has accepted so far has been
// processed and all its status callbacks posted. Tests use it instead of
// sleeping.
func (t *Twilio) WaitIdle() {
	t.mu.Lock()
	defer t.mu.Unlock()
	for t.inflight > 0 {
		t.idle.Wait()
	}
}

// SetPublicURL sets the simulator's own base URL as clients reach it.
func (t *Twilio) SetPublicURL(u string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.publicURL = strings.TrimRight(u, "/")
}

// AddAccount creates (or replaces) an account. sid is "AC" + 32 hex digits;
// authToken must be alphanumeric (twilio-go refuses other characters locally).
func (t *Twilio) AddAccount(sid, authToken, friendlyName string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	created := t.now()
	if old, ok := t.accounts[sid]; ok {
		created = old.created
	}
	t.accounts[sid] = &twAccount{sid: sid, token: authToken, name: friendlyName, created: created}
}

// AddSender registers a WhatsApp sender ("+E164") on an account. Inbound
// messages for it are POSTed to webhookURL, which is also the status
// callback URL for messages created without a StatusCallback (Parley's
// integration webhook URL goes into every field of Twilio's sender
// "Endpoint configuration").
func (t *Twilio) AddSender(accountSid, sender, webhookURL string) {
	sender = normalizeNumber(sender)
	t.mu.Lock()
	defer t.mu.Unlock()
	install := "XE" + randomHex(16)
	if old, ok := t.senders[sender]; ok {
		install = old.install
	}
	t.senders[sender] = &twSender{account: accountSid, number: sender, webhook: webhookURL, install: install}
}

// SetFaults replaces the fault settings.
func (t *Twilio) SetFaults(f TwilioFaults) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.faults = f
}

func (t *Twilio) currentFaults() TwilioFaults {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.faults
}

// Sent returns every Messages create the API accepted for an account, oldest first.
func (t *Twilio) Sent(accountSid string) []SentMessage {
	t.mu.Lock()
	defer t.mu.Unlock()
	out := make([]SentMessage, 0, len(t.sent[accountSid]))
	for _, s := range t.sent[accountSid] {
		s.Params = cloneValues(s.Params)
		out = append(out, s)
	}
	return out
}

// AddTemplate stores a Content API template on an account and returns its
// content SID ("HX" + 32 hex digits).
func (t *Twilio) AddTemplate(accountSid string, tpl Template) (contentSid string) {
	if tpl.Status == "" {
		tpl.Status = "approved"
	}
	tpl.Variables = cloneStrings(tpl.Variables)
	tpl.QuickReplies = append([]string(nil), tpl.QuickReplies...)
	sid := "HX" + randomHex(16)
	t.mu.Lock()
	defer t.mu.Unlock()
	t.templates[sid] = &twTemplate{sid: sid, account: accountSid, tpl: tpl, created: t.now()}
	t.tplOrder[accountSid] = append(t.tplOrder[accountSid], sid)
	return sid
}

// RemoveTemplate deletes a template; sending it afterwards fails with 21655.
func (t *Twilio) RemoveTemplate(accountSid, contentSid string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	tp, ok := t.templates[contentSid]
	if !ok || tp.account != accountSid {
		return
	}
	delete(t.templates, contentSid)
	order := t.tplOrder[accountSid]
	for i, s := range order {
		if s == contentSid {
			t.tplOrder[accountSid] = append(order[:i:i], order[i+1:]...)
			break
		}
	}
}

// SetTemplateStatus changes a template's WhatsApp approval status, as
// Meta does when it pauses, disables or approves a template.
func (t *Twilio) SetTemplateStatus(accountSid, contentSid, status string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if tp, ok := t.templates[contentSid]; ok && tp.account == accountSid {
		tp.tpl.Status = status
	}
}

// SeedDemoTemplates adds a realistic set of templates to an account: several
// languages, with and without variables, a quick-reply template, a pending
// one and a rejected one.
func (t *Twilio) SeedDemoTemplates(accountSid string) {
	for _, tpl := range []Template{
		{
			FriendlyName: "order_shipped", Language: "en",
			Body:      "Hi {{1}}, your order {{2}} has shipped and should arrive on {{3}}.",
			Variables: map[string]string{"1": "Customer name", "2": "Order number", "3": "Delivery date"},
		},
		{
			FriendlyName: "conversation_follow_up", Language: "en",
			Body: "Hello! We have an update on your request. Reply to this message to continue the conversation.",
		},
		{
			FriendlyName: "issue_resolved_check", Language: "en",
			Body:         "Hi {{1}}, was your issue resolved?",
			Variables:    map[string]string{"1": "Customer name"},
			QuickReplies: []string{"Yes", "No", "Talk to an agent"},
		},
		{
			FriendlyName: "seguimiento_pedido", Language: "es",
			Body:      "Hola {{1}}, tu pedido {{2}} está en camino.",
			Variables: map[string]string{"1": "Nombre", "2": "Número de pedido"},
		},
		{
			FriendlyName: "atualizacao_atendimento", Language: "pt_BR",
			Body: "Olá! Seu atendimento foi atualizado. Responda a esta mensagem para continuar a conversa.",
		},
		{
			FriendlyName: "terminerinnerung", Language: "de",
			Body:      "Hallo {{1}}, wir erinnern Sie an Ihren Termin am {{2}}.",
			Variables: map[string]string{"1": "Name", "2": "Datum"},
		},
		{
			FriendlyName: "spring_sale", Language: "en",
			Body:      "Spring sale! Get {{1}} off every plan until Sunday.",
			Variables: map[string]string{"1": "20%"},
			Status:    "pending",
		},
		{
			FriendlyName: "account_verification", Language: "en",
			Body:      "{{1}}",
			Variables: map[string]string{"1": "Verify your account now"},
			Status:    "rejected",
		},
	} {
		t.AddTemplate(accountSid, tpl)
	}
	for _, tpl := range t.richDemoTemplates() {
		t.AddTemplate(accountSid, tpl)
	}
}

// richDemoTemplates are one template of every other content type: media
// (a fixed image), call-to-action (a link with a variable end and a call
// button), twilio/card, whatsapp/card, whatsapp/authentication, and two
// that Parley cannot send: a list picker (session-only content) and an
// approved carousel. Their media are the simulator's samples.
func (t *Twilio) richDemoTemplates() []Template {
	samples := t.publicURL + "/samples/"
	return []Template{
		{
			FriendlyName: "spring_menu", Language: "en",
			Variables: map[string]string{"1": "Customer name"},
			Types: map[string]any{
				"twilio/media": map[string]any{"body": "Hi {{1}}, our spring menu is here!", "media": []any{samples + SampleImage}},
			},
		},
		{
			FriendlyName: "track_order", Language: "en",
			Variables: map[string]string{"1": "Customer name", "2": "Order number", "3": "AB12CD"},
			Types: map[string]any{
				"twilio/call-to-action": map[string]any{
					"body": "Hi {{1}}, your order {{2}} is on its way.",
					"actions": []any{
						map[string]any{"type": "URL", "title": "Track order", "url": "https://track.example.com/{{3}}"},
						map[string]any{"type": "PHONE_NUMBER", "title": "Call us", "phone": "+15550001111"},
					},
				},
			},
		},
		{
			FriendlyName: "welcome_card", Language: "en",
			Variables: map[string]string{"1": "Customer name"},
			Types: map[string]any{
				"twilio/card": map[string]any{
					"title": "Welcome to Demo Company, {{1}}!", "subtitle": "Reply any time to talk to us",
					"media": []any{samples + "welcome.png"},
					"actions": []any{
						map[string]any{"type": "QUICK_REPLY", "title": "Talk to an agent", "id": "agent"},
						map[string]any{"type": "URL", "title": "Visit our site", "url": "https://www.example.com/"},
					},
				},
			},
		},
		{
			FriendlyName: "appointment_card", Language: "en",
			Variables: map[string]string{"1": "Customer name", "2": "Date and time"},
			Types: map[string]any{
				"whatsapp/card": map[string]any{
					"header_text": "Your appointment", "body": "Hi {{1}}, we look forward to seeing you on {{2}}.",
					"footer": "Reply to change the time",
					"actions": []any{
						map[string]any{"type": "PHONE_NUMBER", "title": "Call the clinic", "phone": "+15550003333"},
					},
				},
			},
		},
		{
			FriendlyName: "login_code", Language: "en",
			Types: map[string]any{
				"whatsapp/authentication": map[string]any{
					"add_security_recommendation": true, "code_expiration_minutes": 10,
					"actions": []any{map[string]any{"type": "COPY_CODE", "copy_code_text": "Copy code"}},
				},
			},
		},
		{
			FriendlyName: "choose_department", Language: "en", Status: "unsubmitted",
			Types: map[string]any{
				"twilio/list-picker": map[string]any{
					"body": "Which team would you like to talk to?", "button": "Choose",
					"items": []any{
						map[string]any{"id": "sales", "item": "Sales"},
						map[string]any{"id": "support", "item": "Support", "description": "Orders and returns"},
					},
				},
			},
		},
		{
			FriendlyName: "summer_collection", Language: "en",
			Types: map[string]any{
				"twilio/carousel": map[string]any{
					"body": "Our summer collection",
					"cards": []any{map[string]any{
						"title": "Sunglasses", "body": "UV400, three colours", "media": samples + "welcome.png",
						"actions": []any{map[string]any{"type": "URL", "title": "Buy", "url": "https://www.example.com/sunglasses"}},
					}},
				},
			},
		},
	}
}

// Handler serves all simulator routes relative to PublicURL; mount it with
// http.StripPrefix when PublicURL has a path.
func (t *Twilio) Handler() http.Handler {
	return http.HandlerFunc(t.serveHTTP)
}

func (t *Twilio) serveHTTP(w http.ResponseWriter, r *http.Request) {
	p := r.URL.Path
	switch {
	case strings.HasPrefix(p, "/api/"):
		if t.applyFaults(w, r) {
			return
		}
		t.serveAPI(w, r, strings.TrimPrefix(p, "/api"))
	case strings.HasPrefix(p, "/content/"):
		if t.applyFaults(w, r) {
			return
		}
		t.serveContent(w, r, strings.TrimPrefix(p, "/content"))
	case strings.HasPrefix(p, "/cdn/"):
		t.serveCDN(w, r, strings.TrimPrefix(p, "/cdn/"))
	case strings.HasPrefix(p, "/samples/"):
		serveSample(w, r, strings.TrimPrefix(p, "/samples/"))
	case strings.HasPrefix(p, "/phone/"):
		t.servePhone(w, r, strings.TrimPrefix(p, "/phone"))
	default:
		notFound(w, p)
	}
}

// Error codes the simulator answers with. Titles and behaviour are from
// Twilio's error dictionary, https://www.twilio.com/docs/api/errors/<code>,
// unless a comment says otherwise.
const (
	// codeAuthenticate: HTTP 401 "Authenticate" for wrong or missing
	// credentials; body as quoted in the brief and in twilio-go's error
	// handling (client/error.go). Source: twilio.com/docs/errors/20003.
	codeAuthenticate = 20003
	// codeInvalidParameter: 20001 "Invalid parameter" for malformed
	// requests (bad PageSize, unreadable body). UNVERIFIED, from memory.
	codeInvalidParameter = 20001
	// codeMethodNotAllowed: UNVERIFIED (from memory of Twilio's dictionary, 20004 "Method not allowed").
	codeMethodNotAllowed = 20004
	// codeNotFound: "The requested resource ... was not found", HTTP 404.
	codeNotFound = 20404
	// codeInternalError / codeServiceUnavailable: 20500 "Internal Server
	// Error" and 20503 "Service Unavailable". UNVERIFIED, from memory.
	codeInternalError      = 20500
	codeServiceUnavailable = 20503
	// codeInvalidTo: 21211 "Invalid 'To' Phone Number" (sync 400).
	codeInvalidTo = 21211
	// codeFromRequired: 21603 "'From' phone number is required". UNVERIFIED, from memory.
	codeFromRequired = 21603
	// codeToRequired: 21604 "'To' phone number is required to send a Message".
	codeToRequired = 21604
	// codeFromNotMessaging: 21606 "The 'From' phone number provided is not a
	// valid message-capable Twilio phone number for this destination/account".
	// Used for non-WhatsApp From addresses, which this simulator has none of.
	codeFromNotMessaging = 21606
	// codeBodyRequired: 21619 "A text message body or media urls must be specified".
	codeBodyRequired = 21619
	// codeTooManyMedia: 21623 "Number of media files exceeds allowed limit" (10).
	// Source: twilio.com/docs/api/errors/21623.
	codeTooManyMedia = 21623
	// codeContentSidRequired: 21654 "ContentSid Required" when ContentVariables
	// come without ContentSid. Source: twilio.com/docs/api/errors/21654.
	codeContentSidRequired = 21654
	// codeContentSidInvalid: 21655 "The ContentSid is Invalid" — malformed,
	// deleted, or another account's template. Source: twilio.com/docs/api/errors/21655.
	codeContentSidInvalid = 21655
	// codeContentVariablesInvalid: 21656 "The ContentVariables Parameter is
	// invalid" — not a JSON string, a null or empty value, or a value with a
	// newline, a tab or more than four consecutive spaces.
	// Source: twilio.com/docs/api/errors/21656. That it is synchronous (HTTP
	// 400 on create) is inferred from the 21xxx family being REST validation
	// errors and public reports of messages.create throwing it; UNVERIFIED.
	codeContentVariablesInvalid = 21656
	// codeParameterTooLong: 21658 "Parameter exceeded character limit" — a
	// content variable over 1,600 characters.
	// Source: twilio.com/docs/api/errors/21658.
	codeParameterTooLong = 21658
	// codeBodyTooLong: 21617 "The concatenated message body exceeds the
	// 1600 character limit", answered to a create with a longer Body (the
	// text quoted from real answers in twilio/twilio-node#327 and
	// simpleiot/simpleiot#117). Source: twilio.com/docs/api/errors/21617.
	codeBodyTooLong = 21617
	// codeChannelMismatch: 21910 "Invalid From and To pair. From and To
	// should be of the same channel". Source: Twilio's answer quoted in
	// github.com/microsoft/botbuilder-dotnet/issues/5569.
	codeChannelMismatch = 21910
	// codeMediaTooLarge: 11751 "Media Message - Media exceeds messaging
	// provider size limit"; for WhatsApp 16 MB (images 5 MB per
	// twilio.com/docs/whatsapp/guidance-whatsapp-media-messages).
	// Source: twilio.com/docs/api/errors/11751. Async (the media is fetched
	// after the create answered).
	codeMediaTooLarge = 11751
	// codeFromNotChannel: 63007 "Twilio could not find a Channel with the
	// specified From address", returned synchronously as HTTP 400 — see the
	// verbatim body in github.com/freescout-help-desk/freescout/issues/3595
	// and the "HTTP 400 error: Unable to create record" trace in
	// github.com/kartik-nighania/whatsapp_with_aws_lambda/issues/3. Twilio
	// uses 63007, not 21606, for an unknown whatsapp: From.
	codeFromNotChannel = 63007
	// codeOutsideWindow: 63016 "Failed to send freeform message because you
	// are outside the allowed window. If you are using WhatsApp, please use a
	// Message Template." Async. Source: twilio.com/docs/api/errors/63016.
	codeOutsideWindow = 63016
	// codeMediaDownload: 63019 "Media failed to download" — the download
	// failed or returned 0 bytes. Source: twilio.com/docs/api/errors/63019.
	codeMediaDownload = 63019
	// codeInvalidContent: 63021 "Channel invalid content error" — media of a
	// MIME type WhatsApp does not support. Source: twilio.com/docs/api/errors/63021.
	codeInvalidContent = 63021
	// codeTemplateParams: 63028 "Number of parameters provided does not
	// match the expected number of parameters". Source:
	// twilio.com/docs/api/errors/63028. Twilio falls back to the template's
	// default placeholder values (its "variables") for omitted keys, so this
	// only fires when a placeholder has neither a value nor a default.
	codeTemplateParams = 63028
	// codeTemplateRejected: 63040 "Template Rejected" — the template was
	// rejected by WhatsApp. Source: twilio.com/docs/api/errors/63040.
	codeTemplateRejected = 63040
	// codeTemplatePaused / codeTemplateDisabled: 63041 "Template paused",
	// 63042 "Template disabled". UNVERIFIED, from memory of the dictionary.
	codeTemplatePaused   = 63041
	codeTemplateDisabled = 63042
	// codeUndeliverable: 63024 "Invalid message recipient" — WhatsApp
	// took the message but cannot deliver it to this recipient; the
	// message ends "undelivered". Source: twilio.com/docs/api/errors/63024.
	codeUndeliverable = 63024
)

// errorMessages are the texts that go with the asynchronous error codes
// (ErrorMessage in status callbacks, error_message in the Message resource).
var errorMessages = map[int]string{
	codeMediaTooLarge:    "Media exceeds messaging provider size limit",
	codeOutsideWindow:    "Failed to send freeform message because you are outside the allowed window. If you are using WhatsApp, please use a Message Template.",
	codeMediaDownload:    "Media failed to download",
	codeInvalidContent:   "Channel invalid content error",
	codeTemplateParams:   "Number of parameters provided does not match the expected number of parameters",
	codeTemplateRejected: "Template Rejected",
	codeTemplatePaused:   "Template paused",
	codeTemplateDisabled: "Template disabled",
	codeUndeliverable:    "Invalid message recipient",
}

// apiError is Twilio's JSON error body; twilio-go decodes it into
// *client.TwilioRestError.
type apiError struct {
	Code     int    `json:"code"`
	Message  string `json:"message"`
	MoreInfo string `json:"more_info"`
	Status   int    `json:"status"`
}

func writeError(w http.ResponseWriter, status, code int, message string) {
	writeJSON(w, status, apiError{
		Code:     code,
		Message:  message,
		MoreInfo: fmt.Sprintf("https://www.twilio.com/docs/errors/%d", code),
		Status:   status,
	})
}

func notFound(w http.ResponseWriter, path string) {
	writeError(w, http.StatusNotFound, codeNotFound, fmt.Sprintf("The requested resource %s was not found", path))
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	body, err := json.Marshal(v)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Twilio-Request-Id", "RQ"+randomHex(16))
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

// authenticate checks HTTP Basic credentials (account SID and auth token)
// and answers 401 20003 when they are wrong.
func (t *Twilio) authenticate(w http.ResponseWriter, r *http.Request) (*twAccount, bool) {
	user, pass, ok := r.BasicAuth()
	var acct *twAccount
	if ok {
		t.mu.Lock()
		a := t.accounts[user]
		t.mu.Unlock()
		if a != nil && subtle.ConstantTimeCompare([]byte(a.token), []byte(pass)) == 1 {
			acct = a
		}
	}
	if acct == nil {
		w.Header().Set("WWW-Authenticate", `Basic realm="Twilio API"`)
		writeError(w, http.StatusUnauthorized, codeAuthenticate, "Authenticate")
		return nil, false
	}
	return acct, true
}

// SignTwilio computes the X-Twilio-Signature of a request Twilio makes to
// rawURL with the given POST parameters: HMAC-SHA1, keyed with the auth
// token, over the URL followed by every parameter's name and value with
// names sorted byte-wise, base64-encoded
// (twilio-go client/request_validator.go). A repeated name contributes
// each of its values in order.
//
// A fragment of rawURL (Twilio's connection overrides, #rc=5&rp=all) is
// left out: a request never carries its URL's fragment (RFC 3986 §3.5),
// and Twilio signs "the exact webhook URL Twilio requested"
// (twilio.com/docs/api/errors/57012), which the receiver can rebuild.
func SignTwilio(authToken, rawURL string, params url.Values) string {
	rawURL, _, _ = strings.Cut(rawURL, "#")
	keys := make([]string, 0, len(params))
	for k := range params {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	b.WriteString(rawURL)
	for _, k := range keys {
		for _, v := range params[k] {
			b.WriteString(k)
			b.WriteString(v)
		}
	}
	mac := hmac.New(sha1.New, []byte(authToken))
	mac.Write([]byte(b.String()))
	return base64.StdEncoding.EncodeToString(mac.Sum(nil))
}

// TwilioTransport returns a RoundTripper that sends twilio-go's requests to
// the simulator: https://api.twilio.com/... goes to {sim}/api/... and
// https://content.twilio.com/... to {sim}/content/..., keeping path and
// query; edge/region hosts (api.dublin.ie1.twilio.com) are rewritten too.
// Other requests pass through unchanged. base nil means http.DefaultTransport.
func TwilioTransport(simulatorBaseURL string, base http.RoundTripper) http.RoundTripper {
	if base == nil {
		base = http.DefaultTransport
	}
	sim, err := url.Parse(strings.TrimRight(simulatorBaseURL, "/"))
	return roundTripFunc(func(req *http.Request) (*http.Response, error) {
		if err != nil {
			return nil, fmt.Errorf("sandbox: bad simulator URL %q: %w", simulatorBaseURL, err)
		}
		host := req.URL.Hostname()
		if !strings.HasSuffix(host, ".twilio.com") {
			return base.RoundTrip(req)
		}
		var prefix string
		switch product, _, _ := strings.Cut(host, "."); product {
		case "api":
			prefix = "/api"
		case "content":
			prefix = "/content"
		default:
			return base.RoundTrip(req)
		}
		out := req.Clone(req.Context())
		u := *req.URL
		u.Scheme = sim.Scheme
		u.Host = sim.Host
		u.Path = sim.Path + prefix + req.URL.Path
		if req.URL.RawPath != "" {
			u.RawPath = sim.EscapedPath() + prefix + req.URL.RawPath
		}
		out.URL = &u
		out.Host = ""
		return base.RoundTrip(out)
	})
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

var e164 = regexp.MustCompile(`^\+[1-9][0-9]{6,14}$`)

// bsuidRe is a business-scoped user id: country code, ".", optional
// "ENT.", letters and digits (Meta's "Business-scoped user IDs").
var bsuidRe = regexp.MustCompile(`^[A-Z]{2}\.(ENT\.)?[A-Za-z0-9]{1,128}$`)

// normalizeNumber turns user input ("whatsapp:+1555…", "1555…", or a "+"
// that a query string decoded into a space) into "+E164".
func normalizeNumber(s string) string {
	s = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(s), "whatsapp:"))
	if s != "" && s[0] >= '0' && s[0] <= '9' {
		s = "+" + s
	}
	return s
}

func convKey(sender, customer string) string { return sender + "|" + customer }

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func rfc2822(t time.Time) string { return t.UTC().Format(time.RFC1123Z) }

func cloneValues(v url.Values) url.Values {
	out := make(url.Values, len(v))
	for k, vs := range v {
		out[k] = append([]string(nil), vs...)
	}
	return out
}

func cloneStrings(m map[string]string) map[string]string {
	if m == nil {
		return nil
	}
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

// applyFaults injects the configured faults, answering in Twilio's error
// format; it reports whether the request has been answered (or abandoned).
func (t *Twilio) applyFaults(w http.ResponseWriter, r *http.Request) bool {
	f := t.currentFaults()
	return injectFaults(w, r, f.Latency, f.TimeoutRate, f.ServerErrorRate, func(w http.ResponseWriter, status int, msg string) {
		code := codeServiceUnavailable
		if status == http.StatusInternalServerError {
			code = codeInternalError
		}
		writeError(w, status, code, msg)
	})
}

// baseURL is PublicURL, or when it is unset, the base the request came in on.
func (t *Twilio) baseURL(r *http.Request) string {
	t.mu.Lock()
	pub := t.publicURL
	t.mu.Unlock()
	return requestBase(pub, r)
}
