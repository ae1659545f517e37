package sandbox

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twilio/twilio-go"
	"github.com/twilio/twilio-go/client"
	api "github.com/twilio/twilio-go/rest/api/v2010"
	content "github.com/twilio/twilio-go/rest/content/v1"
)

const (
	testAccount  = "AC0123456789abcdef0123456789abcdef"
	testToken    = "0123456789abcdef0123456789abcdef"
	testSender   = "+14155238886"
	testCustomer = "+15005550006"
)

// fakeClock moves only when told to.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// webhookCall is one request the simulator made to Parley's webhook.
type webhookCall struct {
	params   url.Values
	header   http.Header
	sigValid bool // twilio-go's RequestValidator accepted X-Twilio-Signature
}

// fakeParley stands in for Parley's integration webhook: it checks every
// request's signature with twilio-go and queues it for the test.
type fakeParley struct {
	srv    *httptest.Server
	calls  chan webhookCall
	status atomic.Int32
}

func newFakeParley(t *testing.T, token string) *fakeParley {
	f := &fakeParley{calls: make(chan webhookCall, 1000)}
	f.status.Store(http.StatusOK)
	validator := client.NewRequestValidator(token)
	f.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		full := f.srv.URL + r.URL.RequestURI()
		sig := r.Header.Get("X-Twilio-Signature")
		params, err := url.ParseQuery(string(body))
		flat := map[string]string{}
		for k, v := range params {
			flat[k] = v[0]
		}
		valid := err == nil && r.Method == http.MethodPost &&
			validator.ValidateBody(full, body, sig) && validator.Validate(full, flat, sig)
		f.calls <- webhookCall{params: params, header: r.Header.Clone(), sigValid: valid}
		w.Header().Set("Content-Type", "text/xml")
		w.WriteHeader(int(f.status.Load()))
		_, _ = io.WriteString(w, `<?xml version="1.0" encoding="UTF-8"?><Response></Response>`)
	}))
	return f
}

// next returns the next webhook call, failing after a bounded wait.
func (f *fakeParley) next(t *testing.T) webhookCall {
	t.Helper()
	select {
	case c := <-f.calls:
		if !c.sigValid {
			t.Errorf("webhook %v: X-Twilio-Signature rejected by twilio-go's RequestValidator", c.params)
		}
		return c
	case <-time.After(5 * time.Second):
		t.Fatal("no webhook call within 5s")
		return webhookCall{}
	}
}

// statuses collects the next n status callbacks for a message.
func (f *fakeParley) statuses(t *testing.T, sid string, n int) []webhookCall {
	t.Helper()
	var out []webhookCall
	for len(out) < n {
		c := f.next(t)
		if c.params.Get("MessageSid") == sid && c.params.Get("MessageStatus") != "" {
			out = append(out, c)
		}
	}
	return out
}

func (f *fakeParley) quiet(t *testing.T) {
	t.Helper()
	select {
	case c := <-f.calls:
		t.Errorf("unexpected webhook call %v", c.params)
	default:
	}
}

type harness struct {
	sim    *Twilio
	srv    *httptest.Server
	base   string // the simulator's public URL
	clock  *fakeClock
	parley *fakeParley
	rec    *recorder
}

// newHarness starts a simulator mounted under a path prefix, as Parley
// mounts it, with one account, one sender whose webhook is a fakeParley,
// and a fake clock. At cleanup it waits for pending callbacks and
// validates every API answer against the OpenAPI documents.
func newHarness(t *testing.T) *harness {
	t.Helper()
	h := &harness{
		clock:  &fakeClock{now: time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)},
		parley: newFakeParley(t, testToken),
		rec:    &recorder{},
	}
	h.sim = NewTwilio(TwilioOptions{Now: h.clock.Now, Logger: discardLogger()})
	mux := http.NewServeMux()
	mux.Handle("/sandbox/twilio/", http.StripPrefix("/sandbox/twilio", h.rec.wrap(h.sim.Handler())))
	h.srv = httptest.NewServer(mux)
	h.base = h.srv.URL + "/sandbox/twilio"
	h.sim.SetPublicURL(h.base)
	h.sim.AddAccount(testAccount, testToken, "Parley test")
	h.sim.AddSender(testAccount, testSender, h.parley.srv.URL+"/webhooks/twilio/abc?x=1")
	t.Cleanup(h.srv.Close)
	t.Cleanup(h.parley.srv.Close)
	t.Cleanup(func() {
		h.sim.WaitIdle()
		validateExchanges(t, h.rec.exchanges())
	})
	return h
}

// rest is the real twilio-go client, pointed at the simulator.
func (h *harness) rest(sid, token string, timeout time.Duration) *twilio.RestClient {
	c := &client.Client{
		Credentials: client.NewCredentials(sid, token),
		HTTPClient:  &http.Client{Transport: TwilioTransport(h.base, nil), Timeout: timeout},
	}
	c.SetAccountSid(sid)
	return twilio.NewRestClientWithParams(twilio.ClientParams{Client: c})
}

