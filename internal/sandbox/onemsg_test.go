package sandbox

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"net/url"
	"reflect"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

const (
	omInstanceID = "ODI371267300"
	omToken      = "eyJhbGciOiJIUzI1NiJ9.c2FuZGJveA.sig"
	omPhone      = "+15550001111"
	omCustomer   = "+15005550006"
	omChatID     = "15005550006@c.us"
)

// omCall is one webhook POST the simulator made.
type omCall struct {
	raw    []byte
	body   map[string]any
	header http.Header
}

// omReceiver stands in for Parley's 1msg webhook: it keeps every POST for
// the test and for the OpenAPI check at cleanup.
type omReceiver struct {
	srv    *httptest.Server
	calls  chan omCall
	status atomic.Int32
	mu     sync.Mutex
	all    []omCall
}

func newOmReceiver() *omReceiver {
	f := &omReceiver{calls: make(chan omCall, 1000)}
	f.status.Store(http.StatusOK)
	f.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		raw, _ := io.ReadAll(r.Body)
		c := omCall{raw: raw, header: r.Header.Clone()}
		_ = json.Unmarshal(raw, &c.body)
		f.mu.Lock()
		f.all = append(f.all, c)
		f.mu.Unlock()
		f.calls <- c
		w.WriteHeader(int(f.status.Load()))
	}))
	return f
}

// next returns the next webhook POST, failing after a bounded wait.
func (f *omReceiver) next(t *testing.T) omCall {
	t.Helper()
	select {
	case c := <-f.calls:
		return c
	case <-time.After(5 * time.Second):
		t.Fatal("no webhook within 5s")
		return omCall{}
	}
}

// drain returns the webhook POSTs already received; after WaitIdle these
// are all the echoes and acks of the sends accepted so far.
func (f *omReceiver) drain() []omCall {
	var out []omCall
	for {
		select {
		case c := <-f.calls:
			out = append(out, c)
		default:
			return out
		}
	}
}

func (f *omReceiver) received() []omCall {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]omCall(nil), f.all...)
}

type omHarness struct {
	sim   *OneMsg
	srv   *httptest.Server
	base  string // the simulator's public URL
	api   string // the instance's API URL
	clock *fakeClock
	hook  *omReceiver
	rec   *recorder
}

// newOmHarness starts a simulator mounted under a path prefix, with one
// instance whose webhook list is 1msg's own hook plus a receiver, and a
// fake clock. At cleanup it waits for pending acks and validates every API
// answer and every webhook against the OpenAPI document.
func newOmHarness(t *testing.T) *omHarness {
	t.Helper()
	return newOmHarnessWith(t, OneMsgOptions{})
}

// newOmHarnessWith is newOmHarness with options (Now, Logger and PublicURL
// are the harness's).
func newOmHarnessWith(t *testing.T, opts OneMsgOptions) *omHarness {
	t.Helper()
	h := &omHarness{
		clock: &fakeClock{now: time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)},
		hook:  newOmReceiver(),
		rec:   &recorder{},
	}
	opts.Now, opts.Logger = h.clock.Now, discardLogger()
	h.sim = NewOneMsg(opts)
	mux := http.NewServeMux()
	mux.Handle("/sandbox/1msg/", http.StripPrefix("/sandbox/1msg", h.rec.wrap(h.sim.Handler())))
	h.srv = httptest.NewServer(mux)
	h.base = h.srv.URL + "/sandbox/1msg"
	h.sim.SetPublicURL(h.base)
	h.api = h.sim.AddInstance(omInstanceID, omToken, omPhone)
	t.Cleanup(h.srv.Close)
	t.Cleanup(h.hook.srv.Close)
	t.Cleanup(func() {
		h.sim.WaitIdle()
		validateOneMsgExchanges(t, h.rec.exchanges())
		for _, c := range h.hook.received() {
			validateOneMsgWebhook(t, c.raw)
		}
	})
	// Parley adds its URL and keeps 1msg's own hook, as it must.
	own := h.sim.Webhooks(omInstanceID)
	if status, out := h.call(t, "POST", "webhook", map[string]any{"webhookUrl": append(own, h.hook.srv.URL+"/webhooks/1msg/secret")}); status != 200 || out["set"] != true {
		t.Fatalf("set webhook: %d %v", status, out)
	}
	// And turns delivery statuses on, as Parley does when it connects.
	if status, out := h.call(t, "POST", "settings", map[string]any{"ackNotificationsOn": true}); status != 200 || out["ackNotificationsOn"] != true {
		t.Fatalf("turn acks on: %d %v", status, out)
	}
	return h
}

// call makes an API request with the instance's token. body is nil, a
// url.Values (form), a string (raw JSON) or anything else (encoded as JSON).
func (h *omHarness) call(t *testing.T, method, apiMethod string, body any) (int, map[string]any) {
	t.Helper()
	return h.callURL(t, method, h.api+apiMethod+"?token="+url.QueryEscape(omToken), body)
}

