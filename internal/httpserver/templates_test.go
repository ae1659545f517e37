package httpserver_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"parley/internal/app/apptest"
	"parley/internal/channel"
	"parley/internal/clock"
	"parley/internal/conversation"
	"parley/internal/sandbox"
	"parley/internal/tenant"
)

// template returns the demo integration's approved template by name, as
// the macros panel lists it.
func (d *demo) template(t *testing.T, name string) channel.Template {
	t.Helper()
	ts, err := d.env.App.Integrations.Templates(context.Background(), d.admin.TenantID, d.ig.ID)
	if err != nil {
		t.Fatal(err)
	}
	for _, tpl := range ts.List {
		if tpl.Name == name {
			return tpl
		}
	}
	t.Fatalf("no approved template %q in %+v", name, ts.List)
	return channel.Template{}
}

// templateForm is the composer's fields for a template and its values:
// the template's id only, as the browser sends it.
func templateForm(tpl channel.Template, key string, values ...string) url.Values {
	f := url.Values{"template_id": {tpl.ID}, "key": {key}}
	for i, v := range tpl.Variables {
		if i < len(values) {
			f.Set(conversation.VariableField(v.Key), values[i])
		}
	}
	return f
}

// A template goes to Twilio as ContentSid and the exact ContentVariables;
// the conversation stores and shows the text the client reads, without
// the service comments or hints.
func TestTemplateSendsOnlyTheText(t *testing.T) {
	t.Parallel()
	d := startDemo(t)
	d.customerWrites(t, "+15557654321", "Where is my order?")
	chat := d.liveChats(t)[0]
	tpl := d.template(t, "order_shipped")

	form := templateForm(tpl, "k1", "Casey", " A-4521 ", "Friday")
	form.Set("body", "text left in the hidden reply box")
	if status, body := d.composerPost(t, chat.ID, form, nil, ""); status != http.StatusOK || strings.Contains(body, "tpl-block") {
		t.Fatalf("send: %d, the composer should come back empty\n%s", status, body)
	}
	// The same form again (double click) stores nothing new.
	d.composerPost(t, chat.ID, form, nil, "")
	eventually(t, "the template delivered", func() bool {
		return d.count(t, `SELECT count(*) FROM messages WHERE kind = 'template' AND status IN ('delivered', 'read')`) == 1
	})
	if n := d.count(t, `SELECT count(*) FROM messages WHERE direction = 'out'`); n != 1 {
		t.Fatalf("%d outgoing messages, want 1", n)
	}
	sent := d.sim.Sent(sandbox.DemoTwilioAccountSID)
	want := url.Values{
		"From": {"whatsapp:" + d.ig.Sender}, "To": {"whatsapp:+15557654321"},
		"ContentSid": {tpl.ID}, "ContentVariables": {`{"1":"Casey","2":"A-4521","3":"Friday"}`},
		"StatusCallback": {d.env.App.Integrations.WebhookURL(d.ig)},
	}
	if len(sent) != 1 || sent[0].Params.Encode() != want.Encode() {
		t.Fatalf("Twilio received %v\nwant %v", sent, want)
	}
	var m conversation.Message
	for _, x := range d.messages(t, chat.ID) {
		if x.Kind == "template" {
			m = x
		}
	}
	const text = "Hi Casey, your order A-4521 has shipped and should arrive on Friday."
	if m.Body != text || m.Template == nil || m.Template.ID != tpl.ID {
		t.Fatalf("stored %q %+v", m.Body, m.Template)
	}
	_, page := d.env.Get(t, d.client, "/chats/"+itoa(chat.ID))
	if !strings.Contains(page, text) || strings.Contains(page, "Approved WhatsApp template") || strings.Contains(page, "Customer name") {
		t.Errorf("the conversation shows comments or hints of a sent template")
	}
}