// customerWrites opens the 24-hour window and consumes its webhook.
func (h *harness) customerWrites(t *testing.T, body string) webhookCall {
	t.Helper()
	if _, err := h.sim.CustomerSends(context.Background(), InboundMessage{From: testCustomer, ProfileName: "Ann", To: testSender, Body: body}); err != nil {
		t.Fatal(err)
	}
	return h.parley.next(t)
}

func discardLogger() *slog.Logger { return slog.New(slog.DiscardHandler) }

func sendParams(body string) *api.CreateMessageParams {
	p := &api.CreateMessageParams{}
	p.SetFrom("whatsapp:" + testSender)
	p.SetTo("whatsapp:" + testCustomer)
	if body != "" {
		p.SetBody(body)
	}
	return p
}

func restError(t *testing.T, err error) *client.TwilioRestError {
	t.Helper()
	var re *client.TwilioRestError
	if !errors.As(err, &re) {
		t.Fatalf("want *client.TwilioRestError, got %T %v", err, err)
	}
	return re
}

func TestSignTwilioMatchesResearchVectors(t *testing.T) {
	// shared/research/twilio.md §3, from twilio-go client/request_validator_test.go.
	const token = "12345"
	const testURL = "https://mycompany.com/myapp.php?foo=1&bar=2"
	params := url.Values{
		"Digits": {"1234"}, "CallSid": {"CA1234567890ABCDE"}, "To": {"+18005551212"},
		"Caller": {"+14158675309"}, "From": {"+14158675309"}, "ReasonConferenceEnded": {"test"}, "Reason": {"Participant"},
	}
	classic := url.Values{
		"CallSid": {"CA1234567890ABCDE"}, "Caller": {"+14158675309"}, "Digits": {"1234"},
		"From": {"+14158675309"}, "To": {"+18005551212"},
	}
	jsonBody := `{"property": "value", "boolean": true}`
	sum := sha256.Sum256([]byte(jsonBody))
	hash := hex.EncodeToString(sum[:])
	if hash != "0a1ff7634d9ab3b95db5c9a2dfe9416e41502b283a80c7cf19632632f96e6620" {
		t.Fatalf("sha256 of the JSON body = %s", hash)
	}
	cases := []struct {
		name, url string
		params    url.Values
		want      string
	}{
		{"all params", testURL, params, "vOEb5UThFn24KEfnOFLQY2AE5FY="},
		{"http", strings.Replace(testURL, "https", "http", 1), params, "n2xBNyzSW7rfYStDtOFiFMv7qNo="},
		{"classic docs vector", testURL, classic, "RSOYDt4T1cUTdK1PDd93/VVr8B8="},
		{"form body", testURL, url.Values{"property": {"value"}, "boolean": {"true"}}, "NBdBDr/T/lgjI+tlgpXjKZQZs/k="},
		{"bodySHA256 appended", testURL + "&bodySHA256=" + hash, nil, "a9nBmqA0ju/hNViExpshrM61xv4="},
		{"bodySHA256 only", "https://mycompany.com/myapp.php?bodySHA256=" + hash, nil, "y77kIzt2vzLz71DgmJGsen2scGs="},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := SignTwilio(token, c.url, c.params)
			if got != c.want {
				t.Errorf("SignTwilio = %s, want %s", got, c.want)
			}
			flat := map[string]string{}
			for k, v := range c.params {
				flat[k] = v[0]
			}
			v := client.NewRequestValidator(token)
			if !v.Validate(c.url, flat, got) {
				t.Errorf("twilio-go's RequestValidator rejects %s", got)
			}
		})
	}

	t.Run("wrong sort order does not match", func(t *testing.T) {
		// ReasonConferenceEnded before Reason: what a naive "sort by key+value" gives.
		s := testURL + "CallSidCA1234567890ABCDECaller+14158675309Digits1234From+14158675309" +
			"ReasonConferenceEndedtestReasonParticipantTo+18005551212"
		mac := hmac.New(sha1.New, []byte(token))
		mac.Write([]byte(s))
		wrong := base64.StdEncoding.EncodeToString(mac.Sum(nil))
		if wrong != "95+Bu0JVPi0r/SsESZCVf0dWAjw=" {
			t.Fatalf("wrong-order vector = %s", wrong)
		}
		if SignTwilio(token, testURL, params) == wrong {
			t.Error("SignTwilio sorts ReasonConferenceEnded before Reason")
		}
		v := client.NewRequestValidator(token)
		flat := map[string]string{}
		for k, vs := range params {
			flat[k] = vs[0]
		}
		if v.Validate(testURL, flat, wrong) {
			t.Error("twilio-go accepts the wrong-order signature")
		}
	})
}