func (h *omHarness) callURL(t *testing.T, method, rawURL string, body any) (int, map[string]any) {
	t.Helper()
	var rd io.Reader
	ct := ""
	switch b := body.(type) {
	case nil:
	case url.Values:
		rd, ct = strings.NewReader(b.Encode()), "application/x-www-form-urlencoded"
	case string:
		rd, ct = strings.NewReader(b), "application/json"
	default:
		raw, err := json.Marshal(b)
		if err != nil {
			t.Fatal(err)
		}
		rd, ct = bytes.NewReader(raw), "application/json"
	}
	req, err := http.NewRequest(method, rawURL, rd)
	if err != nil {
		t.Fatal(err)
	}
	if ct != "" {
		req.Header.Set("Content-Type", ct)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var out map[string]any
	if err := json.Unmarshal(raw, &out); err != nil {
		t.Fatalf("%s %s: answer is not a JSON object: %s", method, rawURL, raw)
	}
	return resp.StatusCode, out
}

// customerWrites opens the 24-hour window and consumes its webhook.
func (h *omHarness) customerWrites(t *testing.T, body string) omCall {
	t.Helper()
	if _, err := h.sim.CustomerSends(context.Background(), OneMsgInbound{InstanceID: omInstanceID, From: omCustomer, SenderName: "Ann", Body: body}); err != nil {
		t.Fatal(err)
	}
	return h.hook.next(t)
}

// settle waits until every accepted send has been processed and returns
// the webhooks it caused.
func (h *omHarness) settle() []omCall {
	h.sim.WaitIdle()
	return h.hook.drain()
}

// mustSend makes a send that must be accepted and returns the message id.
func (h *omHarness) mustSend(t *testing.T, method string, body any) string {
	t.Helper()
	status, out := h.call(t, "POST", method, body)
	return wantSent(t, status, out)
}

// wantSent checks a sent:true answer and returns the message id.
func wantSent(t *testing.T, status int, out map[string]any) string {
	t.Helper()
	id, _ := out["id"].(string)
	if status != 200 || out["sent"] != true || !strings.HasPrefix(id, "wamid.") ||
		out["message"] != "Sent to "+omChatID || out["description"] != "Message has been sent to the provider" || len(out) != 4 {
		t.Fatalf("want sent:true, got %d %v", status, out)
	}
	return id
}

func wantSentFalse(t *testing.T, status int, out map[string]any, message string) {
	t.Helper()
	if status != 200 || out["sent"] != false || out["message"] != message || len(out) != 2 {
		t.Errorf("want 200 {sent:false, message:%q}, got %d %v", message, status, out)
	}
}

// ackStatuses returns the statuses of the acks for id, in arrival order,
// and checks each ack's fields.
func ackStatuses(t *testing.T, calls []omCall, id string) []string {
	t.Helper()
	var out []string
	for _, c := range calls {
		acks, _ := c.body["ack"].([]any)
		for _, a := range acks {
			ack := a.(map[string]any)
			if ack["id"] != id {
				continue
			}
			if c.body["instanceId"] != omInstanceID || ack["chatId"] != omChatID || ack["phone"] != "15005550006" {
				t.Errorf("ack %s", c.raw)
			}
			out = append(out, ack["status"].(string))
		}
	}
	return out
}

// echoOf returns the echo (fromMe message) of id among calls.
func echoOf(t *testing.T, calls []omCall, id string) map[string]any {
	t.Helper()
	for _, c := range calls {
		msgs, _ := c.body["messages"].([]any)
		for _, m := range msgs {
			if mm := m.(map[string]any); mm["id"] == id {
				return mm
			}
		}
	}
	t.Fatalf("no echo of %s in %d webhooks", id, len(calls))
	return nil
}

func onlyMessage(t *testing.T, c omCall) map[string]any {
	t.Helper()
	msgs, _ := c.body["messages"].([]any)
	if len(c.body) != 2 || c.body["instanceId"] != omInstanceID || len(msgs) != 1 {
		t.Fatalf("envelope %s", c.raw)
	}
	return msgs[0].(map[string]any)
}

func TestOneMsgTokenCheck(t *testing.T) {
	h := newOmHarness(t)
	status, out := h.callURL(t, "GET", h.api+"status?token=xxx7i1crxjxpkxxx", nil)
	want := map[string]any{"error": `Wrong token "xxx7i1crxjxpkxxx" for channel "ODI371267300". Please provide token as a GET parameter.`}
	if status != 401 || !reflect.DeepEqual(out, want) {
		t.Errorf("wrong token: %d %v", status, out)
	}
	status, out = h.callURL(t, "POST", h.api+"sendMessage", map[string]any{"body": "hi", "phone": "15005550006"})
	if status != 401 || out["error"] != `Wrong token "" for channel "ODI371267300". Please provide token as a GET parameter.` {
		t.Errorf("missing token: %d %v", status, out)
	}
	status, out = h.callURL(t, "GET", h.base+"/NOPE123/status?token="+omToken, nil)
	if status != 404 || out["error"] != `Channel "NOPE123" not found` {
		t.Errorf("unknown instance: %d %v", status, out)
	}
	if status, out := h.call(t, "GET", "nothing", nil); status != 404 || out["error"] == nil {
		t.Errorf("unknown method: %d %v", status, out)
	}
	if status, _ := h.call(t, "GET", "sendMessage", nil); status != 404 {
		t.Errorf("GET on a POST method: %d", status)
	}
	if n := len(h.sim.Sent(omInstanceID)); n != 0 {
		t.Errorf("refused requests recorded: %d", n)
	}
}

func TestOneMsgStatusAndMe(t *testing.T) {
	h := newOmHarness(t)
	if status, out := h.call(t, "GET", "status", nil); status != 200 || !reflect.DeepEqual(out, map[string]any{"status": "connected"}) {
		t.Errorf("status: %d %v", status, out)
	}
	status, out := h.call(t, "GET", "me", nil)
	if status != 200 || out["phone"] != "15550001111" || out["vertical"] != "Other" {
		t.Errorf("me: %d %v", status, out)
	}
	if status, out := h.call(t, "POST", "me", map[string]any{"about": "We answer fast", "email": "help@example.com"}); status != 200 || out["result"] != "success" {
		t.Errorf("POST me: %d %v", status, out)
	}
	if _, out := h.call(t, "GET", "me", nil); out["about"] != "We answer fast" || out["email"] != "help@example.com" || out["phone"] != "15550001111" {
		t.Errorf("me after update: %v", out)
	}
	if api := h.sim.AddInstance("VID182868781", "tok2", "+5511999990000"); api != h.base+"/VID182868781/" {
		t.Errorf("apiURL %q", api)
	}
}

func TestOneMsgWebhookList(t *testing.T) {
	h := newOmHarness(t)
	sim := NewOneMsg(OneMsgOptions{})
	sim.AddInstance("359900", "t", "+15550002222")
	pre := sim.Webhooks("359900")
	if len(pre) != 1 || !strings.HasPrefix(pre[0], "https://app.1msg.io/service/service_core/whatsapp/webhook/") {
		t.Fatalf("pre-registered hooks %v", pre)
	}
	if sim.Webhooks("other") != nil {
		t.Error("unknown instance has hooks")
	}

	own := h.sim.Webhooks(omInstanceID)[0]
	mine := h.hook.srv.URL + "/webhooks/1msg/secret"
	status, out := h.call(t, "GET", "webhook", nil)
	if status != 200 || !reflect.DeepEqual(out, map[string]any{"webhookUrl": []any{own, mine}}) {
		t.Errorf("GET webhook: %d %v", status, out)
	}
	// POST replaces the list: one URL as a string.
	status, out = h.call(t, "POST", "webhook", map[string]any{"webhookUrl": mine})
	if status != 200 || !reflect.DeepEqual(out, map[string]any{"set": true, "message": mine}) {
		t.Errorf("POST one: %d %v", status, out)
	}
	if got := h.sim.Webhooks(omInstanceID); !slices.Equal(got, []string{mine}) {
		t.Errorf("after replace: %v", got)
	}
	// More than five is refused and changes nothing.
	six := []string{"https://a.example/1", "https://a.example/2", "https://a.example/3", "https://a.example/4", "https://a.example/5", "https://a.example/6"}
	status, out = h.call(t, "POST", "webhook", map[string]any{"webhookUrl": six})
	wantRefused := map[string]any{"set": false, "message": "Maximum 5 webhook URLs are allowed"}
	if status != 200 || !reflect.DeepEqual(out, wantRefused) {
		t.Errorf("six hooks: %d %v", status, out)
	}
	if status, out := h.call(t, "POST", "webhook", map[string]any{"webhookUrl": "ftp://x"}); status != 200 || out["set"] != false {
		t.Errorf("bad URL: %d %v", status, out)
	}
	if got := h.sim.Webhooks(omInstanceID); !slices.Equal(got, []string{mine}) {
		t.Errorf("after refusals: %v", got)
	}
	// A form with a legacy comma-separated list; five is fine.
	form := url.Values{"webhookUrl": {own + ", " + mine + ",https://a.example/3,https://a.example/4,https://a.example/5"}}
	if status, out := h.call(t, "POST", "webhook", form); status != 200 || out["set"] != true {
		t.Errorf("form: %d %v", status, out)
	}
	if got := h.sim.Webhooks(omInstanceID); len(got) != 5 || got[0] != own || got[1] != mine {
		t.Errorf("after form: %v", got)
	}
	status, out = h.call(t, "GET", "settings", nil)
	if status != 200 || out["webhookUrl"] != strings.Join(h.sim.Webhooks(omInstanceID), ",") || out["ackNotificationsOn"] != true {
		t.Errorf("settings: %d %v", status, out)
	}
	status, out = h.call(t, "POST", "settings", map[string]any{"webhookUrl": []string{own, mine}})
	if status != 200 || out["webhookUrl"] != own+","+mine || out["update"].(map[string]any)["webhookUrl"] != own+","+mine {
		t.Errorf("POST settings: %d %v", status, out)
	}
	// Webhooks go to every URL but 1msg's own: the simulator never posts to
	// app.1msg.io (which this test could not reach anyway).
	if _, err := h.sim.CustomerSends(context.Background(), OneMsgInbound{InstanceID: omInstanceID, From: omCustomer, Body: "hi"}); err != nil {
		t.Fatalf("customer sends: %v", err)
	}
	h.hook.next(t)
	// An empty list stops all deliveries.
	if status, out := h.call(t, "POST", "webhook", map[string]any{"webhookUrl": []string{}}); status != 200 || out["set"] != true {
		t.Errorf("clear: %d %v", status, out)
	}
	if _, out := h.call(t, "GET", "webhook", nil); !reflect.DeepEqual(out, map[string]any{"webhookUrl": []any{}}) {
		t.Errorf("cleared list %v", out)
	}
	if _, err := h.sim.CustomerSends(context.Background(), OneMsgInbound{InstanceID: omInstanceID, From: omCustomer, Body: "anyone?"}); err != nil {
		t.Fatal(err)
	}
	if calls := h.hook.drain(); len(calls) != 0 {
		t.Errorf("posted with no webhook: %d", len(calls))
	}
}

func TestOneMsgSendMessage(t *testing.T) {
	h := newOmHarness(t)
	h.customerWrites(t, "Hi, my order is late")

	id := h.mustSend(t, "sendMessage", map[string]any{"body": "Hello Ann, how can we help?", "chatId": omChatID})
	calls := h.settle()
	if len(calls) != 4 {
		t.Fatalf("%d webhooks, want echo + 3 acks", len(calls))
	}
	echo := onlyMessage(t, calls[0])
	wantEcho := map[string]any{
		"id": id, "body": "Hello Ann, how can we help?", "fromMe": true, "self": float64(1), "isForwarded": false,
		"author": "15550001111@c.us", "time": float64(h.clock.Now().Unix()), "chatId": omChatID, "type": "chat",
		"senderName": "Sandbox Business", "chatName": "Ann", "quotedMsgId": nil,
	}
	if !reflect.DeepEqual(echo, wantEcho) {
		t.Errorf("echo\n got %v\nwant %v", echo, wantEcho)
	}
	if got := ackStatuses(t, calls, id); !slices.Equal(got, []string{"sent", "delivered", "read"}) {
		t.Errorf("acks %v", got)
	}
	wantAck := map[string]any{"instanceId": omInstanceID, "ack": []any{map[string]any{"id": id, "chatId": omChatID, "status": "sent", "phone": "15005550006"}}}
	if !reflect.DeepEqual(calls[1].body, wantAck) {
		t.Errorf("ack %s", calls[1].raw)
	}
	if ct := calls[1].header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("webhook Content-Type %q", ct)
	}

	// A form body with phone, and JSON with phone as a number.
	id2 := h.mustSend(t, "sendMessage", url.Values{"body": {"form text"}, "phone": {"15005550006"}})
	id3 := h.mustSend(t, "sendMessage", `{"body":"number phone","phone":15005550006,"quotedMsgId":"`+id+`"}`)
	calls = h.settle()
	if q := echoOf(t, calls, id3)["quotedMsgId"]; q != id {
		t.Errorf("quotedMsgId %v", q)
	}
	sent := h.sim.Sent(omInstanceID)
	if len(sent) != 3 || sent[0].Method != "sendMessage" || !reflect.DeepEqual(sent[0].Body, map[string]any{"body": "Hello Ann, how can we help?", "chatId": omChatID}) ||
		sent[1].Body["phone"] != "15005550006" || sent[2].Body["phone"] != json.Number("15005550006") || !sent[0].At.Equal(h.clock.Now()) {
		t.Errorf("Sent %+v", sent)
	}
	sent[0].Body["body"] = "changed"
	if h.sim.Sent(omInstanceID)[0].Body["body"] != "Hello Ann, how can we help?" {
		t.Error("Sent returns shared maps")
	}
	conv := h.sim.Conversation(omInstanceID, omCustomer)
	if len(conv) != 4 || conv[0].Direction != "inbound" || conv[0].Status != "received" || conv[1].Sid != id ||
		conv[1].Direction != "outbound" || conv[1].Status != "read" || conv[2].Sid != id2 || conv[3].Body != "number phone" {
		t.Errorf("conversation %+v", conv)
	}
	if got := h.sim.Customers(omInstanceID); !slices.Equal(got, []string{omCustomer}) {
		t.Errorf("customers %v", got)
	}

	// readMessage marks the customer's message read on the phone.
	if status, out := h.call(t, "POST", "readMessage", map[string]any{"messageId": conv[0].Sid}); status != 200 || out["result"] != "success" {
		t.Errorf("readMessage %d %v", status, out)
	}
	if got := h.sim.Conversation(omInstanceID, omCustomer)[0].Status; got != "read" {
		t.Errorf("inbound status %q", got)
	}
}

