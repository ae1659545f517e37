package httpserver_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"

	"parley/internal/channel"
	"parley/internal/conversation"
	"parley/internal/sandbox"
)

// customerWrites1msg is a customer writing to the demo 1msg number.
func (d *demo) customerWrites1msg(t *testing.T, in sandbox.OneMsgInbound) string {
	t.Helper()
	in.InstanceID = sandbox.DemoOneMsgInstance
	if in.SenderName == "" {
		in.SenderName = "Mo Customer"
	}
	id, err := d.omsim.CustomerSends(context.Background(), in)
	if err != nil {
		t.Fatalf("customer sends through 1msg: %v", err)
	}
	return id
}

// chatOn returns the live chat on an integration.
func (d *demo) chatOn(t *testing.T, integrationID int64) conversation.Case {
	t.Helper()
	for _, c := range d.liveChats(t) {
		if c.IntegrationID != nil && *c.IntegrationID == integrationID {
			return c
		}
	}
	t.Fatalf("no live chat on integration %d", integrationID)
	return conversation.Case{}
}

// post1msg posts a raw webhook body to the demo 1msg integration.
func (d *demo) post1msg(t *testing.T, body string) (int, string) {
	t.Helper()
	resp, err := http.Post(d.env.App.Integrations.WebhookURL(d.om), "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var b bytes.Buffer
	_, _ = b.ReadFrom(resp.Body)
	return resp.StatusCode, b.String()
}

// Connecting checks the channel with 1msg, adds Parley's webhook URL to
// the channel's list and keeps the URLs already there; deleting removes
// only Parley's. Bad input saves nothing and says why in 1msg's words.
func TestOneMsgConnectAndDisconnect(t *testing.T) {
	t.Parallel()
	d := startDemo(t)
	d.omsim.AddInstance("shop42", "shop42token", "+4915112345678")
	apiURL := sandbox.OneMsgAPIURL("shop42")
	before := d.omsim.Webhooks("shop42")
	if len(before) != 1 {
		t.Fatalf("a new channel has 1msg's own hook: %v", before)
	}
	form := func(api, token, phone string) url.Values {
		return url.Values{"api_url": {api}, "token": {token}, "phone": {phone}, "default_group": {itoa(d.ig.DefaultGroupID)}}
	}
	closed := httptest.NewServer(http.NotFoundHandler())
	closed.Close()
	for _, tt := range []struct {
		name string
		form url.Values
		want string
	}{
		{"wrong token", form(apiURL, "nope", "+4915112345678"), "Wrong token"},
		{"wrong instance", form(strings.Replace(apiURL, "shop42", "shop43", 1), "shop42token", "+4915112345678"), "check the channel id"},
		{"unreachable", form(closed.URL+"/shop42/", "shop42token", "+4915112345678"), "could not be reached"},
		{"not an API URL", form("api.1msg.io", "shop42token", "+4915112345678"), "API URL"},
		{"phone not a number", form(apiURL, "shop42token", "call me"), "country code"},
		{"another number", form(apiURL, "shop42token", "+4915199999999"), "+4915112345678"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			status, _, body := d.env.Post(t, d.client, "/settings/integrations/new/1msg", tt.form)
			if status < 400 || !strings.Contains(body, tt.want) {
				t.Errorf("%d, want an error with %q\n%s", status, tt.want, body)
			}
		})
	}
	if got := d.omsim.Webhooks("shop42"); !slices.Equal(got, before) {
		t.Fatalf("refused connections changed the webhooks: %v", got)
	}
	if n := d.count(t, `SELECT count(*) FROM integrations`); n != 2 {
		t.Fatalf("%d integrations after refused connections", n)
	}

	status, loc, body := d.env.Post(t, d.client, "/settings/integrations/new/1msg", form(apiURL, "shop42token", "+49 151 12345678"))
	if status != http.StatusSeeOther {
		t.Fatalf("connect: %d\n%s", status, body)
	}
	list, _ := d.env.App.Integrations.List(context.Background(), d.admin.TenantID)
	ig := list[len(list)-1]
	hook := d.env.App.Integrations.WebhookURL(ig)
	if !strings.Contains(hook, "/webhooks/1msg/") || ig.Sender != "+4915112345678" || ig.Account != strings.TrimSuffix(apiURL, "/") {
		t.Fatalf("integration %+v, hook %s", ig, hook)
	}
	if got := d.omsim.Webhooks("shop42"); !slices.Equal(got, append(before, hook)) {
		t.Fatalf("webhooks after connecting: %v, want %v and ours", got, before)
	}
	_, page := d.env.Get(t, d.client, loc)
	for _, want := range []string{hook, "https://wa.me/4915112345678", "Chat on WhatsApp"} {
		if !strings.Contains(page, want) {
			t.Errorf("integration page lacks %q", want)
		}
	}
	if strings.Contains(page, "shop42token") {
		t.Error("the integration page shows the token")
	}

	if status, _, _ := d.env.Post(t, d.client, loc+"/delete", nil); status != http.StatusSeeOther {
		t.Fatalf("delete: %d", status)
	}
	if got := d.omsim.Webhooks("shop42"); !slices.Equal(got, before) {
		t.Fatalf("webhooks after deleting: %v, want only %v", got, before)
	}
}