func TestCustomerSendsSignedWebhook(t *testing.T) {
	h := newHarness(t)
	sid, err := h.sim.CustomerSends(context.Background(), InboundMessage{
		From: testCustomer, ProfileName: "Ann Example", To: testSender, Body: "Hello, my order is late",
	})
	if err != nil {
		t.Fatal(err)
	}
	c := h.parley.next(t)
	want := map[string]string{
		"MessageSid": sid, "SmsMessageSid": sid, "SmsSid": sid, "AccountSid": testAccount,
		"From": "whatsapp:" + testCustomer, "To": "whatsapp:" + testSender, "Body": "Hello, my order is late",
		"NumMedia": "0", "NumSegments": "1", "ProfileName": "Ann Example", "WaId": "15005550006",
		"SmsStatus": "received", "ApiVersion": "2010-04-01", "MessageType": "text",
	}
	for k, v := range want {
		if got := c.params.Get(k); got != v {
			t.Errorf("%s = %q, want %q", k, got, v)
		}
	}
	if !strings.HasPrefix(sid, "SM") || len(sid) != 34 {
		t.Errorf("MessageSid %q", sid)
	}
	if c.header.Get("I-Twilio-Idempotency-Token") == "" || !strings.HasPrefix(c.header.Get("Content-Type"), "application/x-www-form-urlencoded") {
		t.Errorf("headers %v", c.header)
	}
	conv := h.sim.Conversation(testSender, testCustomer)
	if len(conv) != 1 || conv[0].Direction != "inbound" || conv[0].Body != "Hello, my order is late" || conv[0].Status != "received" {
		t.Errorf("conversation %+v", conv)
	}
	if got := h.sim.Customers(testSender); !slices.Equal(got, []string{testCustomer}) {
		t.Errorf("customers %v", got)
	}
	// The inbound message is a Message resource too.
	m, err := h.rest(testAccount, testToken, 5*time.Second).Api.FetchMessage(sid, nil)
	if err != nil {
		t.Fatal(err)
	}
	if *m.Direction != "inbound" || *m.Status != "received" || *m.Body != "Hello, my order is late" {
		t.Errorf("fetched %+v", m)
	}
}

func TestCustomerSendsRefusedWebhookIsAnError(t *testing.T) {
	h := newHarness(t)
	h.parley.status.Store(http.StatusForbidden)
	sid, err := h.sim.CustomerSends(context.Background(), InboundMessage{From: testCustomer, To: testSender, Body: "hi"})
	if err == nil || sid == "" {
		t.Fatalf("sid %q err %v", sid, err)
	}
	h.parley.next(t)
	if _, err := h.sim.CustomerSends(context.Background(), InboundMessage{From: testCustomer, To: "+19999999999", Body: "hi"}); err == nil {
		t.Error("sending to an unknown sender succeeded")
	}
}

func TestInboundMediaNeedsAuthAndRedirectsToCDN(t *testing.T) {
	h := newHarness(t)
	pdf := bytes.Repeat([]byte("%PDF-1.4 sandbox "), 1000)
	sid, err := h.sim.CustomerSends(context.Background(), InboundMessage{
		From: testCustomer, To: testSender, ProfileName: "Ann",
		Media: []MediaFile{{ContentType: "application/pdf", Filename: "invoice.pdf", Data: pdf}},
	})
	if err != nil {
		t.Fatal(err)
	}
	c := h.parley.next(t)
	if !strings.HasPrefix(sid, "MM") || c.params.Get("NumMedia") != "1" ||
		c.params.Get("MediaContentType0") != "application/pdf" || c.params.Get("MessageType") != "document" {
		t.Fatalf("params %v", c.params)
	}
	mediaURL := c.params.Get("MediaUrl0")
	if !strings.HasPrefix(mediaURL, h.base+"/api/2010-04-01/Accounts/"+testAccount+"/Messages/"+sid+"/Media/ME") {
		t.Fatalf("MediaUrl0 %q", mediaURL)
	}

	resp, err := http.Get(mediaURL)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("without auth: %d", resp.StatusCode)
	}

	req, _ := http.NewRequest(http.MethodGet, mediaURL, nil)
	req.SetBasicAuth(testAccount, testToken)
	first, err := noRedirect.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	first.Body.Close()
	cdn := first.Header.Get("Location")
	if first.StatusCode != http.StatusTemporaryRedirect || !strings.HasPrefix(cdn, h.base+"/cdn/") {
		t.Fatalf("redirect %d %q", first.StatusCode, cdn)
	}

	req, _ = http.NewRequest(http.MethodGet, mediaURL, nil)
	req.SetBasicAuth(testAccount, testToken)
	resp, err = http.DefaultClient.Do(req) // follows the redirect
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "application/pdf" || !bytes.Equal(got, pdf) {
		t.Fatalf("media: %d %q %d bytes", resp.StatusCode, resp.Header.Get("Content-Type"), len(got))
	}

	// The CDN link lives 4 hours of simulator time, without auth.
	h.clock.Advance(3*time.Hour + 59*time.Minute)
	if resp, _ := http.Get(cdn); resp.StatusCode != http.StatusOK {
		t.Errorf("CDN link before expiry: %d", resp.StatusCode)
	}
	h.clock.Advance(2 * time.Minute)
	if resp, _ := http.Get(cdn); resp.StatusCode != http.StatusNotFound {
		t.Errorf("CDN link after expiry: %d", resp.StatusCode)
	}

	// The Media resource, through twilio-go.
	mediaSid := mediaURL[strings.LastIndex(mediaURL, "/")+1:]
	md, err := h.rest(testAccount, testToken, 5*time.Second).Api.FetchMedia(sid, mediaSid, nil)
	if err != nil {
		t.Fatal(err)
	}
	if *md.ContentType != "application/pdf" || *md.ParentSid != sid {
		t.Errorf("media %+v", md)
	}
}