func TestOneMsgSentFalse(t *testing.T) {
	h := newOmHarness(t)
	// The customer never wrote: free-form sends are refused.
	status, out := h.call(t, "POST", "sendMessage", map[string]any{"body": "Hello?", "phone": "15005550006"})
	wantSentFalse(t, status, out, "Dialog window is closed")

	h.customerWrites(t, "hi")
	cases := []struct {
		name, method string
		body         any
		want         string
	}{
		{"empty body", "sendMessage", map[string]any{"body": "", "phone": "15005550006"}, "empty body"},
		{"blank body", "sendMessage", url.Values{"body": {"  "}, "chatId": {omChatID}}, "empty body"},
		{"group chat", "sendMessage", map[string]any{"body": "hi all", "chatId": "120363025246125486@g.us"}, "Group chats are not supported on this channel"},
		{"no recipient", "sendMessage", map[string]any{"body": "hi"}, "phone or chatId is required"},
		{"bad phone", "sendMessage", map[string]any{"body": "hi", "phone": "12ab"}, "Wrong phone number"},
		{"bad chatId", "sendMessage", map[string]any{"body": "hi", "chatId": "ann"}, "Wrong chatId"},
		{"file without body", "sendFile", map[string]any{"filename": "a.pdf", "phone": "15005550006"}, "empty body"},
		{"file without filename", "sendFile", map[string]any{"body": "https://example.com/a.pdf", "phone": "15005550006"}, "empty filename"},
		{"file not a URL", "sendFile", map[string]any{"body": "a.pdf", "filename": "a.pdf", "phone": "15005550006"}, "Wrong file: body must be an http(s) URL or a data URI"},
		{"file to a group", "sendFile", map[string]any{"body": "data:text/plain;base64,aGk=", "filename": "a.txt", "chatId": "1203@g.us"}, "Group chats are not supported on this channel"},
		{"four buttons", "sendButton", map[string]any{"body": "Pick", "phone": "15005550006", "buttons": []string{"a", "b", "c", "d"}}, "Maximum 3 buttons are allowed"},
		{"no buttons", "sendButton", map[string]any{"body": "Pick", "phone": "15005550006"}, "buttons are required"},
		{"long title", "sendButton", map[string]any{"body": "Pick", "phone": "15005550006", "buttons": []string{"This title is far too long"}}, "Button title must be at most 20 characters"},
		{"not reply buttons", "sendButton", map[string]any{"body": "Pick", "phone": "15005550006", "sections": []any{map[string]any{"type": "url", "url": "https://x"}}}, "Unsupported Interactive Message type"},
		{"buttons without body", "sendButton", map[string]any{"phone": "15005550006", "buttons": []string{"a"}}, "empty body"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			status, out := h.call(t, "POST", tc.method, tc.body)
			wantSentFalse(t, status, out, tc.want)
		})
	}
	if status, out := h.call(t, "POST", "sendMessage", "{not json"); status != 400 || out["error"] == nil {
		t.Errorf("bad JSON: %d %v", status, out)
	}
	if calls := h.settle(); len(calls) != 0 {
		t.Errorf("refused sends posted %d webhooks", len(calls))
	}
	if n := len(h.sim.Sent(omInstanceID)); n != 0 {
		t.Errorf("refused sends recorded: %d", n)
	}
	if n := len(h.sim.Conversation(omInstanceID, omCustomer)); n != 1 {
		t.Errorf("refused sends reached the phone: %d messages", n)
	}
}

