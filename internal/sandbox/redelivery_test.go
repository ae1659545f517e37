package sandbox

import (
	"context"
	"net"
	"net/http"
	"slices"
	"sync"
	"testing"
)

// attempts records the webhook attempts a simulator reports.
type attempts struct {
	mu  sync.Mutex
	all []WebhookAttempt
}

func (a *attempts) add(w WebhookAttempt) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.all = append(a.all, w)
}

func (a *attempts) statuses() []int {
	a.mu.Lock()
	defer a.mu.Unlock()
	var out []int
	for _, w := range a.all {
		out = append(out, w.Status)
	}
	return out
}

// Twilio retries a failed webhook only as the URL's connection overrides
// say: by default (rc=1, rp=ct) an answer of 500 is not retried; with
// #rc=…&rp=5xx or rp=all it is, up to rc times; rp=4xx does not cover a
// 500; an invalid rp delivers nothing. The fragment is never part of the
// signed URL: fakeParley checks every signature with twilio-go over the
// URL it was called on.
func TestTwilioWebhookRedeliveryFollowsConnectionOverrides(t *testing.T) {
	for _, tt := range []struct {
		name     string
		fragment string
		failures int // answers of 500 before a 200
		want     []int
		ok       bool
	}{
		{"no overrides: a 500 is not retried", "", 1, []int{500}, false},
		{"rp=5xx, rc=2: retried until it works", "#rc=2&rp=5xx", 2, []int{500, 500, 200}, true},
		{"rp=5xx, rc=2: gives up after two retries", "#rc=2&rp=5xx", 5, []int{500, 500, 500}, false},
		{"rp=all, rc=5", "#rc=5&rp=all", 4, []int{500, 500, 500, 500, 200}, true},
		{"rp=4xx does not cover a 500", "#rc=5&rp=4xx", 1, []int{500}, false},
		{"rp as a list", "#rc=3&rp=ct,5xx", 1, []int{500, 200}, true},
		{"rc=0: no retry", "#rc=0&rp=all", 1, []int{500}, false},
		{"invalid rp: not delivered (error 11243)", "#rc=5&rp=sometimes", 0, nil, false},
		{"rc out of range: not delivered", "#rc=9&rp=all", 0, nil, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t)
			h.sim.AddSender(testAccount, testSender, h.parley.srv.URL+"/webhooks/twilio/abc?x=1"+tt.fragment)
			var seen attempts
			h.sim.OnWebhookAttempt(func(a WebhookAttempt) {
				seen.add(a)
				if len(seen.statuses()) >= tt.failures {
					h.parley.status.Store(http.StatusOK)
				}
			})
			if tt.failures > 0 {
				h.parley.status.Store(http.StatusInternalServerError)
			}
			_, err := h.sim.CustomerSends(context.Background(), InboundMessage{From: testCustomer, To: testSender, Body: "hi"})
			if (err == nil) != tt.ok {
				t.Errorf("CustomerSends error %v, want delivered %v", err, tt.ok)
			}
			if got := seen.statuses(); !slices.Equal(got, tt.want) {
				t.Errorf("attempts answered %v, want %v", got, tt.want)
			}
			for range tt.want {
				h.parley.next(t) // each attempt was signed over the URL without its fragment
			}
			h.parley.quiet(t)
		})
	}
}

// A connection that fails is retried by default (rp=ct, rc=1): two
// attempts in all.
func TestTwilioWebhookConnectionFailureRetriedOnceByDefault(t *testing.T) {
	h := newHarness(t)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := "http://" + l.Addr().String() + "/webhooks/twilio/abc"
	l.Close()
	h.sim.AddSender(testAccount, testSender, closed)
	var seen attempts
	h.sim.OnWebhookAttempt(seen.add)
	if _, err := h.sim.CustomerSends(context.Background(), InboundMessage{From: testCustomer, To: testSender, Body: "hi"}); err == nil {
		t.Fatal("delivered to a closed port")
	}
	if got := seen.statuses(); !slices.Equal(got, []int{0, 0}) {
		t.Errorf("attempts %v, want two without an answer", got)
	}
}

