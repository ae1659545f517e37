package httpserver_test

import (
	"bytes"
	"context"
	"fmt"
	"mime/multipart"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"parley/internal/app/apptest"
	"parley/internal/channel"
	"parley/internal/conversation"
	"parley/internal/integration"
	"parley/internal/sandbox"
	"parley/internal/tenant"
)

// demo is the sandbox's demo tenant: its admin, signed in, and its
// Twilio integration connected to the simulator.
type demo struct {
	env    *apptest.Env
	admin  tenant.Agent
	client *http.Client
	ig     integration.Integration // Twilio
	sim    *sandbox.Twilio
	om     integration.Integration // 1msg
	omsim  *sandbox.OneMsg
}

func startDemo(t *testing.T) *demo {
	t.Helper()
	return demoOf(t, apptest.Start(t, apptest.Options{Sandbox: true}))
}

// demoOf signs in to the demo tenant of a sandbox env.
func demoOf(t *testing.T, env *apptest.Env) *demo {
	t.Helper()
	ctx := context.Background()
	admin, err := env.App.Tenants.Authenticate(ctx, sandbox.DemoEmail, sandbox.DemoPassword)
	if err != nil {
		t.Fatal(err)
	}
	list, err := env.App.Integrations.List(ctx, admin.TenantID)
	if err != nil || len(list) != 2 || list[0].Provider != integration.Twilio || list[1].Provider != integration.OneMsg {
		t.Fatalf("demo integrations: %v %v", list, err)
	}
	c := env.Client()
	if status, _, _ := env.Post(t, c, "/login", url.Values{"email": {sandbox.DemoEmail}, "password": {sandbox.DemoPassword}}); status != http.StatusSeeOther {
		t.Fatalf("demo login: %d", status)
	}
	return &demo{env: env, admin: admin, client: c, ig: list[0], sim: env.App.Sandbox.Twilio, om: list[1], omsim: env.App.Sandbox.OneMsg}
}

func (d *demo) customerWrites(t *testing.T, from, body string, media ...sandbox.MediaFile) string {
	t.Helper()
	sid, err := d.sim.CustomerSends(context.Background(), sandbox.InboundMessage{From: from, ProfileName: "Casey Customer", To: d.ig.Sender, Body: body, Media: media})
	if err != nil {
		t.Fatalf("customer sends: %v", err)
	}
	return sid
}

func (d *demo) liveChats(t *testing.T) []conversation.Case {
	t.Helper()
	cs, err := d.env.App.Conversations.LiveChats(context.Background(), d.admin.TenantID, d.admin.ID)
	if err != nil {
		t.Fatal(err)
	}
	return cs
}

func (d *demo) messages(t *testing.T, caseID int64) []conversation.Message {
	t.Helper()
	ms, err := d.env.App.Conversations.Messages(context.Background(), d.admin.TenantID, caseID)
	if err != nil {
		t.Fatal(err)
	}
	return ms
}

func (d *demo) count(t *testing.T, q string) int {
	t.Helper()
	var n int
	err := d.env.App.DB.InTenant(context.Background(), d.admin.TenantID, func(tx pgx.Tx) error {
		return tx.QueryRow(context.Background(), q).Scan(&n)
	})
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// eventually polls cond for up to 20 s: background jobs and the
// simulator's callbacks finish in their own time.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func TestSignedWebhookOpensChatForTheClient(t *testing.T) {
	t.Parallel()
	d := startDemo(t)
	d.customerWrites(t, "+15557654321", "Hi, where is my order?")
	cs := d.liveChats(t)
	if len(cs) != 1 || cs[0].ClientName != "Casey Customer" || cs[0].Preview != "Hi, where is my order?" || cs[0].GroupID != d.ig.DefaultGroupID {
		t.Fatalf("live chats = %+v", cs)
	}
	if n := d.count(t, `SELECT count(*) FROM clients WHERE whatsapp = '+15557654321' AND created_channel = 'whatsapp'`); n != 1 {
		t.Fatalf("client with the WhatsApp field: %d", n)
	}
}