func TestOneMsgWindowFollowsTheClock(t *testing.T) {
	h := newOmHarness(t)
	send := func(body string) (int, map[string]any) {
		return h.call(t, "POST", "sendMessage", map[string]any{"body": body, "phone": "15005550006"})
	}
	h.customerWrites(t, "hi")
	h.clock.Advance(24*time.Hour + time.Minute)
	status, out := send("Sorry for the wait")
	wantSentFalse(t, status, out, "Dialog window is closed")

	// Messages typed on the business phone do not reopen it.
	if _, err := h.sim.BusinessSendsFromPhone(context.Background(), omInstanceID, omCustomer, "from the app"); err != nil {
		t.Fatal(err)
	}
	h.hook.next(t)
	status, out = send("still closed")
	wantSentFalse(t, status, out, "Dialog window is closed")

	// An approved template still goes out.
	ns := namespaceOf(t, h)
	h.mustSend(t, "sendTemplate", map[string]any{
		"template": "conversation_follow_up", "language": map[string]any{"policy": "deterministic", "code": "en"},
		"namespace": ns, "params": []any{}, "phone": "15005550006",
	})
	h.settle()

	// Each customer message restarts the 24 hours.
	h.customerWrites(t, "still there?")
	h.clock.Advance(23*time.Hour + 59*time.Minute)
	h.mustSend(t, "sendMessage", map[string]any{"body": "Yes!", "phone": "15005550006"})
	h.clock.Advance(2 * time.Minute)
	status, out = send("too late")
	wantSentFalse(t, status, out, "Dialog window is closed")
}

func TestOneMsgSendFile(t *testing.T) {
	h := newOmHarness(t)
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
		default:
			http.NotFound(w, r)
		}
	}))
	defer files.Close()
	h.customerWrites(t, "send me the photo")

	id := h.mustSend(t, "sendFile", map[string]any{
		"phone": 15005550006, "body": files.URL + "/signed", "filename": "photo.jpg", "caption": "Here it is",
	})
	calls := h.settle()
	echo := echoOf(t, calls, id)
	link, _ := echo["body"].(string)
	if echo["type"] != "image" || echo["caption"] != "Here it is" || !strings.HasPrefix(link, h.base+"/media/") || echo["self"] != float64(1) {
		t.Fatalf("echo %v", echo)
	}
	if got := ackStatuses(t, calls, id); !slices.Equal(got, []string{"sent", "delivered", "read"}) {
		t.Errorf("acks %v", got)
	}
	got, ct := omGet(t, link, 200)
	if !bytes.Equal(got, jpeg) || ct != "image/jpeg" {
		t.Errorf("media link: %d bytes %q", len(got), ct)
	}
	conv := h.sim.Conversation(omInstanceID, omCustomer)
	last := conv[len(conv)-1]
	if last.Body != "Here it is" || len(last.MediaURLs) != 1 || last.MediaContentTypes[0] != "image/jpeg" {
		t.Fatalf("phone shows %+v", last)
	}
	if got, _ := omGet(t, last.MediaURLs[0], 200); !bytes.Equal(got, jpeg) {
		t.Error("phone media differs")
	}

	// A data URI; the type comes from the URI, a document's caption from its filename.
	pdf := []byte("%PDF-1.4 sandbox")
	id = h.mustSend(t, "sendFile", map[string]any{
		"chatId": omChatID, "body": "data:application/pdf;base64," + base64.StdEncoding.EncodeToString(pdf), "filename": "invoice.pdf",
	})
	echo = echoOf(t, h.settle(), id)
	if echo["type"] != "document" || echo["caption"] != "invoice.pdf" {
		t.Errorf("document echo %v", echo)
	}
	if got, ct := omGet(t, echo["body"].(string), 200); !bytes.Equal(got, pdf) || ct != "application/pdf" {
		t.Errorf("document %q %q", got, ct)
	}

	// A multipart upload in the "body" field.
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	_ = mw.WriteField("phone", "15005550006")
	_ = mw.WriteField("caption", "uploaded")
	fw, _ := mw.CreateFormFile("body", "notes.txt")
	_, _ = fw.Write([]byte("some notes"))
	mw.Close()
	req, _ := http.NewRequest("POST", h.api+"sendFile?token="+url.QueryEscape(omToken), &buf)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var out map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&out)
	resp.Body.Close()
	id = wantSent(t, resp.StatusCode, out)
	if echo := echoOf(t, h.settle(), id); echo["type"] != "document" || echo["caption"] != "uploaded" {
		t.Errorf("upload echo %v", echo)
	}

	for path, want := range map[string]string{
		"/huge.mp4": "File is too large. Maximum file size is 16 MB",
		"/missing":  "Failed to download the file",
	} {
		status, out := h.call(t, "POST", "sendFile", map[string]any{"phone": "15005550006", "body": files.URL + path, "filename": "x" + path})
		wantSentFalse(t, status, out, want)
	}
	huge := "data:video/mp4;base64," + base64.StdEncoding.EncodeToString(make([]byte, 16<<20+1))
	status, out := h.call(t, "POST", "sendFile", map[string]any{"phone": "15005550006", "body": huge, "filename": "huge.mp4"})
	wantSentFalse(t, status, out, "File is too large. Maximum file size is 16 MB")
	if n := len(h.sim.Sent(omInstanceID)); n != 3 {
		t.Errorf("Sent has %d", n)
	}

	// Inbound media links are built from PublicURL, so it must be set.
	bare := NewOneMsg(OneMsgOptions{Logger: discardLogger()})
	bare.AddInstance("359900", "t", "+15550002222")
	if _, err := bare.CustomerSends(context.Background(), OneMsgInbound{InstanceID: "359900", From: omCustomer, Media: &MediaFile{ContentType: "image/png", Data: []byte("x")}}); err == nil {
		t.Error("media without PublicURL accepted")
	}
}

// omGet fetches a URL, checks the status and returns the body and type.
func omGet(t *testing.T, u string, want int) ([]byte, string) {
	t.Helper()
	resp, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != want {
		t.Errorf("GET %s: %d, want %d (%s)", u, resp.StatusCode, want, body)
	}
	return body, resp.Header.Get("Content-Type")
}