// What WhatsApp would refuse is caught before anything is stored, next to
// the variable, and the template stays in the composer with the values.
func TestTemplateVariablesAreCheckedBeforeSending(t *testing.T) {
	t.Parallel()
	d := startDemo(t)
	d.customerWrites(t, "+15557654321", "Hello")
	chat := d.liveChats(t)[0]
	tpl := d.template(t, "order_shipped")
	long := strings.Repeat("x", 5000)
	for _, tt := range []struct {
		name   string
		form   url.Values
		status int
		want   string
	}{
		{"empty", templateForm(tpl, "a", "Casey", "", "Friday"), 422, "Fill in this variable."},
		{"blank", templateForm(tpl, "b", "Casey", "   ", "Friday"), 422, "Fill in this variable."},
		{"newline", templateForm(tpl, "c", "Casey", "A-1\nA-2", "Friday"), 422, "line breaks"},
		{"tab", templateForm(tpl, "d", "Casey\tC", "A-1", "Friday"), 422, "line breaks or tabs"},
		{"spaces", templateForm(tpl, "e", "Casey      C", "A-1", "Friday"), 422, "four spaces"},
		{"5000 characters", templateForm(tpl, "f", "Casey", long, "Friday"), 422, "1,024"},
		{"text too long once filled", templateForm(tpl, "g", strings.Repeat("y", 600), strings.Repeat("z", 600), "Friday"), 422, "at most 1,024 in its text"},
		{"unknown template", url.Values{"template_id": {"HX00000000000000000000000000000000"}, "key": {"h"}}, 422, "no longer among the approved templates"},
		{"template id of 2,000 characters", url.Values{"template_id": {strings.Repeat("H", 2000)}, "key": {"i"}}, 422, "cannot be read"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			status, body := d.composerPost(t, chat.ID, tt.form, nil, "")
			if status != tt.status || !strings.Contains(body, tt.want) || !strings.Contains(body, `id="composer"`) {
				t.Fatalf("%d, want %d with %q in the composer\n%s", status, tt.status, tt.want, body)
			}
			if tt.form.Get("var_1") != "" && !strings.Contains(body, `value="`+tt.form.Get("var_1")[:5]) {
				t.Errorf("the composer lost the values typed")
			}
		})
	}
	if n := d.count(t, `SELECT count(*) FROM messages WHERE direction = 'out'`); n != 0 {
		t.Fatalf("%d messages stored from refused templates", n)
	}
	if n := len(d.sim.Sent(sandbox.DemoTwilioAccountSID)); n != 0 {
		t.Fatalf("%d requests reached Twilio", n)
	}
}

