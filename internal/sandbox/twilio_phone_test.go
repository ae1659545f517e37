package sandbox

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"mime/multipart"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"
)

func phoneMessages(t *testing.T, h *harness, sender, customer string) []PhoneMessage {
	t.Helper()
	// A "+" left unescaped in a query string arrives as a space; the phone
	// routes accept both.
	resp, err := http.Get(h.base + "/phone/messages?sender=" + url.QueryEscape(sender) + "&customer=" + customer)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out []PhoneMessage
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		t.Fatal(err)
	}
	return out
}

func postPhone(t *testing.T, h *harness, contentType string, body io.Reader) (int, map[string]string) {
	t.Helper()
	resp, err := http.Post(h.base+"/phone/send", contentType, body)
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

func TestPhoneSendsAndShowsConversation(t *testing.T) {
	h := newHarness(t)

	status, out := postPhone(t, h, "application/json", strings.NewReader(
		`{"sender":"+14155238886","from":"+15005550006","profile_name":"Ann","body":"Hi, I need help"}`))
	if status != http.StatusOK || !strings.HasPrefix(out["sid"], "SM") {
		t.Fatalf("JSON send: %d %v", status, out)
	}
	if c := h.parley.next(t); c.params.Get("Body") != "Hi, I need help" || c.params.Get("ProfileName") != "Ann" {
		t.Errorf("webhook %v", c.params)
	}

	form := url.Values{"sender": {testSender}, "from": {testCustomer}, "body": {"form body"}}
	status, _ = postPhone(t, h, "application/x-www-form-urlencoded", strings.NewReader(form.Encode()))
	if status != http.StatusOK {
		t.Fatalf("form send: %d", status)
	}
	h.parley.next(t)

	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	_ = mw.WriteField("sender", testSender)
	_ = mw.WriteField("from", testCustomer)
	_ = mw.WriteField("body", "the receipt")
	fw, _ := mw.CreateFormFile("file", "receipt.png")
	png := []byte("\x89PNG\r\n\x1a\n fake png")
	_, _ = fw.Write(png)
	mw.Close()
	status, out = postPhone(t, h, mw.FormDataContentType(), &buf)
	if status != http.StatusOK || !strings.HasPrefix(out["sid"], "MM") {
		t.Fatalf("upload: %d %v", status, out)
	}
	if c := h.parley.next(t); c.params.Get("MediaContentType0") != "image/png" || c.params.Get("MessageType") != "image" {
		t.Errorf("webhook %v", c.params)
	}

	// The business answers; the phone shows everything, oldest first.
	msg, err := h.rest(testAccount, testToken, 5*time.Second).Api.CreateMessage(sendParams("We got it, thanks!"))
	if err != nil {
		t.Fatal(err)
	}
	h.parley.statuses(t, *msg.Sid, 3)
	h.sim.WaitIdle()
	conv := phoneMessages(t, h, testSender, testCustomer)
	var dirs, bodies []string
	for _, m := range conv {
		dirs = append(dirs, m.Direction)
		bodies = append(bodies, m.Body)
	}
	if !slices.Equal(dirs, []string{"inbound", "inbound", "inbound", "outbound"}) ||
		!slices.Equal(bodies, []string{"Hi, I need help", "form body", "the receipt", "We got it, thanks!"}) {
		t.Fatalf("conversation %v %v", dirs, bodies)
	}
	if conv[3].Status != "read" || conv[2].MediaContentTypes[0] != "image/png" {
		t.Errorf("conversation %+v", conv)
	}
	resp, err := http.Get(conv[2].MediaURLs[0])
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !bytes.Equal(got, png) {
		t.Errorf("phone media %q", got)
	}

	// Field names are lowercase.
	resp, err = http.Get(h.base + "/phone/messages?sender=%2B14155238886&customer=%2B15005550006")
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, k := range []string{`"sid"`, `"direction"`, `"body"`, `"media_urls"`, `"media_content_types"`, `"buttons"`, `"status"`, `"error_code"`, `"at"`} {
		if !bytes.Contains(raw, []byte(k)) {
			t.Errorf("no %s in %s", k, raw)
		}
	}

	resp, err = http.Get(h.base + "/phone/customers?sender=%2B14155238886")
	if err != nil {
		t.Fatal(err)
	}
	var customers []string
	_ = json.NewDecoder(resp.Body).Decode(&customers)
	resp.Body.Close()
	if !slices.Equal(customers, []string{testCustomer}) {
		t.Errorf("customers %v", customers)
	}
}

func TestPhoneSendRefusedWebhookIs502(t *testing.T) {
	h := newHarness(t)
	h.parley.status.Store(http.StatusForbidden)
	status, out := postPhone(t, h, "application/json", strings.NewReader(`{"sender":"+14155238886","from":"+15005550006","body":"hi"}`))
	if status != http.StatusBadGateway || out["error"] == "" {
		t.Errorf("refused webhook: %d %v", status, out)
	}
	h.parley.next(t)
	status, out = postPhone(t, h, "application/json", strings.NewReader(`{"sender":"+19999999999","from":"+15005550006","body":"hi"}`))
	if status != http.StatusBadRequest || out["error"] == "" {
		t.Errorf("unknown sender: %d %v", status, out)
	}
	if _, err := h.sim.CustomerSends(context.Background(), InboundMessage{From: "not a number", To: testSender, Body: "x"}); err == nil {
		t.Error("bad customer number accepted")
	}
}