// postWebhook posts form to the demo integration's webhook, signed with
// token (empty: unsigned).
func (d *demo) postWebhook(t *testing.T, hookURL, token string, form url.Values) int {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, hookURL, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if token != "" {
		req.Header.Set("X-Twilio-Signature", sandbox.SignTwilio(token, hookURL, form))
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

func inboundForm(sid, from, body string) url.Values {
	return url.Values{
		"MessageSid": {sid}, "SmsMessageSid": {sid}, "AccountSid": {sandbox.DemoTwilioAccountSID},
		"From": {from}, "To": {"whatsapp:" + sandbox.DemoTwilioSender}, "Body": {body}, "NumMedia": {"0"},
		"ProfileName": {"Mallory"}, "WaId": {"15550009999"}, "ApiVersion": {"2010-04-01"},
	}
}

func TestWebhooksWithoutAValidSignatureStoreNothing(t *testing.T) {
	t.Parallel()
	d := startDemo(t)
	hook := d.env.App.Integrations.WebhookURL(d.ig)
	form := inboundForm("SM00000000000000000000000000000001", "whatsapp:+15550009999", "forged")
	cases := map[string]struct {
		url, token string
		want       int
	}{
		"unsigned":                  {hook, "", http.StatusForbidden},
		"signed with another token": {hook, "someone-elses-auth-token-0000000", http.StatusForbidden},
		"signed for another URL":    {strings.Replace(hook, "#", "x#", 1), sandbox.DemoTwilioAuthToken, http.StatusNotFound},
		"unknown webhook token":     {d.env.URL + "/webhooks/twilio/not-a-token", sandbox.DemoTwilioAuthToken, http.StatusNotFound},
	}
	for name, c := range cases {
		if got := d.postWebhook(t, c.url, c.token, form); got != c.want {
			t.Errorf("%s: %d, want %d", name, got, c.want)
		}
	}
	// A signature over a tampered body.
	tampered := url.Values{}
	for k, v := range form {
		tampered[k] = v
	}
	tampered.Set("Body", "changed")
	req, _ := http.NewRequest(http.MethodPost, hook, strings.NewReader(tampered.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("X-Twilio-Signature", sandbox.SignTwilio(sandbox.DemoTwilioAuthToken, hook, form))
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != http.StatusForbidden {
		t.Errorf("tampered body: %v %v", resp.StatusCode, err)
	}
	if n := d.count(t, `SELECT count(*) FROM messages`); n != 0 {
		t.Fatalf("%d messages stored from refused webhooks", n)
	}
	// Correctly signed, but not WhatsApp: refused with the reason.
	sms := inboundForm("SM00000000000000000000000000000002", "+15550009999", "an SMS")
	if got := d.postWebhook(t, hook, sandbox.DemoTwilioAuthToken, sms); got != http.StatusBadRequest {
		t.Errorf("SMS From: %d, want 400", got)
	}
	if got := d.postWebhook(t, hook, sandbox.DemoTwilioAuthToken, inboundForm("SM00000000000000000000000000000003", "whatsapp:+15550009999", "real")); got != http.StatusOK {
		t.Errorf("valid webhook: %d", got)
	}
	if n := d.count(t, `SELECT count(*) FROM messages WHERE direction = 'in'`); n != 1 {
		t.Fatalf("%d client messages, want the one valid", n)
	}
}

func TestDisabledOrDeletedIntegrationWebhooksAre404(t *testing.T) {
	t.Parallel()
	d := startDemo(t)
	ctx := context.Background()
	hook := d.env.App.Integrations.WebhookURL(d.ig)
	if err := d.env.App.Integrations.SetEnabled(ctx, d.admin.TenantID, d.ig.ID, false); err != nil {
		t.Fatal(err)
	}
	if got := d.postWebhook(t, hook, sandbox.DemoTwilioAuthToken, inboundForm("SM1", "whatsapp:+15550009999", "hi")); got != http.StatusNotFound {
		t.Fatalf("disabled: %d", got)
	}
	if err := d.env.App.Integrations.Delete(ctx, d.admin.TenantID, d.ig.ID); err != nil {
		t.Fatal(err)
	}
	if got := d.postWebhook(t, hook, sandbox.DemoTwilioAuthToken, inboundForm("SM2", "whatsapp:+15550009999", "hi")); got != http.StatusNotFound {
		t.Fatalf("deleted: %d", got)
	}
	if n := d.count(t, `SELECT count(*) FROM messages`); n != 0 {
		t.Fatalf("%d messages stored", n)
	}
}

func TestDuplicateWebhookDeliveriesStoreOnce(t *testing.T) {
	t.Parallel()
	d := startDemo(t)
	hook := d.env.App.Integrations.WebhookURL(d.ig)
	form := inboundForm("SM00000000000000000000000000000042", "whatsapp:+15550009999", "once")
	var wg sync.WaitGroup
	for range 12 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if got := d.postWebhook(t, hook, sandbox.DemoTwilioAuthToken, form); got != http.StatusOK {
				t.Errorf("delivery: %d", got)
			}
		}()
	}
	wg.Wait()
	d.sim.SetFaults(sandbox.TwilioFaults{DuplicateDeliveries: 2})
	d.customerWrites(t, "+15550009999", "twice more")
	if n := d.count(t, `SELECT count(*) FROM messages WHERE direction = 'in'`); n != 2 {
		t.Fatalf("%d client messages stored, want 2", n)
	}
}

// reply posts the composer form as the browser does.
func (d *demo) reply(t *testing.T, caseID int64, body, key string, file []byte, filename string) (int, string) {
	t.Helper()
	return d.composerPost(t, caseID, url.Values{"body": {body}, "key": {key}}, file, filename)
}

// composerPost posts the composer's fields (and a file) as multipart.
func (d *demo) composerPost(t *testing.T, caseID int64, fields url.Values, file []byte, filename string) (int, string) {
	t.Helper()
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	for k, vs := range fields {
		for _, v := range vs {
			_ = mw.WriteField(k, v)
		}
	}
	if file != nil {
		fw, _ := mw.CreateFormFile("file", filename)
		_, _ = fw.Write(file)
	}
	mw.Close()
	req, _ := http.NewRequest(http.MethodPost, fmt.Sprintf("%s/chats/%d/reply", d.env.URL, caseID), &buf)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	req.Header.Set("HX-Request", "true")
	resp, err := d.client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out bytes.Buffer
	_, _ = out.ReadFrom(resp.Body)
	return resp.StatusCode, out.String()
}

func TestReplyIsSentAndStatusesMoveToRead(t *testing.T) {
	t.Parallel()
	d := startDemo(t)
	d.customerWrites(t, "+15557654321", "Hello?")
	chat := d.liveChats(t)[0]
	status, body := d.reply(t, chat.ID, "Hi Casey, looking into it now.", "key-1", nil, "")
	if status != http.StatusOK || !strings.Contains(body, `id="composer"`) {
		t.Fatalf("reply: %d\n%s", status, body)
	}
	// The same form posted again (double click) stores nothing new.
	if status, _ := d.reply(t, chat.ID, "Hi Casey, looking into it now.", "key-1", nil, ""); status != http.StatusOK {
		t.Fatalf("repeat: %d", status)
	}
	eventually(t, "the reply to be read", func() bool {
		for _, m := range d.messages(t, chat.ID) {
			if m.Direction == "out" && m.Status == "read" {
				return true
			}
		}
		return false
	})
	sent := d.sim.Sent(sandbox.DemoTwilioAccountSID)
	if len(sent) != 1 {
		t.Fatalf("Twilio received %d sends, want 1", len(sent))
	}
	p := sent[0].Params
	if p.Get("To") != "whatsapp:+15557654321" || p.Get("From") != "whatsapp:"+sandbox.DemoTwilioSender ||
		p.Get("Body") != "Hi Casey, looking into it now." || p.Get("StatusCallback") != d.env.App.Integrations.WebhookURL(d.ig) {
		t.Fatalf("sent params = %v", p)
	}
	conv := d.sim.Conversation(sandbox.DemoTwilioSender, "+15557654321")
	if len(conv) != 2 || conv[1].Body != "Hi Casey, looking into it now." {
		t.Fatalf("the phone shows %+v", conv)
	}
}

func TestReplyRetriesThroughProviderOutage(t *testing.T) {
	t.Parallel()
	d := startDemo(t)
	d.customerWrites(t, "+15557654321", "Hello?")
	chat := d.liveChats(t)[0]
	d.sim.SetFaults(sandbox.TwilioFaults{ServerErrorRate: 1})
	if status, _ := d.reply(t, chat.ID, "Are you still there?", "key-2", nil, ""); status != http.StatusOK {
		t.Fatal(status)
	}
	eventually(t, "a failed attempt", func() bool {
		return d.count(t, `SELECT count(*) FROM river_job WHERE kind = 'send_message' AND attempt >= 2`) == 1
	})
	d.sim.SetFaults(sandbox.TwilioFaults{})
	eventually(t, "the reply to be delivered after the outage", func() bool {
		ms := d.messages(t, chat.ID)
		last := ms[len(ms)-1]
		return last.Direction == "out" && (last.Status == "delivered" || last.Status == "read")
	})
	if n := len(d.sim.Sent(sandbox.DemoTwilioAccountSID)); n != 1 {
		t.Fatalf("Twilio accepted %d sends, want 1", n)
	}
}

func TestProviderWindowErrorShowsPlainWords(t *testing.T) {
	t.Parallel()
	d := startDemo(t)
	// The client's message reaches Parley but not the simulator's memory
	// of this customer, so Twilio thinks the window is closed: 63016.
	r, err := d.env.App.Conversations.Receive(context.Background(), d.ig, channel.Inbound{ProviderMessageID: "SMdirect", From: "+15551112222", Body: "hi", At: time.Now()})
	if err != nil {
		t.Fatal(err)
	}
	if status, _ := d.reply(t, r.CaseID, "free text", "key-3", nil, ""); status != http.StatusOK {
		t.Fatal(status)
	}
	eventually(t, "the send to fail", func() bool {
		ms := d.messages(t, r.CaseID)
		last := ms[len(ms)-1]
		return last.Status == "failed" && last.ErrorCode != nil && *last.ErrorCode == "63016" &&
			last.ErrorMessage != nil && *last.ErrorMessage == channel.WindowClosedMessage
	})
	_, page := d.env.Get(t, d.client, fmt.Sprintf("/chats/%d", r.CaseID))
	if !strings.Contains(page, "msg-failed") || !strings.Contains(page, "Delete message") {
		t.Fatal("the failed message is not shown orange with its delete link")
	}
}

func TestInboundMediaIsStoredAndOversizeIsNot(t *testing.T) {
	t.Parallel()
	d := startDemo(t)
	png := append([]byte("\x89PNG\r\n\x1a\n"), bytes.Repeat([]byte{1}, 2000)...)
	d.customerWrites(t, "+15557654321", "", sandbox.MediaFile{ContentType: "image/png", Filename: "photo.png", Data: png})
	d.customerWrites(t, "+15557654321", "a big video", sandbox.MediaFile{ContentType: "video/mp4", Filename: "big.mp4", Data: make([]byte, 26<<20)})
	chat := d.liveChats(t)[0]
	eventually(t, "both files handled", func() bool {
		return d.count(t, `SELECT count(*) FROM attachments WHERE state <> 'pending'`) == 2
	})
	var stored, large *conversation.Attachment
	for _, m := range d.messages(t, chat.ID) {
		for i := range m.Attachments {
			a := m.Attachments[i]
			switch a.State {
			case "stored":
				stored = &a
			case "too_large":
				large = &a
			}
		}
	}
	if stored == nil || !stored.IsImage() || large == nil || !strings.Contains(*large.Error, "file too large (26.0 MB)") {
		t.Fatalf("stored %+v, too large %+v", stored, large)
	}
	status, body := d.env.Get(t, d.client, fmt.Sprintf("/files/%d", stored.ID))
	if status != http.StatusOK || body != string(png) {
		t.Fatalf("file download: %d, %d bytes", status, len(body))
	}
	// Another tenant's agent cannot fetch it.
	other := d.env.SignUp(t, "Other", "olga@other.test")
	if status, _ := d.env.Get(t, other, fmt.Sprintf("/files/%d", stored.ID)); status != http.StatusNotFound {
		t.Fatalf("another tenant's file: %d", status)
	}
}

func TestReplyFileLimits(t *testing.T) {
	t.Parallel()
	d := startDemo(t)
	d.customerWrites(t, "+15557654321", "send me the invoice")
	chat := d.liveChats(t)[0]
	status, body := d.reply(t, chat.ID, "", "key-big", make([]byte, 30<<20), "huge.pdf")
	if status != http.StatusRequestEntityTooLarge || !strings.Contains(body, "Parley sends files of at most 16 MB; this one is 30") {
		t.Fatalf("30 MB reply: %d\n%.400s", status, body)
	}
	pdf := append([]byte("%PDF-1.4\n"), bytes.Repeat([]byte("x"), 5000)...)
	if status, _ := d.reply(t, chat.ID, "Here it is", "key-pdf", pdf, "invoice.pdf"); status != http.StatusOK {
		t.Fatalf("pdf reply: %d", status)
	}
	eventually(t, "the file to be delivered", func() bool {
		sent := d.sim.Sent(sandbox.DemoTwilioAccountSID)
		return len(sent) == 1 && strings.Contains(sent[0].Params.Get("MediaUrl"), "/media/public/")
	})
	if n := d.count(t, `SELECT count(*) FROM messages WHERE direction = 'out'`); n != 1 {
		t.Fatalf("%d replies stored, want only the pdf", n)
	}
}

type pgxTx = pgx.Tx

func itoa(n int64) string { return fmt.Sprint(n) }

// Webhooks find their integration in a per-replica cache: a change made on
// one replica reaches the others' webhooks at once, not when the cache
// would have expired.
func TestIntegrationChangedOnOneReplicaIsSeenByAnother(t *testing.T) {
	t.Parallel()
	d := startDemo(t)
	two := apptest.Start(t, apptest.Options{Sandbox: true, DBURL: d.env.DBURL})
	ctx := context.Background()
	hook := d.env.App.Integrations.WebhookURL(d.ig)
	hookTwo := two.URL + strings.TrimPrefix(hook, d.env.URL)
	post := func(sid string) int {
		return d.postWebhook(t, hookTwo, sandbox.DemoTwilioAuthToken, inboundForm(sid, "whatsapp:+15550009999", "hi"))
	}
	if got := post("SM1"); got != http.StatusOK {
		t.Fatalf("replica two: %d", got)
	}
	if err := d.env.App.Integrations.SetEnabled(ctx, d.admin.TenantID, d.ig.ID, false); err != nil {
		t.Fatal(err)
	}
	// Replica two hears of it within moments (each try is a new message).
	tries := 0
	eventually(t, "replica two to refuse the disabled integration's webhooks", func() bool {
		tries++
		return post(fmt.Sprintf("SM-try-%d", tries)) == http.StatusNotFound
	})
	if got := post("SM-after"); got != http.StatusNotFound {
		t.Fatalf("replica two took a webhook of the disabled integration again: %d", got)
	}
	if n := d.count(t, `SELECT count(*) FROM messages WHERE provider_message_id = 'SM-after'`); n != 0 {
		t.Fatalf("a webhook of the disabled integration stored %d messages", n)
	}
	if err := d.env.App.Integrations.SetEnabled(ctx, d.admin.TenantID, d.ig.ID, true); err != nil {
		t.Fatal(err)
	}
	eventually(t, "replica two to take the enabled integration's webhooks again", func() bool { return post("SM3") == http.StatusOK })
}