func TestOneMsgSendButtonAndTap(t *testing.T) {
	h := newOmHarness(t)
	h.customerWrites(t, "hi")
	id := h.mustSend(t, "sendButton", map[string]any{
		"phone": "15005550006", "body": "Was this helpful?", "footer": "Footer",
		"sections": []any{
			map[string]any{"type": "reply", "reply": map[string]any{"id": "1", "title": "Yes"}},
			map[string]any{"type": "reply", "reply": map[string]any{"id": "2", "title": "No"}},
		},
	})
	calls := h.settle()
	if echo := echoOf(t, calls, id); echo["type"] != "interactive" || echo["body"] != "Was this helpful?" {
		t.Errorf("echo %v", echo)
	}
	conv := h.sim.Conversation(omInstanceID, omCustomer)
	if last := conv[len(conv)-1]; !slices.Equal(last.Buttons, []string{"Yes", "No"}) {
		t.Errorf("phone shows %+v", last)
	}
	// A form with buttons as a JSON string.
	h.mustSend(t, "sendButton", url.Values{"chatId": {omChatID}, "body": {"Pick one"}, "buttons": {`["A","B","C"]`}})
	h.settle()

	tapID, err := h.sim.CustomerSends(context.Background(), OneMsgInbound{InstanceID: omInstanceID, From: omCustomer, SenderName: "Ann", ButtonText: "B"})
	if err != nil {
		t.Fatal(err)
	}
	tap := onlyMessage(t, h.hook.next(t))
	wantID := h.sim.Conversation(omInstanceID, omCustomer)[2].Sid
	if tap["id"] != tapID || tap["type"] != "button" || tap["body"] != "B" || tap["quotedMsgId"] != wantID || tap["fromMe"] != false {
		t.Errorf("tap %v", tap)
	}
}

// namespaceOf reads the WABA namespace from the template list, as Parley does.
func namespaceOf(t *testing.T, h *omHarness) string {
	t.Helper()
	h.sim.SeedDemoTemplates(omInstanceID)
	_, out := h.call(t, "GET", "templates", nil)
	for _, it := range out["templates"].([]any) {
		if ns, ok := it.(map[string]any)["namespace"].(string); ok {
			return ns
		}
	}
	t.Fatal("no namespace in the template list")
	return ""
}

func TestOneMsgTemplateListQuirks(t *testing.T) {
	h := newOmHarness(t)
	h.sim.SeedDemoTemplates(omInstanceID)
	status, out := h.call(t, "GET", "templates", nil)
	list, _ := out["templates"].([]any)
	if status != 200 || out["total"] != float64(len(list)) || len(list) != 14 {
		t.Fatalf("templates: %d total %v, %d items", status, out["total"], len(list))
	}
	byKey := map[string]map[string]any{}
	namespaces := map[string]bool{}
	statuses := map[string]bool{}
	for _, it := range list {
		tp := it.(map[string]any)
		lang, ok := tp["language"].(string)
		if !ok {
			lang = tp["language"].(map[string]any)["code"].(string)
		}
		byKey[tp["name"].(string)+"/"+lang] = tp
		if ns, ok := tp["namespace"].(string); ok {
			namespaces[ns] = true
		}
		statuses[tp["status"].(string)] = true
	}
	if len(namespaces) != 1 {
		t.Errorf("namespaces %v", namespaces)
	}
	for _, s := range []string{"approved", "APPROVED", "PENDING", "rejected"} {
		if !statuses[s] {
			t.Errorf("no status %q in %v", s, statuses)
		}
	}
	if _, ok := byKey["atualizacao_atendimento/pt_BR"]["namespace"]; ok {
		t.Error("the sibling without namespace has one")
	}
	if _, ok := byKey["order_shipped/es"]["language"].(map[string]any); !ok {
		t.Errorf("language as object: %v", byKey["order_shipped/es"]["language"])
	}
	if byKey["order_shipped/en"]["language"] != "en" {
		t.Errorf("same name in another language: %v", byKey["order_shipped/en"])
	}
	raw, ok := byKey["conversation_follow_up/en"]["components"].(string)
	var comps []map[string]any
	if !ok || json.Unmarshal([]byte(raw), &comps) != nil || comps[0]["type"] != "BODY" {
		t.Errorf("components as string: %v", byKey["conversation_follow_up/en"]["components"])
	}
	qr := byKey["issue_resolved_check/en"]["components"].([]any)
	wantQR := []any{
		map[string]any{"type": "BODY", "text": "Hi {{1}}, was your issue resolved?"},
		map[string]any{"type": "FOOTER", "text": "Tap a button to answer"},
		map[string]any{"type": "BUTTONS", "buttons": []any{
			map[string]any{"type": "QUICK_REPLY", "text": "Yes"},
			map[string]any{"type": "QUICK_REPLY", "text": "No"},
			map[string]any{"type": "QUICK_REPLY", "text": "Talk to an agent"},
		}},
	}
	if !reflect.DeepEqual(qr, wantQR) {
		t.Errorf("quick-reply components %v", qr)
	}
	if c := byKey["terminerinnerung/de"]["components"].([]any)[0].(map[string]any); c["type"] != "HEADER" || c["format"] != "TEXT" {
		t.Errorf("header %v", c)
	}
	if byKey["account_verification/en"]["rejected_reason"] == "NONE" || byKey["order_shipped/en"]["rejected_reason"] != "NONE" {
		t.Error("rejected_reason")
	}

	// AddTemplate replaces by name and language; RemoveTemplate deletes.
	h.sim.AddTemplate(omInstanceID, OneMsgTemplate{Name: "spring_sale", Language: "en", Status: "approved", Body: "Sale!"})
	h.sim.RemoveTemplate(omInstanceID, "order_shipped", "es")
	_, out = h.call(t, "GET", "templates", nil)
	if out["total"] != float64(13) {
		t.Errorf("total after changes %v", out["total"])
	}
}

func omBodyParams(vals ...string) []any {
	ps := []any{}
	for _, v := range vals {
		ps = append(ps, map[string]any{"type": "text", "text": v})
	}
	return []any{map[string]any{"type": "body", "parameters": ps}}
}