// 1msg acks only reach the webhooks while the channel's ackNotificationsOn
// is on, and a new channel starts with it off. POST /settings changes only
// the keys it is given.
func TestOneMsgAcksOnlyWithAckNotificationsOn(t *testing.T) {
	h := newOmHarness(t)
	h.sim.AddInstance("fresh", "tok", "+15550003333")
	if h.sim.AckNotifications("fresh") || h.sim.GuaranteedHooks("fresh") {
		t.Fatal("a new channel has ackNotificationsOn or guaranteedHooks on")
	}

	h.call(t, "POST", "settings", map[string]any{"ackNotificationsOn": false})
	h.customerWrites(t, "hi")
	h.mustSend(t, "sendMessage", map[string]any{"body": "one", "phone": "15005550006"})
	h.sim.WaitIdle()
	got := h.settle()
	if len(got) != 1 || got[0].body["messages"] == nil {
		t.Fatalf("with acks off: %d webhooks, want only the echo", len(got))
	}

	own := h.sim.Webhooks(omInstanceID)
	status, out := h.call(t, "POST", "settings", map[string]any{"ackNotificationsOn": true, "guaranteedHooks": true})
	upd, _ := out["update"].(map[string]any)
	if status != 200 || out["ackNotificationsOn"] != true || out["guaranteedHooks"] != true || upd["ackNotificationsOn"] != true || upd["webhookUrl"] != nil {
		t.Fatalf("turn on: %d %v", status, out)
	}
	if !slices.Equal(h.sim.Webhooks(omInstanceID), own) {
		t.Errorf("POST /settings without webhookUrl changed the webhooks: %v", h.sim.Webhooks(omInstanceID))
	}
	if status, _ := h.call(t, "POST", "settings", map[string]any{"ackNotificationsOn": "maybe"}); status != 400 || !h.sim.AckNotifications(omInstanceID) {
		t.Errorf("a value that is not a boolean: %d, acks now %v", status, h.sim.AckNotifications(omInstanceID))
	}
	h.mustSend(t, "sendMessage", map[string]any{"body": "two", "phone": "15005550006"})
	h.sim.WaitIdle()
	if got := h.settle(); len(got) != 4 {
		t.Errorf("with acks on: %d webhooks, want the echo and three acks", len(got))
	}
}

// With guaranteedHooks on, 1msg posts a webhook again until it is answered
// 200; off, once.
func TestOneMsgGuaranteedHooksRedeliver(t *testing.T) {
	h := newOmHarnessWith(t, OneMsgOptions{HookRetryPause: -1})
	seen := &attempts{}
	h.sim.OnWebhookAttempt(func(a WebhookAttempt) {
		seen.add(a)
		if len(seen.statuses()) >= 2 {
			h.hook.status.Store(http.StatusOK)
		}
	})
	h.hook.status.Store(http.StatusServiceUnavailable)
	if _, err := h.sim.CustomerSends(context.Background(), OneMsgInbound{InstanceID: omInstanceID, From: omCustomer, Body: "lost"}); err == nil {
		t.Fatal("a refused webhook without guaranteedHooks is no error")
	}
	if got := seen.statuses(); !slices.Equal(got, []int{503}) {
		t.Fatalf("without guaranteedHooks: attempts %v", got)
	}

	h.call(t, "POST", "settings", map[string]any{"guaranteedHooks": true})
	seen.mu.Lock()
	seen.all = nil
	seen.mu.Unlock()
	h.hook.status.Store(http.StatusServiceUnavailable)
	if _, err := h.sim.CustomerSends(context.Background(), OneMsgInbound{InstanceID: omInstanceID, From: omCustomer, Body: "kept"}); err != nil {
		t.Fatalf("with guaranteedHooks: %v", err)
	}
	if got := seen.statuses(); !slices.Equal(got, []int{503, 503, 200}) {
		t.Errorf("with guaranteedHooks: attempts %v", got)
	}
	h.hook.drain()
}
