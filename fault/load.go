package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strings"
	"time"

	"parley/internal/sandbox"
)

// The load generator speaks to Parley as the providers and the agents do,
// and keeps its own ledger: what was answered 200 is what Parley
// acknowledged, whatever its database says afterwards.

var httpc = &http.Client{Timeout: 30 * time.Second}

func randHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// twilioInbound is the form Twilio posts for a customer's WhatsApp text
// (the simulator's own field set, see sandbox.Twilio.CustomerSends).
func twilioInbound(sid, from, to, body string) url.Values {
	p := url.Values{}
	p.Set("MessageSid", sid)
	p.Set("SmsMessageSid", sid)
	p.Set("SmsSid", sid)
	p.Set("AccountSid", sandbox.DemoTwilioAccountSID)
	p.Set("From", "whatsapp:"+from)
	p.Set("To", "whatsapp:"+to)
	p.Set("Body", body)
	p.Set("NumMedia", "0")
	p.Set("NumSegments", "1")
	p.Set("ReferralNumMedia", "0")
	p.Set("SmsStatus", "received")
	p.Set("ApiVersion", "2010-04-01")
	p.Set("WaId", strings.TrimPrefix(from, "+"))
	p.Set("ProfileName", "Fault")
	return p
}

func newSid() string { return "SM" + randHex(16) }

// hookPath is the path of a webhook URL (without its fragment).
func hookPath(hook string) string {
	u, _ := url.Parse(hook)
	return u.Path
}

// postTwilio posts a form to a replica at path, signed with token over
// signURL (the public URL Parley checks against; "" for no signature).
func postTwilio(ctx context.Context, replicaURL, path string, form url.Values, token, signURL string) (int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, replicaURL+path, strings.NewReader(form.Encode()))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if token != "" {
		req.Header.Set("X-Twilio-Signature", sandbox.SignTwilio(token, signURL, form))
	}
	return do(req)
}

// oneMsgInbound is a 1msg "messages" webhook with one text per id.
func oneMsgInbound(ids []string, from, body string) []byte {
	chat := strings.TrimPrefix(from, "+") + "@c.us"
	msgs := make([]any, len(ids))
	for i, id := range ids {
		msgs[i] = map[string]any{"id": id, "body": fmt.Sprintf("%s %d", body, i), "fromMe": false, "self": 0, "isForwarded": false,
			"time": time.Now().Unix(), "chatId": chat, "type": "chat", "chatName": "Fault", "author": chat, "senderName": "Fault", "quotedMsgId": nil}
	}
	b, _ := json.Marshal(map[string]any{"instanceId": sandbox.DemoOneMsgInstance, "messages": msgs})
	return b
}

func newWamid() string { return "wamid.FAULT" + strings.ToUpper(randHex(12)) }

func postJSON(ctx context.Context, target string, body []byte) (int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, target, bytes.NewReader(body))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", "application/json")
	return do(req)
}

func do(req *http.Request) (int, error) {
	resp, err := httpc.Do(req)
	if err != nil {
		return 0, err
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode, nil
}

// agent is a signed-in browser: a cookie jar against one base URL.
type agent struct {
	base string
	c    *http.Client
}

func login(ctx context.Context, base, email, password string) (*agent, error) {
	jar, _ := cookiejar.New(nil)
	a := &agent{base: base, c: &http.Client{Jar: jar, Timeout: 30 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
	status, body, err := a.post(ctx, "/login", url.Values{"email": {email}, "password": {password}})
	if err != nil {
		return nil, err
	}
	if status != http.StatusSeeOther && status != http.StatusFound && status != http.StatusOK {
		return nil, fmt.Errorf("log in as %s: %d %s", email, status, body)
	}
	u, _ := url.Parse(base)
	if len(jar.Cookies(u)) == 0 {
		return nil, fmt.Errorf("log in as %s: no session cookie (%d)", email, status)
	}
	return a, nil
}

// on is the same session against another replica.
func (a *agent) on(base string) *agent {
	jar, _ := cookiejar.New(nil)
	from, _ := url.Parse(a.base)
	to, _ := url.Parse(base)
	jar.SetCookies(to, a.c.Jar.Cookies(from))
	return &agent{base: base, c: &http.Client{Jar: jar, Timeout: a.c.Timeout, CheckRedirect: a.c.CheckRedirect}}
}

func (a *agent) post(ctx context.Context, path string, form url.Values) (int, []byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, a.base+path, strings.NewReader(form.Encode()))
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return a.send(req)
}

func (a *agent) get(ctx context.Context, path string) (int, []byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, a.base+path, nil)
	if err != nil {
		return 0, nil, err
	}
	return a.send(req)
}

func (a *agent) send(req *http.Request) (int, []byte, error) {
	resp, err := a.c.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 8<<20))
	return resp.StatusCode, b, err
}

// demoChat makes a customer of the demo tenant write through the Twilio
// simulator (so that it knows the customer's window is open) and returns
// the chat's id.
func (w *world) demoChat(ctx context.Context, customer string) (int64, error) {
	sid, err := w.sim.Twilio.CustomerSends(ctx, sandbox.InboundMessage{From: customer, To: sandbox.DemoTwilioSender, ProfileName: "Fault", Body: "Hello from " + customer})
	if err != nil {
		return 0, fmt.Errorf("customer %s writes: %w", customer, err)
	}
	var id int64
	err = w.pool.QueryRow(ctx, `SELECT case_id FROM messages WHERE provider_message_id = $1`, sid).Scan(&id)
	return id, err
}