func TestFetchAccount(t *testing.T) {
	h := newHarness(t)
	acct, err := h.rest(testAccount, testToken, 5*time.Second).Api.FetchAccount(testAccount)
	if err != nil {
		t.Fatal(err)
	}
	if *acct.Sid != testAccount || *acct.Status != "active" || *acct.FriendlyName != "Parley test" {
		t.Errorf("account %+v", acct)
	}
	_, err = h.rest(testAccount, "wrongtoken0000000000000000000000", 5*time.Second).Api.FetchAccount(testAccount)
	re := restError(t, err)
	if re.Code != 20003 || re.Status != 401 || re.Message != "Authenticate" || re.MoreInfo != "https://www.twilio.com/docs/errors/20003" {
		t.Errorf("bad credentials: %+v", re)
	}
	_, err = h.rest("AC99999999999999999999999999999999", testToken, 5*time.Second).Api.FetchAccount("AC99999999999999999999999999999999")
	if re := restError(t, err); re.Code != 20003 {
		t.Errorf("unknown account: %+v", re)
	}
}

func TestTextMessageCallbacksSentDeliveredRead(t *testing.T) {
	h := newHarness(t)
	h.customerWrites(t, "hi")
	c := h.rest(testAccount, testToken, 5*time.Second)
	msg, err := c.Api.CreateMessage(sendParams("Hello Ann, how can we help?"))
	if err != nil {
		t.Fatal(err)
	}
	if *msg.Status != "queued" || !strings.HasPrefix(*msg.Sid, "SM") || *msg.Direction != "outbound-api" ||
		*msg.NumMedia != "0" || *msg.NumSegments != "1" || msg.ErrorCode != nil {
		t.Errorf("created %+v", msg)
	}
	if _, err := time.Parse(time.RFC1123Z, *msg.DateCreated); err != nil {
		t.Errorf("date_created %q: %v", *msg.DateCreated, err)
	}
	calls := h.parley.statuses(t, *msg.Sid, 3)
	for i, want := range []string{"sent", "delivered", "read"} {
		p := calls[i].params
		if p.Get("MessageStatus") != want || p.Get("SmsStatus") != want || p.Get("AccountSid") != testAccount ||
			p.Get("From") != "whatsapp:"+testSender || p.Get("To") != "whatsapp:"+testCustomer ||
			p.Get("ChannelToAddress") != testCustomer || p.Get("ChannelPrefix") != "whatsapp" ||
			p.Get("ApiVersion") != "2010-04-01" || p.Get("SmsSid") != *msg.Sid {
			t.Errorf("callback %d: %v", i, p)
		}
	}
	if calls[1].params.Get("EventType") != "DELIVERED" || calls[2].params.Get("EventType") != "READ" || calls[0].params.Has("EventType") {
		t.Errorf("EventType: %v / %v / %v", calls[0].params, calls[1].params, calls[2].params)
	}
	h.sim.WaitIdle()
	got, err := c.Api.FetchMessage(*msg.Sid, nil)
	if err != nil {
		t.Fatal(err)
	}
	if *got.Status != "read" || got.DateSent == nil {
		t.Errorf("fetched %+v", got)
	}
	sent := h.sim.Sent(testAccount)
	if len(sent) != 1 || sent[0].Sid != *msg.Sid || sent[0].Params.Get("Body") != "Hello Ann, how can we help?" ||
		sent[0].Params.Get("To") != "whatsapp:"+testCustomer {
		t.Errorf("Sent %+v", sent)
	}
	conv := h.sim.Conversation(testSender, testCustomer)
	if len(conv) != 2 || conv[1].Direction != "outbound" || conv[1].Status != "read" || conv[1].Body != "Hello Ann, how can we help?" {
		t.Errorf("conversation %+v", conv)
	}
}

func TestStatusCallbackParameterOverridesSenderWebhook(t *testing.T) {
	h := newHarness(t)
	h.customerWrites(t, "hi")
	other := newFakeParley(t, testToken)
	defer other.srv.Close()
	p := sendParams("hello")
	p.SetStatusCallback(other.srv.URL + "/status?integration=7")
	msg, err := h.rest(testAccount, testToken, 5*time.Second).Api.CreateMessage(p)
	if err != nil {
		t.Fatal(err)
	}
	other.statuses(t, *msg.Sid, 3)
	h.sim.WaitIdle()
	h.parley.quiet(t)
	if got := h.sim.Sent(testAccount)[0].Params.Get("StatusCallback"); got != other.srv.URL+"/status?integration=7" {
		t.Errorf("StatusCallback param %q", got)
	}
}

