package onemsg_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"image"
	"image/color"
	"image/png"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sync"
	"testing"
	"time"

	"parley/internal/channel"
	"parley/internal/channel/onemsg"
	"parley/internal/sandbox"
)

// The simulated channel and its client.
const (
	testInstance   = "ODI371267300"
	testToken      = "eyJhbGciOiJIUzI1NiJ9.c2FuZGJveA.sig"
	testPhone      = "+15550001111" // the channel's number
	testCustomer   = "+15005550006"
	customerDigits = "15005550006"
)

// clock is the simulator's clock, moved by tests (media links expire).
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// hookRecorder stands in for Parley's 1msg webhook: it keeps every body.
type hookRecorder struct {
	srv    *httptest.Server
	mu     sync.Mutex
	bodies [][]byte
}

func newHookRecorder(t *testing.T) *hookRecorder {
	t.Helper()
	h := &hookRecorder{}
	h.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, err := io.ReadAll(r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		h.mu.Lock()
		h.bodies = append(h.bodies, b)
		h.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"ok":true}`)
	}))
	t.Cleanup(h.srv.Close)
	return h
}

// Bodies returns the webhook bodies received so far, oldest first.
func (h *hookRecorder) Bodies() [][]byte {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([][]byte(nil), h.bodies...)
}

// parsed returns every webhook received so far, parsed by the adapter.
func (h *hookRecorder) parsed(t *testing.T) []onemsg.Webhook {
	t.Helper()
	var out []onemsg.Webhook
	for _, b := range h.Bodies() {
		w, err := onemsg.ParseWebhook(b)
		if err != nil {
			t.Fatalf("ParseWebhook(%s): %v", b, err)
		}
		out = append(out, w)
	}
	return out
}

// acks returns the statuses reported for one message, in arrival order.
func (h *hookRecorder) acks(t *testing.T, id string) []channel.Status {
	t.Helper()
	var out []channel.Status
	for _, w := range h.parsed(t) {
		for _, a := range w.Acks {
			if a.ProviderMessageID == id {
				out = append(out, a)
			}
		}
	}
	return out
}

// message returns the message (or echo) with this id, failing when none
// arrived.
func (h *hookRecorder) message(t *testing.T, id string) onemsg.Message {
	t.Helper()
	for _, w := range h.parsed(t) {
		for _, m := range w.Messages {
			if m.ProviderMessageID == id {
				return m
			}
		}
	}
	t.Fatalf("no webhook message %s", id)
	return onemsg.Message{}
}

// env is a simulated 1msg channel whose webhook list is 1msg's own inbox
// hook plus a hookRecorder, and an adapter client pointed at it.
type env struct {
	sim    *sandbox.OneMsg
	srv    *httptest.Server // serves sim.Handler()
	api    string           // the channel's API URL, as AddInstance gives it
	hook   *hookRecorder
	clock  *clock
	client *onemsg.Client
}

func newEnv(t *testing.T) *env {
	t.Helper()
	clk := &clock{now: time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)}
	sim := sandbox.NewOneMsg(sandbox.OneMsgOptions{Now: clk.Now, Logger: slog.New(slog.DiscardHandler)})
	srv := httptest.NewServer(sim.Handler())
	t.Cleanup(srv.Close)
	sim.SetPublicURL(srv.URL)
	api := sim.AddInstance(testInstance, testToken, testPhone)
	hook := newHookRecorder(t)
	// Registered last, so it runs first: no echo or ack is still being
	// posted when the servers close.
	t.Cleanup(sim.WaitIdle)

	// Add the recorder beside 1msg's own hook, without the adapter (its
	// webhook methods have their own tests).
	list, _ := json.Marshal(map[string]any{"webhookUrl": append(sim.Webhooks(testInstance), hook.srv.URL+"/webhooks/1msg/secret")})
	resp, err := http.Post(api+"webhook?token="+url.QueryEscape(testToken), "application/json", bytes.NewReader(list))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || len(sim.Webhooks(testInstance)) != 2 {
		t.Fatalf("set webhook: %s, list %v", resp.Status, sim.Webhooks(testInstance))
	}
	// Delivery statuses on, as Parley's connect turns them on (its own
	// test is TestEnsureDelivery).
	sim.SetAckNotifications(testInstance, true)
	return &env{sim: sim, srv: srv, api: api, hook: hook, clock: clk, client: mustNew(t, api, testToken, testPhone)}
}

func mustNew(t *testing.T, api, token, phone string) *onemsg.Client {
	t.Helper()
	c, err := onemsg.New(api, token, phone, nil)
	if err != nil {
		t.Fatalf("New(%q): %v", api, err)
	}
	return c
}

// customerWrites makes the customer send a text, opening the 24-hour window.
func (e *env) customerWrites(t *testing.T, body string) string {
	t.Helper()
	id, err := e.sim.CustomerSends(t.Context(), sandbox.OneMsgInbound{InstanceID: testInstance, From: testCustomer, SenderName: "Casey Client", Body: body})
	if err != nil {
		t.Fatalf("CustomerSends: %v", err)
	}
	return id
}

// lastSent is the last send the simulator accepted.
func (e *env) lastSent(t *testing.T) sandbox.OneMsgSent {
	t.Helper()
	sent := e.sim.Sent(testInstance)
	if len(sent) == 0 {
		t.Fatal("the simulator accepted no send")
	}
	return sent[len(sent)-1]
}

// fakeAPI starts a server standing in for api.1msg.io and returns an
// adapter client whose API URL points at it.
func fakeAPI(t *testing.T, h http.HandlerFunc) *onemsg.Client {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return mustNew(t, srv.URL+"/"+testInstance+"/", testToken, testPhone)
}

// closedAPI returns a client whose API server is gone: nothing listens.
func closedAPI(t *testing.T) *onemsg.Client {
	t.Helper()
	srv := httptest.NewServer(http.NotFoundHandler())
	c := mustNew(t, srv.URL+"/"+testInstance, testToken, testPhone)
	srv.Close()
	return c
}

// decodeBody reads a request's JSON body.
func decodeBody(r *http.Request, v any) error {
	return json.NewDecoder(r.Body).Decode(v)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// sendError asserts err is a *channel.SendError and returns it.
func sendError(t *testing.T, err error) *channel.SendError {
	t.Helper()
	var se *channel.SendError
	if !errors.As(err, &se) {
		t.Fatalf("error %v (%T), want a *channel.SendError", err, err)
	}
	if se.Message == "" {
		t.Errorf("SendError %+v has no message for the agent", se)
	}
	return se
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

// patterned returns n bytes that are not all alike, so truncation shows.
func patterned(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i*7 + i/251)
	}
	return b
}