func TestOneMsgSendTemplate(t *testing.T) {
	h := newOmHarness(t)
	ns := namespaceOf(t, h)
	tpl := func(name, lang, namespace string, params any) map[string]any {
		b := map[string]any{"template": name, "language": map[string]any{"policy": "deterministic", "code": lang}, "namespace": namespace, "phone": "15005550006"}
		if params != nil {
			b["params"] = params
		}
		return b
	}

	// Outside any window: the customer never wrote.
	id := h.mustSend(t, "sendTemplate", tpl("order_shipped", "en", ns, omBodyParams("Ann", "A-1001", "Friday")))
	calls := h.settle()
	if got := ackStatuses(t, calls, id); !slices.Equal(got, []string{"sent", "delivered", "read"}) {
		t.Errorf("acks %v", got)
	}
	filled := "Hi Ann, your order A-1001 has shipped and should arrive on Friday."
	if echo := echoOf(t, calls, id); echo["body"] != filled || echo["type"] != "chat" {
		t.Errorf("echo %v", echo)
	}
	conv := h.sim.Conversation(omInstanceID, omCustomer)
	if len(conv) != 1 || conv[0].Body != filled || conv[0].Status != "read" {
		t.Errorf("phone shows %+v", conv)
	}

	// The quick-reply template shows its buttons; a tap answers it.
	id = h.mustSend(t, "sendTemplate", tpl("issue_resolved_check", "en", ns, omBodyParams("Ann")))
	h.settle()
	last := h.sim.Conversation(omInstanceID, omCustomer)[1]
	if last.Body != "Hi Ann, was your issue resolved?" || !slices.Equal(last.Buttons, []string{"Yes", "No", "Talk to an agent"}) {
		t.Errorf("phone shows %+v", last)
	}
	if _, err := h.sim.CustomerSends(context.Background(), OneMsgInbound{InstanceID: omInstanceID, From: omCustomer, ButtonText: "Talk to an agent"}); err != nil {
		t.Fatal(err)
	}
	if tap := onlyMessage(t, h.hook.next(t)); tap["type"] != "button" || tap["body"] != "Talk to an agent" || tap["quotedMsgId"] != id {
		t.Errorf("tap %v", tap)
	}

	// The template listed without namespace goes out with its siblings' one;
	// a header without variables takes no parameters; form bodies carry JSON.
	h.mustSend(t, "sendTemplate", tpl("atualizacao_atendimento", "pt_BR", ns, []any{}))
	h.mustSend(t, "sendTemplate", tpl("terminerinnerung", "de", ns, omBodyParams("Anna", "3. März")))
	h.mustSend(t, "sendTemplate", url.Values{
		"template": {"order_shipped"}, "language": {`{"policy":"deterministic","code":"es"}`}, "namespace": {ns},
		"params": {`[{"type":"body","parameters":[{"type":"text","text":"Ana"},{"type":"text","text":"B-7"},{"type":"text","text":"lunes"}]}]`},
		"chatId": {omChatID},
	})
	calls = h.settle()
	for _, c := range calls {
		if acks, ok := c.body["ack"].([]any); ok && acks[0].(map[string]any)["status"] == "failed" {
			t.Errorf("failed ack %s", c.raw)
		}
	}
	if got := h.sim.Conversation(omInstanceID, omCustomer); got[len(got)-1].Body != "Hola Ana, tu pedido B-7 fue enviado y llegará el lunes." {
		t.Errorf("es body %q", got[len(got)-1].Body)
	}

	// Name, language or namespace that match nothing: 400 synchronously.
	for name, body := range map[string]map[string]any{
		"unknown name":      tpl("nope", "en", ns, []any{}),
		"unknown language":  tpl("order_shipped", "fr", ns, []any{}),
		"wrong namespace":   tpl("order_shipped", "en", "ca300906_cfbc_410b_99fb_dcee8e13d578", []any{}),
		"missing namespace": tpl("order_shipped", "en", "", []any{}),
		"no language":       {"template": "order_shipped", "namespace": ns, "phone": "15005550006"},
	} {
		status, out := h.call(t, "POST", "sendTemplate", body)
		if status != 400 || !reflect.DeepEqual(out, map[string]any{"message": "template is not defined"}) {
			t.Errorf("%s: %d %v", name, status, out)
		}
	}
	status, out := h.call(t, "POST", "sendTemplate", map[string]any{"template": "order_shipped", "language": map[string]any{"code": "en"}, "namespace": ns, "chatId": "1@g.us"})
	wantSentFalse(t, status, out, "Group chats are not supported on this channel")

	// Accepted, then a failed ack with Meta's text.
	failing := []struct {
		name   string
		body   map[string]any
		code   int
		reason string
	}{
		{"too few params", tpl("order_shipped", "en", ns, omBodyParams("Ann")), 132000, "(#132000) Number of parameters does not match the expected number of params"},
		{"no params", tpl("order_shipped", "en", ns, nil), 132000, "(#132000) Number of parameters does not match the expected number of params"},
		{"params as strings", tpl("order_shipped", "en", ns, []any{"Ann", "A-1", "Friday"}), 132000, "(#132000) Number of parameters does not match the expected number of params"},
		{"params for a text-only template", tpl("conversation_follow_up", "en", ns, omBodyParams("x")), 132000, "(#132000) Number of parameters does not match the expected number of params"},
		{"header params without header vars", tpl("terminerinnerung", "de", ns, append(omBodyParams("Anna", "Mo"), map[string]any{"type": "header", "parameters": []any{map[string]any{"type": "text", "text": "x"}}})), 132000, "(#132000) Number of parameters does not match the expected number of params"},
		{"empty text param", tpl("order_shipped", "en", ns, omBodyParams("Ann", " ", "Friday")), 131008, "(#131008) Required parameter is missing"},
		{"pending template", tpl("spring_sale", "en", ns, omBodyParams("20%")), 132001, "(#132001) Template name does not exist in the translation"},
		{"rejected template", tpl("account_verification", "en", ns, omBodyParams("Verify")), 132001, "(#132001) Template name does not exist in the translation"},
	}
	for _, f := range failing {
		t.Run(f.name, func(t *testing.T) {
			id := h.mustSend(t, "sendTemplate", f.body)
			calls := h.settle()
			if got := ackStatuses(t, calls, id); !slices.Equal(got, []string{"failed"}) {
				t.Fatalf("acks %v", got)
			}
			var ack map[string]any
			for _, c := range calls {
				if acks, ok := c.body["ack"].([]any); ok {
					ack = acks[0].(map[string]any)
				}
			}
			if ack["error"] != f.reason || len(ack) != 5 {
				t.Errorf("failed ack %v", ack)
			}
			conv := h.sim.Conversation(omInstanceID, omCustomer)
			if last := conv[len(conv)-1]; last.Sid != id || last.Status != "failed" || last.ErrorCode != f.code {
				t.Errorf("phone shows %+v", last)
			}
		})
	}

	// A removed template is not defined any more.
	h.sim.RemoveTemplate(omInstanceID, "order_shipped", "en")
	if status, out := h.call(t, "POST", "sendTemplate", tpl("order_shipped", "en", ns, omBodyParams("a", "b", "c"))); status != 400 || out["message"] != "template is not defined" {
		t.Errorf("removed: %d %v", status, out)
	}
	// A template added by a test without namespace is sent with the WABA's.
	h.sim.AddTemplate(omInstanceID, OneMsgTemplate{Name: "plain", Language: "en", Body: "Plain {{1}}"})
	h.mustSend(t, "sendTemplate", tpl("plain", "en", ns, omBodyParams("text")))
	h.settle()
}