func TestCreateMessageValidationErrors(t *testing.T) {
	h := newHarness(t)
	tplSid := h.sim.AddTemplate(testAccount, Template{
		FriendlyName: "order_shipped", Language: "en", Body: "Hi {{1}}, order {{2}} arrives {{3}}.",
		Variables: map[string]string{"1": "Customer name", "2": "Order number", "3": "Delivery date"},
	})
	c := h.rest(testAccount, testToken, 5*time.Second)
	cases := []struct {
		name string
		set  func(p *api.CreateMessageParams)
		code int
	}{
		{"missing To", func(p *api.CreateMessageParams) { p.To = nil }, 21604},
		{"To not E.164", func(p *api.CreateMessageParams) { p.SetTo("whatsapp:12345") }, 21211},
		{"To without channel", func(p *api.CreateMessageParams) { p.SetTo(testCustomer) }, 21910},
		{"missing From", func(p *api.CreateMessageParams) { p.From = nil }, 21603},
		{"From not a sender", func(p *api.CreateMessageParams) { p.SetFrom("whatsapp:+14155550000") }, 63007},
		{"no body, media or content", func(p *api.CreateMessageParams) { p.Body = nil }, 21619},
		{"unknown ContentSid", func(p *api.CreateMessageParams) { p.SetContentSid("HX00000000000000000000000000000000") }, 21655},
		{"malformed ContentSid", func(p *api.CreateMessageParams) { p.SetContentSid("order_shipped") }, 21655},
		{"variables without ContentSid", func(p *api.CreateMessageParams) { p.SetContentVariables(`{"1":"Ann"}`) }, 21654},
		{"variables not JSON", func(p *api.CreateMessageParams) {
			p.SetContentSid(tplSid)
			p.SetContentVariables(`1=Ann`)
		}, 21656},
		{"empty variable", func(p *api.CreateMessageParams) {
			p.SetContentSid(tplSid)
			p.SetContentVariables(`{"1":"Ann","2":"","3":"Friday"}`)
		}, 21656},
		{"variable with newline", func(p *api.CreateMessageParams) {
			p.SetContentSid(tplSid)
			p.SetContentVariables(`{"1":"Ann\nSmith","2":"A-1","3":"Friday"}`)
		}, 21656},
		{"body too long", func(p *api.CreateMessageParams) { p.SetBody(strings.Repeat("x", 1601)) }, 21617}, // twilio-node#327: "The concatenated message body exceeds the 1600 character limit."
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p := sendParams("hello")
			tc.set(p)
			_, err := c.Api.CreateMessage(p)
			re := restError(t, err)
			if re.Code != tc.code || re.Status != 400 {
				t.Errorf("got %d/%d %q, want code %d", re.Status, re.Code, re.Message, tc.code)
			}
		})
	}
	// Another account's sender is not ours.
	h.sim.AddAccount("ACfedcba9876543210fedcba9876543210", "abcdef0123456789abcdef0123456789", "Other")
	h.sim.AddSender("ACfedcba9876543210fedcba9876543210", "+442071838750", "")
	p := sendParams("hello")
	p.SetFrom("whatsapp:+442071838750")
	if re := restError(t, func() error { _, err := c.Api.CreateMessage(p); return err }()); re.Code != 63007 {
		t.Errorf("other account's sender: %+v", re)
	}
	if n := len(h.sim.Sent(testAccount)); n != 0 {
		t.Errorf("rejected creates recorded as sent: %d", n)
	}
}

func TestFreeFormOutsideWindowFails63016(t *testing.T) {
	h := newHarness(t)
	c := h.rest(testAccount, testToken, 5*time.Second)

	// The customer never wrote.
	msg, err := c.Api.CreateMessage(sendParams("Hello?"))
	if err != nil {
		t.Fatal(err)
	}
	if *msg.Status != "queued" {
		t.Errorf("status %q", *msg.Status)
	}
	failed := h.parley.statuses(t, *msg.Sid, 1)[0].params
	if failed.Get("MessageStatus") != "failed" || failed.Get("ErrorCode") != "63016" || failed.Get("ErrorMessage") == "" {
		t.Errorf("callback %v", failed)
	}

	// The customer wrote 24 hours and a minute ago.
	h.customerWrites(t, "hi")
	h.clock.Advance(24*time.Hour + time.Minute)
	msg, err = c.Api.CreateMessage(sendParams("Sorry for the wait"))
	if err != nil {
		t.Fatal(err)
	}
	if got := h.parley.statuses(t, *msg.Sid, 1)[0].params; got.Get("ErrorCode") != "63016" {
		t.Errorf("callback %v", got)
	}
	h.sim.WaitIdle()
	fetched, err := c.Api.FetchMessage(*msg.Sid, nil)
	if err != nil {
		t.Fatal(err)
	}
	if *fetched.Status != "failed" || fetched.ErrorCode == nil || *fetched.ErrorCode != 63016 || fetched.ErrorMessage == nil {
		t.Errorf("fetched %+v", fetched)
	}
	conv := h.sim.Conversation(testSender, testCustomer)
	if last := conv[len(conv)-1]; last.Status != "failed" || last.ErrorCode != 63016 {
		t.Errorf("phone shows %+v", last)
	}

	// Just inside the window.
	h.customerWrites(t, "still there?")
	h.clock.Advance(23*time.Hour + 59*time.Minute)
	msg, err = c.Api.CreateMessage(sendParams("Yes!"))
	if err != nil {
		t.Fatal(err)
	}
	if got := h.parley.statuses(t, *msg.Sid, 3); got[2].params.Get("MessageStatus") != "read" {
		t.Errorf("callbacks %v", got)
	}
}