// Client messages through 1msg open chats like Twilio's; media is
// downloaded, a button tap is an ordinary message, echoes of our own sends
// are not shown twice, a message typed in the WhatsApp app on the business
// phone shows as the agent side, duplicates and out-of-order acks change
// nothing, group chats are ignored.
func TestOneMsgInbound(t *testing.T) {
	t.Parallel()
	d := startDemo(t)
	d.omsim.SetFaults(sandbox.OneMsgFaults{DuplicateDeliveries: 1, ReorderAcks: true})
	d.customerWrites1msg(t, sandbox.OneMsgInbound{From: "+15557000001", Body: "Hello from 1msg"})
	d.customerWrites1msg(t, sandbox.OneMsgInbound{From: "+15557000001", Body: "the photo",
		Media: &sandbox.MediaFile{ContentType: "image/png", Filename: "p.png", Data: []byte("\x89PNG\r\n\x1a\nxx")}})
	chat := d.chatOn(t, d.om.ID)
	if chat.ClientName != "Mo Customer" || chat.GroupID != d.om.DefaultGroupID {
		t.Fatalf("chat %+v", chat)
	}
	eventually(t, "the photo downloaded", func() bool {
		return d.count(t, `SELECT count(*) FROM attachments WHERE state = 'stored' AND content_type = 'image/png'`) == 1
	})
	if n := d.count(t, `SELECT count(*) FROM messages WHERE direction = 'in'`); n != 2 {
		t.Fatalf("%d client messages stored from 2 sent twice each", n)
	}

	// The agent replies; 1msg echoes it back and acks it out of order.
	if status, _ := d.reply(t, chat.ID, "Hi Mo!", "r1", nil, ""); status != http.StatusOK {
		t.Fatalf("reply: %d", status)
	}
	eventually(t, "the reply read", func() bool {
		return d.count(t, `SELECT count(*) FROM messages WHERE direction = 'out' AND status = 'read'`) == 1
	})
	d.omsim.WaitIdle()
	if n := d.count(t, `SELECT count(*) FROM messages WHERE direction = 'out'`); n != 1 {
		t.Fatalf("%d outgoing messages: the echo was stored as a second one", n)
	}
	sent := d.omsim.Sent(sandbox.DemoOneMsgInstance)
	if len(sent) != 1 || sent[0].Method != "sendMessage" || fmt.Sprint(sent[0].Body["body"]) != "Hi Mo!" {
		t.Fatalf("1msg received %+v", sent)
	}

	// Typed in the WhatsApp app on the business phone.
	if _, err := d.omsim.BusinessSendsFromPhone(context.Background(), sandbox.DemoOneMsgInstance, "+15557000001", "Sent from my phone"); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the app message", func() bool {
		return d.count(t, `SELECT count(*) FROM messages WHERE direction = 'out' AND body = 'Sent from my phone' AND agent_id IS NULL`) == 1
	})
	if _, page := d.env.Get(t, d.client, "/chats/"+itoa(chat.ID)); !strings.Contains(page, "Sent outside Parley") {
		t.Error("the app message is not shown as the business's side")
	}

	// A button tap is the client's message with the tapped text.
	d.customerWrites1msg(t, sandbox.OneMsgInbound{From: "+15557000001", ButtonText: "Yes"})
	eventually(t, "the tap", func() bool {
		return d.count(t, `SELECT count(*) FROM messages WHERE direction = 'in' AND body = 'Yes'`) == 1
	})

	// Group chats and unknown items are ignored; the rest of the batch is kept.
	status, _ := d.post1msg(t, `{"instanceId":"demo1msg","messages":[
		{"id":"g1","body":"group talk","fromMe":false,"self":0,"time":1700000000,"chatId":"120363000000000000@g.us","type":"chat","author":"15557000002@c.us","senderName":"G"},
		{"id":"x1","fromMe":false,"time":1700000000,"chatId":"15557000003@c.us","type":"reaction","body":""},
		{"id":"ok1","body":"still here","fromMe":false,"self":0,"time":1700000000,"chatId":"15557000003@c.us","type":"chat","senderName":"Kim"}]}`)
	if status != http.StatusOK {
		t.Fatalf("batch with a group message: %d", status)
	}
	if n := d.count(t, `SELECT count(*) FROM messages WHERE body IN ('group talk')`); n != 0 {
		t.Error("a group chat message was stored")
	}
	if n := d.count(t, `SELECT count(*) FROM messages WHERE body = 'still here'`); n != 1 {
		t.Error("the batch's good message was not stored")
	}
}