func TestOneMsgInboundEnvelopes(t *testing.T) {
	h := newOmHarness(t)
	ctx := context.Background()
	at := float64(h.clock.Now().Unix())

	id, err := h.sim.CustomerSends(ctx, OneMsgInbound{InstanceID: omInstanceID, From: omCustomer, SenderName: "Ann Example", Body: "Hello, my order is late"})
	if err != nil {
		t.Fatal(err)
	}
	c := h.hook.next(t)
	want := map[string]any{
		"id": id, "body": "Hello, my order is late", "fromMe": false, "self": float64(0), "isForwarded": false,
		"author": omChatID, "time": at, "chatId": omChatID, "type": "chat",
		"senderName": "Ann Example", "chatName": "Ann Example", "quotedMsgId": nil,
	}
	if got := onlyMessage(t, c); !reflect.DeepEqual(got, want) || !strings.HasPrefix(id, "wamid.") {
		t.Errorf("text message\n got %v\nwant %v", got, want)
	}
	if c.header.Get("Content-Type") != "application/json" {
		t.Errorf("Content-Type %q", c.header.Get("Content-Type"))
	}

	png := []byte("\x89PNG\r\n\x1a\n fake png")
	id, err = h.sim.CustomerSends(ctx, OneMsgInbound{InstanceID: omInstanceID, From: omCustomer, Body: "the receipt", Media: &MediaFile{ContentType: "image/png", Filename: "receipt.png", Data: png}})
	if err != nil {
		t.Fatal(err)
	}
	got := onlyMessage(t, h.hook.next(t))
	link, _ := got["body"].(string)
	want = map[string]any{
		"id": id, "body": link, "fromMe": false, "self": float64(0), "isForwarded": false,
		"author": omChatID, "time": at, "chatId": omChatID, "type": "image", "caption": "the receipt",
		"senderName": "Ann Example", "chatName": "Ann Example", "quotedMsgId": nil,
	}
	if !reflect.DeepEqual(got, want) || !strings.HasPrefix(link, h.base+"/media/") {
		t.Errorf("media message\n got %v\nwant %v", got, want)
	}
	if body, ct := omGet(t, link, 200); !bytes.Equal(body, png) || ct != "image/png" {
		t.Errorf("media %q %q", body, ct)
	}

	_, err = h.sim.CustomerSends(ctx, OneMsgInbound{InstanceID: omInstanceID, From: omCustomer, Media: &MediaFile{ContentType: "application/pdf", Filename: "invoice.pdf", Data: []byte("%PDF")}})
	if err != nil {
		t.Fatal(err)
	}
	if got := onlyMessage(t, h.hook.next(t)); got["type"] != "document" || got["caption"] != "invoice.pdf" {
		t.Errorf("document %v", got)
	}

	id, err = h.sim.CustomerSends(ctx, OneMsgInbound{InstanceID: omInstanceID, From: omCustomer, ButtonText: "Yes"})
	if err != nil {
		t.Fatal(err)
	}
	want = map[string]any{
		"id": id, "body": "Yes", "fromMe": false, "self": float64(0), "isForwarded": false,
		"author": omChatID, "time": at, "chatId": omChatID, "type": "button",
		"senderName": "Ann Example", "chatName": "Ann Example", "quotedMsgId": nil,
	}
	if got := onlyMessage(t, h.hook.next(t)); !reflect.DeepEqual(got, want) {
		t.Errorf("button\n got %v\nwant %v", got, want)
	}

	// An agent types on the business phone: an echo with self 0, no acks,
	// and no 24-hour check.
	h.clock.Advance(48 * time.Hour)
	id, err = h.sim.BusinessSendsFromPhone(ctx, omInstanceID, "15005550006", "Typed on the phone")
	if err != nil {
		t.Fatal(err)
	}
	want = map[string]any{
		"id": id, "body": "Typed on the phone", "fromMe": true, "self": float64(0), "isForwarded": false,
		"author": "15550001111@c.us", "time": at + 48*3600, "chatId": omChatID, "type": "chat",
		"senderName": "Sandbox Business", "chatName": "Ann Example", "quotedMsgId": nil,
	}
	if got := onlyMessage(t, h.hook.next(t)); !reflect.DeepEqual(got, want) {
		t.Errorf("app echo\n got %v\nwant %v", got, want)
	}
	if calls := h.settle(); len(calls) != 0 {
		t.Errorf("app message caused %d more webhooks", len(calls))
	}
	conv := h.sim.Conversation(omInstanceID, omCustomer)
	if len(conv) != 5 || conv[4].Direction != "outbound" || conv[4].Sid != id || conv[1].MediaContentTypes[0] != "image/png" {
		t.Errorf("conversation %+v", conv)
	}

	// Invalid input.
	if _, err := h.sim.CustomerSends(ctx, OneMsgInbound{InstanceID: omInstanceID, From: "ann", Body: "x"}); err == nil {
		t.Error("bad number accepted")
	}
	if _, err := h.sim.CustomerSends(ctx, OneMsgInbound{InstanceID: "nope", From: omCustomer, Body: "x"}); err == nil {
		t.Error("unknown instance accepted")
	}
	if _, err := h.sim.CustomerSends(ctx, OneMsgInbound{InstanceID: omInstanceID, From: omCustomer}); err == nil {
		t.Error("empty message accepted")
	}
	if _, err := h.sim.BusinessSendsFromPhone(ctx, "nope", omCustomer, "x"); err == nil {
		t.Error("unknown instance accepted")
	}
}

func TestOneMsgRefusedWebhookIsAnError(t *testing.T) {
	h := newOmHarness(t)
	h.hook.status.Store(http.StatusInternalServerError)
	id, err := h.sim.CustomerSends(context.Background(), OneMsgInbound{InstanceID: omInstanceID, From: omCustomer, Body: "hi"})
	if err == nil || id == "" || !errors.Is(err, errWebhookRefused) {
		t.Fatalf("id %q err %v", id, err)
	}
	h.hook.next(t)
	// The message exists and the window is open regardless.
	h.hook.status.Store(http.StatusOK)
	h.mustSend(t, "sendMessage", map[string]any{"body": "we got it", "phone": "15005550006"})
	h.settle()
	h.hook.status.Store(http.StatusForbidden)
	if _, err := h.sim.BusinessSendsFromPhone(context.Background(), omInstanceID, omCustomer, "x"); err == nil {
		t.Error("refused echo is not an error")
	}
	h.hook.next(t)
}

func TestOneMsgMediaLinkExpires(t *testing.T) {
	h := newOmHarness(t)
	data := []byte("OggS voice note")
	if _, err := h.sim.CustomerSends(context.Background(), OneMsgInbound{InstanceID: omInstanceID, From: omCustomer, Media: &MediaFile{ContentType: "audio/ogg", Filename: "voice.ogg", Data: data}}); err != nil {
		t.Fatal(err)
	}
	msg := onlyMessage(t, h.hook.next(t))
	link := msg["body"].(string)
	if msg["type"] != "audio" {
		t.Errorf("type %v", msg["type"])
	}
	h.clock.Advance(9*time.Minute + 59*time.Second)
	if got, _ := omGet(t, link, 200); !bytes.Equal(got, data) {
		t.Errorf("before expiry: %q", got)
	}
	h.clock.Advance(time.Second)
	omGet(t, link, http.StatusGone)
	omGet(t, h.base+"/media/"+strings.Repeat("0", 40), http.StatusNotFound)
	// The phone page's link does not expire.
	conv := h.sim.Conversation(omInstanceID, omCustomer)
	if got, ct := omGet(t, conv[0].MediaURLs[0], 200); !bytes.Equal(got, data) || ct != "audio/ogg" {
		t.Errorf("phone link %q %q", got, ct)
	}
}