func TestTemplatesOutsideWindow(t *testing.T) {
	h := newHarness(t)
	quick := h.sim.AddTemplate(testAccount, Template{
		FriendlyName: "issue_resolved_check", Language: "en", Body: "Hi {{1}}, was your issue resolved?",
		Variables: map[string]string{"1": "Customer name"}, QuickReplies: []string{"Yes", "No", "Talk to an agent"},
	})
	noDefault := h.sim.AddTemplate(testAccount, Template{
		FriendlyName: "order_shipped", Language: "en", Body: "Order {{1}} ships on {{2}}.",
		Variables: map[string]string{"1": "A-1"},
	})
	pending := h.sim.AddTemplate(testAccount, Template{FriendlyName: "spring_sale", Language: "en", Body: "Sale!", Status: "pending"})
	rejected := h.sim.AddTemplate(testAccount, Template{FriendlyName: "bad", Language: "en", Body: "{{1}}", Status: "rejected"})
	c := h.rest(testAccount, testToken, 5*time.Second)
	send := func(sid, vars string) (string, url.Values) {
		t.Helper()
		p := sendParams("")
		p.SetContentSid(sid)
		if vars != "" {
			p.SetContentVariables(vars)
		}
		msg, err := c.Api.CreateMessage(p)
		if err != nil {
			t.Fatal(err)
		}
		last := h.parley.statuses(t, *msg.Sid, 1)[0].params
		if last.Get("MessageStatus") == "sent" {
			h.parley.statuses(t, *msg.Sid, 2)
		}
		return *msg.Sid, last
	}

	// An approved template starts a conversation with a customer who never wrote.
	sid, first := send(quick, `{"1":"Ann"}`)
	if first.Get("MessageStatus") != "sent" {
		t.Fatalf("approved template: %v", first)
	}
	conv := h.sim.Conversation(testSender, testCustomer)
	if len(conv) != 1 || conv[0].Sid != sid || conv[0].Body != "Hi Ann, was your issue resolved?" ||
		!slices.Equal(conv[0].Buttons, []string{"Yes", "No", "Talk to an agent"}) {
		t.Errorf("phone shows %+v", conv)
	}

	// Omitted variables fall back to the template's defaults; a placeholder
	// with neither fails with 63028.
	if _, got := send(noDefault, `{"2":"Friday"}`); got.Get("MessageStatus") != "sent" {
		t.Errorf("default used: %v", got)
	}
	if last := h.sim.Conversation(testSender, testCustomer); last[len(last)-1].Body != "Order A-1 ships on Friday." {
		t.Errorf("rendered %q", last[len(last)-1].Body)
	}
	if _, got := send(noDefault, `{"1":"A-2"}`); got.Get("ErrorCode") != "63028" {
		t.Errorf("missing variable: %v", got)
	}
	if _, got := send(noDefault, ""); got.Get("ErrorCode") != "63028" {
		t.Errorf("no variables: %v", got)
	}

	// Not approved: rejected always fails; pending only works inside the window.
	if _, got := send(rejected, `{"1":"x"}`); got.Get("ErrorCode") != "63040" {
		t.Errorf("rejected: %v", got)
	}
	if _, got := send(pending, ""); got.Get("ErrorCode") != "63016" {
		t.Errorf("pending outside window: %v", got)
	}
	h.customerWrites(t, "hi")
	if _, got := send(pending, ""); got.Get("MessageStatus") != "sent" {
		t.Errorf("pending inside window: %v", got)
	}

	// A tap on a button answers the template, with its action id as payload.
	inSid, err := h.sim.CustomerSends(context.Background(), InboundMessage{From: testCustomer, To: testSender, ButtonText: "Talk to an agent"})
	if err != nil {
		t.Fatal(err)
	}
	tap := h.parley.next(t).params
	if tap.Get("MessageSid") != inSid || tap.Get("ButtonText") != "Talk to an agent" || tap.Get("ButtonPayload") != "talk_to_an_agent" ||
		tap.Get("OriginalRepliedMessageSid") != sid || tap.Get("Body") != "Talk to an agent" || tap.Get("MessageType") != "interactive" {
		t.Errorf("button tap %v", tap)
	}

	// A removed template is an invalid ContentSid.
	h.sim.RemoveTemplate(testAccount, quick)
	p := sendParams("")
	p.SetContentSid(quick)
	if _, err := c.Api.CreateMessage(p); restError(t, err).Code != 21655 {
		t.Errorf("removed template: %v", err)
	}
}