// A template that no longer exists or that WhatsApp paused is refused
// when the agent sends it from a stale tab (the server asks the provider),
// with nothing stored. One that goes between the agent's send and the send
// job fails: the message is orange with its comments and hints and the
// words of the error, nothing is resent, and it can be deleted.
func TestRefusedTemplateIsOrangeAndCanBeDeleted(t *testing.T) {
	t.Parallel()
	d := startDemo(t)
	d.customerWrites(t, "+15557654321", "Hello")
	chat := d.liveChats(t)[0]
	gone := d.sim.AddTemplate(sandbox.DemoTwilioAccountSID, sandbox.Template{FriendlyName: "gone_soon", Language: "en", Body: "Hello {{1}}", Variables: map[string]string{"1": "Name"}})
	paused := d.sim.AddTemplate(sandbox.DemoTwilioAccountSID, sandbox.Template{FriendlyName: "paused_soon", Language: "en", Body: "Bye {{1}}"})
	goneTpl, pausedTpl := d.template(t, "gone_soon"), d.template(t, "paused_soon")
	d.sim.RemoveTemplate(sandbox.DemoTwilioAccountSID, gone)
	d.sim.SetTemplateStatus(sandbox.DemoTwilioAccountSID, paused, "paused")

	for _, f := range []url.Values{templateForm(goneTpl, "g", "Casey"), templateForm(pausedTpl, "p", "Casey")} {
		if status, body := d.composerPost(t, chat.ID, f, nil, ""); status != http.StatusUnprocessableEntity || !strings.Contains(body, "no longer among the approved templates") {
			t.Fatalf("a template the provider no longer lists: %d\n%s", status, body)
		}
	}
	if n := d.count(t, `SELECT count(*) FROM messages WHERE direction = 'out'`); n != 0 || len(d.sim.Sent(sandbox.DemoTwilioAccountSID)) != 0 {
		t.Fatalf("a stale tab's template was stored (%d) or sent", n)
	}
	// Listed when the agent sent them, gone by the time the job runs.
	for i, tpl := range []channel.Template{goneTpl, pausedTpl} {
		u := &conversation.TemplateUse{Template: tpl, Values: map[string]string{"1": "Casey"}}
		if _, err := d.env.App.Conversations.SendReply(context.Background(), d.admin.TenantID, d.admin.ID, chat.ID, conversation.Reply{Template: u, IdempotencyKey: "late" + itoa(int64(i))}); err != nil {
			t.Fatal(err)
		}
	}
	eventually(t, "both templates failed", func() bool {
		return d.count(t, `SELECT count(*) FROM messages WHERE kind = 'template' AND status = 'failed'`) == 2
	})
	errs := map[string]string{}
	for _, m := range d.messages(t, chat.ID) {
		if m.Template != nil {
			errs[m.Template.Name] = *m.ErrorMessage
		}
	}
	if errs["gone_soon"] != channel.Explain("21655", "") || errs["paused_soon"] != channel.Explain("63041", "") {
		t.Errorf("errors %q", errs)
	}
	_, page := d.env.Get(t, d.client, "/chats/"+itoa(chat.ID))
	for _, want := range []string{"msg-failed", "Approved WhatsApp template “gone_soon” (en)", "End of the template", "Name:", "<strong>Casey</strong>", "Delete message"} {
		if !strings.Contains(page, want) {
			t.Errorf("the failed template does not show %q", want)
		}
	}
	if strings.Contains(page, ">Resend<") || strings.Contains(page, "Try again") {
		t.Error("a failed template offers to be sent again")
	}
	var id int64
	for _, m := range d.messages(t, chat.ID) {
		if m.Template != nil && m.Template.Name == "gone_soon" {
			id = m.ID
		}
	}
	if status, _, _ := d.env.Post(t, d.client, "/chats/"+itoa(chat.ID)+"/messages/"+itoa(id)+"/delete", nil); status != http.StatusSeeOther {
		t.Fatalf("delete: %d", status)
	}
	if n := d.count(t, `SELECT count(*) FROM messages WHERE kind = 'template'`); n != 1 {
		t.Fatalf("%d template messages after deleting one of two", n)
	}
	if n := len(d.sim.Sent(sandbox.DemoTwilioAccountSID)); n != 1 {
		t.Fatalf("Twilio received %d sends, want 1 (the paused one; the deleted template is refused at once)", n)
	}
}