func TestOneMsgFaults(t *testing.T) {
	t.Run("duplicate deliveries", func(t *testing.T) {
		h := newOmHarness(t)
		h.sim.SetFaults(OneMsgFaults{DuplicateDeliveries: 1})
		if _, err := h.sim.CustomerSends(context.Background(), OneMsgInbound{InstanceID: omInstanceID, From: omCustomer, Body: "hi"}); err != nil {
			t.Fatal(err)
		}
		a, b := h.hook.next(t), h.hook.next(t)
		if !bytes.Equal(a.raw, b.raw) {
			t.Errorf("deliveries differ:\n%s\n%s", a.raw, b.raw)
		}
		id := h.mustSend(t, "sendMessage", map[string]any{"body": "hello", "phone": "15005550006"})
		calls := h.settle()
		if len(calls) != 8 {
			t.Errorf("%d webhooks, want 8", len(calls))
		}
		if got := ackStatuses(t, calls, id); !slices.Equal(got, []string{"sent", "sent", "delivered", "delivered", "read", "read"}) {
			t.Errorf("acks %v", got)
		}
	})
	t.Run("reordered acks", func(t *testing.T) {
		h := newOmHarness(t)
		h.customerWrites(t, "hi")
		h.sim.SetFaults(OneMsgFaults{ReorderAcks: true})
		id := h.mustSend(t, "sendMessage", map[string]any{"body": "hello", "phone": "15005550006"})
		if got := ackStatuses(t, h.settle(), id); !slices.Equal(got, []string{"read", "delivered", "sent"}) {
			t.Errorf("acks %v", got)
		}
		// The phone never regresses.
		if conv := h.sim.Conversation(omInstanceID, omCustomer); conv[1].Status != "read" {
			t.Errorf("status %q", conv[1].Status)
		}
	})
	t.Run("server errors", func(t *testing.T) {
		h := newOmHarness(t)
		h.sim.SetFaults(OneMsgFaults{ServerErrorRate: 1})
		for range 8 {
			status, out := h.call(t, "GET", "status", nil)
			if (status != 500 && status != 503) || out["error"] == nil {
				t.Errorf("got %d %v", status, out)
			}
		}
		h.sim.SetFaults(OneMsgFaults{})
		if status, _ := h.call(t, "GET", "status", nil); status != 200 {
			t.Errorf("after faults cleared: %d", status)
		}
	})
	t.Run("timeouts honour the client's deadline", func(t *testing.T) {
		h := newOmHarness(t)
		h.sim.SetFaults(OneMsgFaults{TimeoutRate: 1})
		ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		defer cancel()
		req, _ := http.NewRequestWithContext(ctx, "GET", h.api+"status?token="+omToken, nil)
		start := time.Now()
		resp, err := http.DefaultClient.Do(req)
		if err == nil {
			resp.Body.Close()
			t.Fatalf("answered %d", resp.StatusCode)
		}
		if elapsed := time.Since(start); elapsed > 5*time.Second {
			t.Errorf("took %v", elapsed)
		}
	})
	t.Run("latency", func(t *testing.T) {
		h := newOmHarness(t)
		h.sim.SetFaults(OneMsgFaults{Latency: 100 * time.Millisecond})
		start := time.Now()
		if status, _ := h.call(t, "GET", "status", nil); status != 200 {
			t.Fatal(status)
		}
		if elapsed := time.Since(start); elapsed < 100*time.Millisecond {
			t.Errorf("answered after %v", elapsed)
		}
	})
}

func TestOneMsgAckDelayKeepsOrder(t *testing.T) {
	h := newOmHarnessWith(t, OneMsgOptions{AckDelay: time.Millisecond})
	h.customerWrites(t, "hi")
	var ids []string
	for i := range 3 {
		ids = append(ids, h.mustSend(t, "sendMessage", map[string]any{"body": fmt.Sprint("msg ", i), "phone": "15005550006"}))
	}
	calls := h.settle()
	for _, id := range ids {
		if got := ackStatuses(t, calls, id); !slices.Equal(got, []string{"sent", "delivered", "read"}) {
			t.Errorf("%s: acks %v", id, got)
		}
	}
}

func TestOneMsgPhoneRoutes(t *testing.T) {
	h := newOmHarness(t)
	post := func(ct string, body io.Reader) (int, map[string]string) {
		t.Helper()
		resp, err := http.Post(h.base+"/phone/send", ct, body)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var out map[string]string
		if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
			t.Fatal(err)
		}
		return resp.StatusCode, out
	}
	status, out := post("application/json", strings.NewReader(`{"instance":"ODI371267300","from":"+15005550006","sender_name":"Ann","body":"Hi, I need help"}`))
	if status != 200 || !strings.HasPrefix(out["id"], "wamid.") || out["sid"] != out["id"] {
		t.Fatalf("JSON send: %d %v", status, out)
	}
	if m := onlyMessage(t, h.hook.next(t)); m["body"] != "Hi, I need help" || m["senderName"] != "Ann" {
		t.Errorf("webhook %v", m)
	}
	form := url.Values{"instance": {omInstanceID}, "from": {omCustomer}, "button_text": {"Yes"}}
	if status, _ := post("application/x-www-form-urlencoded", strings.NewReader(form.Encode())); status != 200 {
		t.Fatalf("form send: %d", status)
	}
	if m := onlyMessage(t, h.hook.next(t)); m["type"] != "button" {
		t.Errorf("webhook %v", m)
	}
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	_ = mw.WriteField("instance", omInstanceID)
	_ = mw.WriteField("from", omCustomer)
	_ = mw.WriteField("body", "the receipt")
	fw, _ := mw.CreateFormFile("file", "receipt.png")
	png := []byte("\x89PNG\r\n\x1a\n fake png")
	_, _ = fw.Write(png)
	mw.Close()
	if status, out := post(mw.FormDataContentType(), &buf); status != 200 {
		t.Fatalf("upload: %d %v", status, out)
	}
	if m := onlyMessage(t, h.hook.next(t)); m["type"] != "image" || m["caption"] != "the receipt" {
		t.Errorf("webhook %v", m)
	}

	resp, err := http.Get(h.base + "/phone/messages?instance=" + omInstanceID + "&customer=" + url.QueryEscape(omCustomer))
	if err != nil {
		t.Fatal(err)
	}
	var conv []PhoneMessage
	_ = json.NewDecoder(resp.Body).Decode(&conv)
	resp.Body.Close()
	if len(conv) != 3 || conv[0].Body != "Hi, I need help" || conv[1].Body != "Yes" || conv[2].MediaContentTypes[0] != "image/png" {
		t.Fatalf("conversation %+v", conv)
	}
	if got, _ := omGet(t, conv[2].MediaURLs[0], 200); !bytes.Equal(got, png) {
		t.Errorf("phone media %q", got)
	}
	resp, err = http.Get(h.base + "/phone/customers?instance=" + omInstanceID)
	if err != nil {
		t.Fatal(err)
	}
	var customers []string
	_ = json.NewDecoder(resp.Body).Decode(&customers)
	resp.Body.Close()
	if !slices.Equal(customers, []string{omCustomer}) {
		t.Errorf("customers %v", customers)
	}
	if got := h.sim.Conversation(omInstanceID, "+15005550006"); len(got) != 3 {
		t.Errorf("conversation by +E164: %d", len(got))
	}
	// A "+" left unescaped in a query string arrives as a space; it is accepted too.
	if got := h.sim.Conversation(omInstanceID, " 15005550006"); len(got) != 3 {
		t.Errorf("conversation with a decoded +: %d", len(got))
	}

	h.hook.status.Store(http.StatusForbidden)
	status, out = post("application/json", strings.NewReader(`{"instance":"ODI371267300","from":"+15005550006","body":"hi"}`))
	if status != http.StatusBadGateway || out["error"] == "" || out["id"] == "" {
		t.Errorf("refused webhook: %d %v", status, out)
	}
	h.hook.next(t)
	status, out = post("application/json", strings.NewReader(`{"instance":"nope","from":"+15005550006","body":"hi"}`))
	if status != http.StatusBadRequest || out["error"] == "" {
		t.Errorf("unknown instance: %d %v", status, out)
	}
	omGet(t, h.base+"/phone/media/nope", 404)
	omGet(t, h.base+"/phone/nothing", 404)
}