func TestOutboundMedia(t *testing.T) {
	h := newHarness(t)
	jpeg := append([]byte{0xff, 0xd8, 0xff, 0xe0}, bytes.Repeat([]byte{1}, 2048)...)
	files := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/photo.jpg":
			w.Header().Set("Content-Type", "image/jpeg")
			_, _ = w.Write(jpeg)
		case "/signed":
			http.Redirect(w, r, "/photo.jpg", http.StatusFound)
		case "/huge.mp4":
			w.Header().Set("Content-Type", "video/mp4")
			_, _ = w.Write(make([]byte, 16<<20+1))
		case "/notes.txt":
			w.Header().Set("Content-Type", "text/plain")
			_, _ = io.WriteString(w, "notes")
		case "/empty.pdf":
			w.Header().Set("Content-Type", "application/pdf")
		default:
			http.NotFound(w, r)
		}
	}))
	defer files.Close()
	h.customerWrites(t, "send me the photo")
	c := h.rest(testAccount, testToken, 5*time.Second)
	send := func(path string) (*api.ApiV2010Message, url.Values) {
		t.Helper()
		p := sendParams("")
		p.SetMediaUrl([]string{files.URL + path})
		msg, err := c.Api.CreateMessage(p)
		if err != nil {
			t.Fatal(err)
		}
		return msg, h.parley.statuses(t, *msg.Sid, 1)[0].params
	}

	msg, first := send("/signed")
	if !strings.HasPrefix(*msg.Sid, "MM") || first.Get("MessageStatus") != "sent" {
		t.Fatalf("media message %s: %v", *msg.Sid, first)
	}
	h.parley.statuses(t, *msg.Sid, 2)
	conv := h.sim.Conversation(testSender, testCustomer)
	last := conv[len(conv)-1]
	if len(last.MediaURLs) != 1 || last.MediaContentTypes[0] != "image/jpeg" {
		t.Fatalf("phone shows %+v", last)
	}
	resp, err := http.Get(last.MediaURLs[0])
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !bytes.Equal(got, jpeg) || resp.Header.Get("Content-Type") != "image/jpeg" {
		t.Errorf("phone media: %d bytes, %q", len(got), resp.Header.Get("Content-Type"))
	}
	if fetched, err := c.Api.FetchMessage(*msg.Sid, nil); err != nil || *fetched.NumMedia != "1" {
		t.Errorf("fetched %+v %v", fetched, err)
	}

	for path, code := range map[string]string{
		"/missing": "63019", "/empty.pdf": "63019", "/huge.mp4": "11751", "/notes.txt": "63021",
	} {
		if _, got := send(path); got.Get("MessageStatus") != "failed" || got.Get("ErrorCode") != code {
			t.Errorf("%s: %v, want %s", path, got, code)
		}
	}
}

func TestListContentAndApprovalsPagesThroughTwilioGo(t *testing.T) {
	h := newHarness(t)
	h.sim.SeedDemoTemplates(testAccount)
	c := h.rest(testAccount, testToken, 5*time.Second)
	params := &content.ListContentAndApprovalsParams{}
	params.SetPageSize(3)
	items, err := c.ContentV1.ListContentAndApprovals(params)
	if err != nil {
		t.Fatal(err)
	}
	if len(items) != 15 {
		t.Fatalf("%d templates, want 15", len(items))
	}
	var pages int
	for _, ex := range h.rec.exchanges() {
		if ex.path == "/content/v1/ContentAndApprovals" {
			pages++
		}
	}
	if pages != 5 {
		t.Errorf("%d page requests, want 5", pages)
	}
	byName := map[string]content.ContentV1ContentAndApprovals{}
	langs := map[string]bool{}
	for _, it := range items {
		byName[*it.FriendlyName] = it
		langs[*it.Language] = true
		if it.DateCreated == nil || it.Sid == nil || !strings.HasPrefix(*it.Sid, "HX") || *it.AccountSid != testAccount {
			t.Errorf("item %+v", it)
		}
	}
	for _, l := range []string{"en", "es", "pt_BR", "de"} {
		if !langs[l] {
			t.Errorf("no %s template", l)
		}
	}
	status := func(name string) string { return (*byName[name].ApprovalRequests)["status"].(string) }
	if status("order_shipped") != "approved" || status("spring_sale") != "pending" || status("account_verification") != "rejected" {
		t.Errorf("statuses %s %s %s", status("order_shipped"), status("spring_sale"), status("account_verification"))
	}
	qr := (*byName["issue_resolved_check"].Types)["twilio/quick-reply"].(map[string]any)
	var titles []string
	for _, a := range qr["actions"].([]any) {
		titles = append(titles, a.(map[string]any)["title"].(string))
	}
	if !slices.Equal(titles, []string{"Yes", "No", "Talk to an agent"}) {
		t.Errorf("quick replies %v", titles)
	}
	if body := (*byName["order_shipped"].Types)["twilio/text"].(map[string]any)["body"]; body != "Hi {{1}}, your order {{2}} has shipped and should arrive on {{3}}." {
		t.Errorf("body %v", body)
	}
	if v := *byName["order_shipped"].Variables; v["1"] != "Customer name" {
		t.Errorf("variables %v", v)
	}

	one, err := c.ContentV1.FetchContent(*byName["order_shipped"].Sid)
	if err != nil || *one.FriendlyName != "order_shipped" {
		t.Errorf("FetchContent %+v %v", one, err)
	}
	appr, err := c.ContentV1.FetchApprovalFetch(*byName["spring_sale"].Sid)
	if err != nil || (*appr.Whatsapp)["status"] != "pending" {
		t.Errorf("FetchApprovalFetch %+v %v", appr, err)
	}
	other := h.rest("AC99999999999999999999999999999999", testToken, 5*time.Second)
	if _, err := other.ContentV1.ListContentAndApprovals(nil); restError(t, err).Code != 20003 {
		t.Errorf("unknown account listed templates")
	}
}

