package twilio_test

import (
	"bytes"
	"encoding/json"
	"image"
	"image/color"
	"image/png"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"sync"
	"testing"

	"parley/internal/channel"
	"parley/internal/channel/twilio"
	"parley/internal/sandbox"
)

// Credentials of the simulated account. twilio-go refuses non-alphanumeric
// SIDs and tokens locally, so these are plain hex.
const (
	testAccount  = "AC0123456789abcdef0123456789abcdef"
	testToken    = "0123456789abcdef0123456789abcdef"
	otherToken   = "fedcba9876543210fedcba9876543210" // another integration's token
	testSender   = "+14155238886"                     // Twilio's WhatsApp sandbox number
	testCustomer = "+15005550006"
)

var (
	smSid = regexp.MustCompile(`^SM[0-9a-f]{32}$`)
	mmSid = regexp.MustCompile(`^MM[0-9a-f]{32}$`)
)

// hookCall is one request the simulator made to Parley's webhook, as a real
// handler sees it.
type hookCall struct {
	URL       string     // the public URL the simulator called: scheme, host, path and query
	Path      string     // r.URL.Path
	Form      url.Values // r.PostForm: the POSTed parameters only
	Merged    url.Values // r.Form: POSTed parameters and the URL's query together
	Signature string     // X-Twilio-Signature
}

// hookRecorder stands in for Parley's integration webhook: it answers
// empty TwiML and keeps every request for the test to inspect.
type hookRecorder struct {
	srv   *httptest.Server
	mu    sync.Mutex
	calls []hookCall
}

func newHookRecorder(t *testing.T) *hookRecorder {
	t.Helper()
	h := &hookRecorder{}
	h.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := r.ParseForm(); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		c := hookCall{
			// httptest serves plain http; the Host header is the host the
			// simulator dialled, so this is exactly the URL it called.
			URL:       "http://" + r.Host + r.URL.RequestURI(),
			Path:      r.URL.Path,
			Form:      r.PostForm,
			Merged:    r.Form,
			Signature: r.Header.Get("X-Twilio-Signature"),
		}
		h.mu.Lock()
		h.calls = append(h.calls, c)
		h.mu.Unlock()
		w.Header().Set("Content-Type", "text/xml")
		_, _ = io.WriteString(w, `<?xml version="1.0" encoding="UTF-8"?><Response></Response>`)
	}))
	t.Cleanup(h.srv.Close)
	return h
}

// Calls returns the requests received so far, oldest first.
func (h *hookRecorder) Calls() []hookCall {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]hookCall(nil), h.calls...)
}

// statusCalls returns the status callbacks received for one message, oldest first.
func (h *hookRecorder) statusCalls(sid string) []hookCall {
	var out []hookCall
	for _, c := range h.Calls() {
		if c.Form.Get("MessageSid") == sid && c.Form.Get("MessageStatus") != "" {
			out = append(out, c)
		}
	}
	return out
}

// env is a simulated Twilio account with one WhatsApp sender whose webhook
// is a hookRecorder, and an adapter client pointed at the simulator.
type env struct {
	sim     *sandbox.Twilio
	api     *httptest.Server // serves sim.Handler()
	hook    *hookRecorder
	hookURL string // the sender's webhook URL (with a query string, as Parley's may have)
	client  *twilio.Client
}

func newEnv(t *testing.T) *env {
	t.Helper()
	sim := sandbox.NewTwilio(sandbox.TwilioOptions{Logger: slog.New(slog.DiscardHandler)})
	api := httptest.NewServer(sim.Handler())
	t.Cleanup(api.Close)
	sim.SetPublicURL(api.URL)
	hook := newHookRecorder(t)
	sim.AddAccount(testAccount, testToken, "Parley test")
	hookURL := hook.srv.URL + "/webhooks/twilio/int-1?tenant=demo"
	sim.AddSender(testAccount, testSender, hookURL)
	// Registered last, so it runs first: no status callback is still being
	// posted when the servers close.
	t.Cleanup(sim.WaitIdle)
	return &env{
		sim: sim, api: api, hook: hook, hookURL: hookURL,
		client: twilio.New(testAccount, testToken, testSender, sandbox.TwilioTransport(api.URL, nil)),
	}
}

// customerSends makes the customer's phone send a message and returns the
// webhook call it produced. It opens the 24-hour window as a side effect.
func (e *env) customerSends(t *testing.T, in sandbox.InboundMessage) hookCall {
	t.Helper()
	if in.From == "" {
		in.From = testCustomer
	}
	if in.To == "" {
		in.To = testSender
	}
	sid, err := e.sim.CustomerSends(t.Context(), in)
	if err != nil {
		t.Fatalf("CustomerSends: %v", err)
	}
	// CustomerSends posts the webhook before it returns.
	for _, c := range e.hook.Calls() {
		if c.Form.Get("MessageSid") == sid {
			return c
		}
	}
	t.Fatalf("no webhook for inbound message %s", sid)
	return hookCall{}
}

// fakeAPI starts a server standing in for api.twilio.com and returns an
// adapter client that reaches it.
func fakeAPI(t *testing.T, h http.HandlerFunc) *twilio.Client {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return twilio.New(testAccount, testToken, testSender, sandbox.TwilioTransport(srv.URL, nil))
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// pngBytes is a small valid PNG.
func pngBytes(t *testing.T) []byte {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, 4, 4))
	for x := range 4 {
		img.Set(x, x, color.RGBA{R: 200, A: 255})
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// patterned returns n bytes that are not all alike, so truncation or
// reordering shows.
func patterned(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i*7 + i/251)
	}
	return b
}

// channelText is a text message to the test customer.
func channelText(body, statusCallback string) channel.Outgoing {
	return channel.Outgoing{To: testCustomer, Body: body, StatusCallback: statusCallback}
}