// The macros panel lists general macros, then the agent's, then the
// templates fetched now; a provider that times out or lists broken
// entries is said in plain words and the macros stay usable. Outside the
// 24-hour window the panel offers templates only, and a template is sent.
func TestMacrosPanel(t *testing.T) {
	t.Parallel()
	clk := clock.NewFake(time.Now())
	env := apptest.Start(t, apptest.Options{Sandbox: true, Clock: clk})
	d := demoOf(t, env)
	if err := env.App.Tenants.UpdateChatSettings(context.Background(), d.admin.TenantID, tenant.ChatSettings{IdleMinutes: 1440, EndStatus: "solved"}); err != nil {
		t.Fatal(err)
	}
	env.Post(t, d.client, "/settings/macros", url.Values{"title": {"Zebra general"}, "body": {"G2"}})
	env.Post(t, d.client, "/settings/macros", url.Values{"title": {"Alpha general"}, "body": {"G1"}})
	env.Post(t, d.client, "/me/macros", url.Values{"title": {"Aardvark mine"}, "body": {"P1"}, "status": {"pending"}})
	d.customerWrites(t, "+15557654321", "Hello")
	chat := d.liveChats(t)[0]

	_, panel := env.Get(t, d.client, "/chats/"+itoa(chat.ID)+"/macros")
	order := []string{"General macros", "Alpha general", "Zebra general", "My macros", "Aardvark mine", "WhatsApp templates", "/templates?integration=" + itoa(d.ig.ID)}
	at := 0
	for _, w := range order {
		i := strings.Index(panel[at:], w)
		if i < 0 {
			t.Fatalf("panel: %q missing or out of order\n%s", w, panel)
		}
		at += i
	}

	tplURL := "/templates?integration=" + itoa(d.ig.ID)
	d.sim.AddTemplate(sandbox.DemoTwilioAccountSID, sandbox.Template{FriendlyName: "broken_one", Language: "en", Body: ""})
	_, list := env.Get(t, d.client, tplURL)
	if !strings.Contains(list, "atualizacao_atendimento") || !strings.Contains(list, "broken_one (no text)") || strings.Contains(list, "spring_sale") {
		t.Errorf("template list:\n%s", list)
	}

	env.App.Integrations.TemplatesTimeout = 300 * time.Millisecond
	d.sim.SetFaults(sandbox.TwilioFaults{TimeoutRate: 1})
	status, list := env.Get(t, d.client, tplURL)
	if status != http.StatusOK || !strings.Contains(list, "could not list the approved templates") || !strings.Contains(list, "did not answer in time") {
		t.Errorf("a provider timing out: %d\n%s", status, list)
	}
	d.sim.SetFaults(sandbox.TwilioFaults{ServerErrorRate: 1})
	if _, list = env.Get(t, d.client, tplURL); !strings.Contains(list, "could not list the approved templates") {
		t.Errorf("a provider answering 5xx:\n%s", list)
	}
	d.sim.SetFaults(sandbox.TwilioFaults{})

	clk.Advance(25 * time.Hour)
	if _, panel = env.Get(t, d.client, "/chats/"+itoa(chat.ID)+"/macros"); strings.Contains(panel, "Alpha general") || !strings.Contains(panel, "only an approved template can be sent") {
		t.Errorf("outside the window the panel offers macros:\n%s", panel)
	}
	if status, _ := d.reply(t, chat.ID, "free text", "t1", nil, ""); status != http.StatusConflict {
		t.Errorf("free text outside the window: %d", status)
	}
	if status, _ := d.composerPost(t, chat.ID, templateForm(d.template(t, "conversation_follow_up"), "t2"), nil, ""); status != http.StatusOK {
		t.Errorf("a template outside the window: %d", status)
	}
	eventually(t, "the template delivered", func() bool {
		return d.count(t, `SELECT count(*) FROM messages WHERE kind = 'template' AND status IN ('delivered', 'read')`) == 1
	})
}

// The conversation is the company's record: what it stores of a template
// is the provider's text with the agent's values, whatever the browser
// posts besides the template's id (issue 22: a forged template JSON was
// stored as "FORGED TEXT … your refund was APPROVED").
func TestForgedTemplateTextIsNotStored(t *testing.T) {
	t.Parallel()
	d := startDemo(t)
	d.customerWrites(t, "+15557654321", "Where is my order?")
	chat := d.liveChats(t)[0]
	tpl := d.template(t, "order_shipped")

	forged := tpl
	forged.Body, forged.Variables = "FORGED TEXT {{1}}: your refund was APPROVED", nil
	b, _ := json.Marshal(forged)
	form := templateForm(tpl, "forged", "Casey", "A-4521", "Friday")
	form.Set("template", string(b)) // what the old form carried, trusted then
	form.Set("body", "FORGED TEXT in the reply box")
	if status, body := d.composerPost(t, chat.ID, form, nil, ""); status != http.StatusOK {
		t.Fatalf("send: %d\n%s", status, body)
	}
	var stored []string
	for _, m := range d.messages(t, chat.ID) {
		if m.Direction == "out" {
			stored = append(stored, m.Body)
			if m.Template == nil || m.Template.Body != tpl.Body {
				t.Errorf("the stored template is not the provider's: %+v", m.Template)
			}
		}
	}
	const text = "Hi Casey, your order A-4521 has shipped and should arrive on Friday."
	if len(stored) != 1 || stored[0] != text {
		t.Fatalf("stored %q, want the provider's text %q", stored, text)
	}
	_, page := d.env.Get(t, d.client, "/chats/"+itoa(chat.ID))
	if strings.Contains(page, "FORGED") {
		t.Error("the conversation shows the forged text")
	}
}