func TestFaults(t *testing.T) {
	t.Run("server errors", func(t *testing.T) {
		h := newHarness(t)
		h.sim.SetFaults(TwilioFaults{ServerErrorRate: 1})
		c := h.rest(testAccount, testToken, 5*time.Second)
		for range 8 {
			_, err := c.Api.FetchAccount(testAccount)
			re := restError(t, err)
			if (re.Status != 500 || re.Code != 20500) && (re.Status != 503 || re.Code != 20503) {
				t.Errorf("got %+v", re)
			}
		}
		h.sim.SetFaults(TwilioFaults{})
		if _, err := c.Api.FetchAccount(testAccount); err != nil {
			t.Errorf("after faults cleared: %v", err)
		}
	})
	t.Run("timeouts honour the client's deadline", func(t *testing.T) {
		h := newHarness(t)
		h.sim.SetFaults(TwilioFaults{TimeoutRate: 1})
		c := h.rest(testAccount, testToken, 200*time.Millisecond)
		start := time.Now()
		_, err := c.Api.FetchAccount(testAccount)
		var re *client.TwilioRestError
		if err == nil || errors.As(err, &re) {
			t.Fatalf("want a client timeout, got %v", err)
		}
		if elapsed := time.Since(start); elapsed > 5*time.Second {
			t.Errorf("took %v", elapsed)
		}
	})
	t.Run("latency", func(t *testing.T) {
		h := newHarness(t)
		h.sim.SetFaults(TwilioFaults{Latency: 100 * time.Millisecond})
		start := time.Now()
		if _, err := h.rest(testAccount, testToken, 5*time.Second).Api.FetchAccount(testAccount); err != nil {
			t.Fatal(err)
		}
		if elapsed := time.Since(start); elapsed < 100*time.Millisecond {
			t.Errorf("answered after %v", elapsed)
		}
	})
	t.Run("duplicate deliveries", func(t *testing.T) {
		h := newHarness(t)
		h.sim.SetFaults(TwilioFaults{DuplicateDeliveries: 1})
		sid, err := h.sim.CustomerSends(context.Background(), InboundMessage{From: testCustomer, To: testSender, Body: "hi"})
		if err != nil {
			t.Fatal(err)
		}
		a, b := h.parley.next(t), h.parley.next(t)
		if a.params.Get("MessageSid") != sid || b.params.Get("MessageSid") != sid ||
			a.header.Get("X-Twilio-Signature") != b.header.Get("X-Twilio-Signature") ||
			a.header.Get("I-Twilio-Idempotency-Token") != b.header.Get("I-Twilio-Idempotency-Token") {
			t.Errorf("deliveries differ: %v / %v", a.params, b.params)
		}
		msg, err := h.rest(testAccount, testToken, 5*time.Second).Api.CreateMessage(sendParams("hello"))
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, c := range h.parley.statuses(t, *msg.Sid, 6) {
			got = append(got, c.params.Get("MessageStatus"))
		}
		if !slices.Equal(got, []string{"sent", "sent", "delivered", "delivered", "read", "read"}) {
			t.Errorf("statuses %v", got)
		}
	})
}

func TestTwilioTransportRewritesHosts(t *testing.T) {
	var seen []string
	var mu sync.Mutex
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		seen = append(seen, r.Host+" "+r.URL.RequestURI())
		mu.Unlock()
	}))
	defer srv.Close()
	rt := TwilioTransport(srv.URL+"/sim/", nil)
	for _, u := range []string{
		"https://api.twilio.com/2010-04-01/Accounts/AC1.json?x=1",
		"https://content.twilio.com/v1/ContentAndApprovals?PageSize=2&Page=1",
		"https://api.dublin.ie1.twilio.com/2010-04-01/Accounts/AC1.json",
	} {
		req, _ := http.NewRequest(http.MethodGet, u, nil)
		resp, err := rt.RoundTrip(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	host := strings.TrimPrefix(srv.URL, "http://")
	want := []string{
		host + " /sim/api/2010-04-01/Accounts/AC1.json?x=1",
		host + " /sim/content/v1/ContentAndApprovals?PageSize=2&Page=1",
		host + " /sim/api/2010-04-01/Accounts/AC1.json",
	}
	if !slices.Equal(seen, want) {
		t.Errorf("seen %v, want %v", seen, want)
	}
}

func TestUnknownRoutesAnswerTwilio404(t *testing.T) {
	h := newHarness(t)
	c := h.rest(testAccount, testToken, 5*time.Second)
	_, err := c.Api.FetchMessage("SM00000000000000000000000000000000", nil)
	if re := restError(t, err); re.Code != 20404 || re.Status != 404 {
		t.Errorf("unknown message: %+v", re)
	}
	resp, err := http.Get(h.base + "/nothing/here")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound || !strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
		t.Errorf("%d %q", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
}