// Bad webhooks: malformed JSON is refused and stores nothing; an unknown
// token is 404; an envelope of 10,000 items is handled whole.
func TestOneMsgWebhookBadInput(t *testing.T) {
	t.Parallel()
	d := startDemo(t)
	for _, body := range []string{`{`, `[]`, `{"instanceId":"demo1msg"}`, `not json`} {
		if status, _ := d.post1msg(t, body); status != http.StatusBadRequest {
			t.Errorf("%q: %d, want 400", body, status)
		}
	}
	resp, err := http.Post(d.env.URL+"/webhooks/1msg/not-a-token", "application/json", strings.NewReader(`{"instanceId":"x","messages":[]}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Errorf("unknown token: %d, want 404", resp.StatusCode)
	}
	// 9,990 group messages and 10 clients' messages in one POST.
	var items []map[string]any
	for i := range 10000 {
		chat := fmt.Sprintf("1203630000%08d@g.us", i)
		if i%1000 == 0 {
			chat = fmt.Sprintf("1555800%04d@c.us", i/1000)
		}
		items = append(items, map[string]any{"id": fmt.Sprintf("big-%d", i), "body": "item", "fromMe": false, "self": 0,
			"time": 1700000000, "chatId": chat, "type": "chat", "senderName": "Batch"})
	}
	b, _ := json.Marshal(map[string]any{"instanceId": "demo1msg", "messages": items})
	if status, body := d.post1msg(t, string(b)); status != http.StatusOK {
		t.Fatalf("10,000 items: %d %s", status, body)
	}
	if n := d.count(t, `SELECT count(*) FROM messages WHERE direction = 'in'`); n != 10 {
		t.Fatalf("%d messages stored from 10 clients' messages in the batch", n)
	}
	// The same batch again stores nothing new.
	if status, body := d.post1msg(t, string(b)); status != http.StatusOK {
		t.Fatalf("the batch again: %d %s", status, body)
	}
	if n := d.count(t, `SELECT count(*) FROM messages WHERE direction = 'in'`); n != 10 {
		t.Fatalf("%d messages after the batch came twice", n)
	}
}

// Sends through 1msg: text, a file, reply buttons, a quick-reply template
// with its parameters, a template refused by Meta (orange, with 1msg's
// words), and an expired media link.
func TestOneMsgSends(t *testing.T) {
	t.Parallel()
	d := startDemo(t)
	d.customerWrites1msg(t, sandbox.OneMsgInbound{From: "+15557000001", Body: "Hi"})
	chat := d.chatOn(t, d.om.ID)

	if status, body := d.composerPost(t, chat.ID, url.Values{"body": {"Pick one"}, "button": {"Yes", "No", ""}, "key": {"b1"}}, nil, ""); status != http.StatusOK {
		t.Fatalf("buttons: %d\n%s", status, body)
	}
	if status, body := d.composerPost(t, chat.ID, url.Values{"body": {"a"}, "button": {"1", "2", "3", "4"}, "key": {"b2"}}, nil, ""); status != http.StatusUnprocessableEntity || !strings.Contains(body, "at most 3") {
		t.Fatalf("4 buttons: %d", status)
	}
	if status, _ := d.reply(t, chat.ID, "the invoice", "f1", []byte("%PDF-1.4 invoice"), "invoice.pdf"); status != http.StatusOK {
		t.Fatalf("file: %d", status)
	}
	tpls, err := d.env.App.Integrations.Templates(context.Background(), d.admin.TenantID, d.om.ID)
	if err != nil {
		t.Fatal(err)
	}
	var check channel.Template
	for _, tp := range tpls.List {
		if tp.Name == "issue_resolved_check" {
			check = tp
		}
	}
	if len(check.Buttons) != 3 {
		t.Fatalf("quick-reply template %+v", check)
	}
	if status, _ := d.composerPost(t, chat.ID, templateForm(check, "t1", "Mo"), nil, ""); status != http.StatusOK {
		t.Fatalf("template: %d", status)
	}
	eventually(t, "three sends delivered", func() bool {
		return d.count(t, `SELECT count(*) FROM messages WHERE direction = 'out' AND status IN ('delivered', 'read')`) == 3
	})
	d.omsim.WaitIdle()
	methods := map[string]map[string]any{}
	for _, s := range d.omsim.Sent(sandbox.DemoOneMsgInstance) {
		methods[s.Method] = s.Body
	}
	if b := methods["sendButton"]; b == nil || fmt.Sprint(b["body"]) != "Pick one" {
		t.Errorf("sendButton %v", b)
	}
	if b := methods["sendFile"]; b == nil || fmt.Sprint(b["filename"]) != "invoice.pdf" || fmt.Sprint(b["caption"]) != "the invoice" {
		t.Errorf("sendFile %v", b)
	}
	tb := methods["sendTemplate"]
	if tb == nil || fmt.Sprint(tb["template"]) != "issue_resolved_check" {
		t.Fatalf("sendTemplate %v", tb)
	}
	if p, _ := json.Marshal(tb["params"]); !strings.Contains(string(p), `"text":"Mo"`) {
		t.Errorf("template params %s", p)
	}
	_, page := d.env.Get(t, d.client, "/chats/"+itoa(chat.ID))
	for _, want := range []string{">Yes<", ">Talk to an agent<", ">No<"} {
		if !strings.Contains(page, want) {
			t.Errorf("the conversation does not show the button %s", want)
		}
	}
	if n := d.count(t, `SELECT count(*) FROM messages WHERE direction = 'out' AND status = 'failed'`); n != 0 {
		t.Errorf("%d sends failed", n)
	}

	// Meta pauses a template after the panel listed it: 1msg accepts the
	// send and a failed ack says why, in 1msg's words made plain.
	var follow channel.Template
	for _, tp := range tpls.List {
		if tp.Name == "conversation_follow_up" {
			follow = tp
		}
	}
	d.omsim.RemoveTemplate(sandbox.DemoOneMsgInstance, "conversation_follow_up", "en")
	d.omsim.AddTemplate(sandbox.DemoOneMsgInstance, sandbox.OneMsgTemplate{Name: "conversation_follow_up", Language: "en", Status: "paused",
		Namespace: strings.SplitN(follow.ID, "/", 2)[0], Body: "Hello! We have an update on your request."})
	// From a stale tab it is refused (the server asks 1msg); listed when
	// sent, paused by the time the job runs, it fails.
	if status, body := d.composerPost(t, chat.ID, templateForm(follow, "t2"), nil, ""); status != http.StatusUnprocessableEntity || !strings.Contains(body, "no longer among the approved templates") {
		t.Fatalf("paused template from a stale tab: %d", status)
	}
	if _, err := d.env.App.Conversations.SendReply(context.Background(), d.admin.TenantID, d.admin.ID, chat.ID,
		conversation.Reply{Template: &conversation.TemplateUse{Template: follow}, IdempotencyKey: "t2-late"}); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the paused template failed", func() bool {
		return d.count(t, `SELECT count(*) FROM messages WHERE kind = 'template' AND status = 'failed' AND error_message = 'This template is paused by WhatsApp'`) == 1
	})
	// And a template 1msg no longer has fails at once, with its words.
	d.omsim.RemoveTemplate(sandbox.DemoOneMsgInstance, "issue_resolved_check", "en")
	if status, _ := d.composerPost(t, chat.ID, templateForm(check, "t3", "Mo"), nil, ""); status != http.StatusUnprocessableEntity {
		t.Fatalf("removed template from a stale tab: %d", status)
	}
	if _, err := d.env.App.Conversations.SendReply(context.Background(), d.admin.TenantID, d.admin.ID, chat.ID,
		conversation.Reply{Template: &conversation.TemplateUse{Template: check, Values: map[string]string{"1": "Mo"}}, IdempotencyKey: "t3-late"}); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the removed template failed", func() bool {
		return d.count(t, `SELECT count(*) FROM messages WHERE kind = 'template' AND status = 'failed'`) == 2
	})
	_, page = d.env.Get(t, d.client, "/chats/"+itoa(chat.ID))
	if !strings.Contains(page, channel.Explain("132001", "")) {
		t.Errorf("the removed template's error is not in plain words")
	}
}

// A media link that expired before Parley fetched it: the message says so
// at once, without retrying for hours.
func TestOneMsgExpiredMediaLink(t *testing.T) {
	t.Parallel()
	d := startDemo(t)
	status, _ := d.post1msg(t, `{"instanceId":"demo1msg","messages":[{"id":"media-1","body":"`+d.env.URL+`/sandbox/1msg/media/expired0000","caption":"scan","fromMe":false,"self":0,"time":1700000000,"chatId":"15557000004@c.us","type":"image","senderName":"Lu"}]}`)
	if status != http.StatusOK {
		t.Fatalf("webhook: %d", status)
	}
	eventually(t, "the download given up", func() bool {
		return d.count(t, `SELECT count(*) FROM attachments WHERE state = 'failed' AND error LIKE '%expired%'`) == 1
	})
	if n := d.count(t, `SELECT count(*) FROM messages WHERE direction = 'in' AND body = 'scan'`); n != 1 {
		t.Fatal("the message of the expired file is lost")
	}
}
