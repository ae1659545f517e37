package httpserver_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"parley/internal/app/apptest"
	"parley/internal/sandbox"
)

// demoLogin signs the demo admin in and waits on the chats page.
func demoLogin(t *testing.T, ctx context.Context, base string) {
	t.Helper()
	apptest.Step(t, ctx, "agent logs in",
		chromedp.Navigate(base+"/login"),
		chromedp.WaitVisible(chromedp.CSS(`form[action="/login"] #f-email`)),
		chromedp.SendKeys(chromedp.CSS("#f-email"), sandbox.DemoEmail),
		chromedp.SendKeys(chromedp.CSS("#f-password"), sandbox.DemoPassword),
		chromedp.Click(chromedp.CSS("button.primary")),
		chromedp.WaitVisible(chromedp.CSS(".chat-list-pane")),
	)
}

// visibleTexts returns the text of every visible element matching css.
func visibleTexts(t *testing.T, ctx context.Context, css string) []string {
	t.Helper()
	js := `Array.from(document.querySelectorAll(` + jsString(css) + `)).filter(function(e){return e.offsetParent!==null}).map(function(e){return e.textContent.replace(/\s+/g," ").trim()})`
	got, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](js))
	if err != nil {
		t.Fatalf("browser: read %s: %v", css, err)
	}
	return got
}

func jsString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// TestBrowserMacrosAndTemplates goes through the whole flow: an admin adds
// a general macro and a personal one; in a chat the macros panel lists
// them, then the integration's approved templates (name and language, in
// alphabetical order, fetched again at every open); a template goes into
// the reply box between its service comments with its variables, empty
// variables are caught, the filled template is sent and shown without the
// comments; a template WhatsApp refuses shows orange with its comments
// and can be deleted; and a conversation is started with a template.
func TestBrowserMacrosAndTemplates(t *testing.T) {
	t.Parallel()
	d := startDemo(t)
	agent := apptest.Browser(t)
	demoLogin(t, agent, d.env.URL)

	apptest.Step(t, agent, "admin adds a general macro in Settings → Macros",
		chromedp.Navigate(d.env.URL+"/settings/macros"),
		chromedp.WaitVisible(chromedp.CSS("#new-macro")),
		chromedp.SendKeys(chromedp.CSS("#title-new"), "Opening hours"),
		chromedp.SendKeys(chromedp.CSS("#body-new"), "We are open 9:00–18:00, Monday to Friday."),
		chromedp.Click(chromedp.CSS("#new-macro button.primary")),
		chromedp.WaitVisible(chromedp.CSS(`.card.macro input[value="Opening hours"]`)),
	)
	apptest.Step(t, agent, "and a personal macro that sets the status",
		chromedp.Navigate(d.env.URL+"/me/macros"),
		chromedp.WaitVisible(chromedp.CSS("#new-macro")),
		chromedp.SendKeys(chromedp.CSS("#title-new"), "Sign-off"),
		chromedp.SendKeys(chromedp.CSS("#body-new"), "Have a nice day!"),
		chromedp.SetValue(chromedp.CSS("#status-new"), "pending"),
		chromedp.Click(chromedp.CSS("#new-macro button.primary")),
		chromedp.WaitVisible(chromedp.CSS(`.card.macro input[value="Sign-off"]`)),
	)
	apptest.Shot(t, agent, "my-macros")

	d.customerWrites(t, "+15557654321", "Where is my order?")
	chat := d.liveChats(t)[0]
	apptest.Step(t, agent, "agent opens the chat and the macros panel",
		chromedp.Navigate(d.env.URL+"/chats/"+itoa(chat.ID)),
		chromedp.WaitVisible(chromedp.CSS("#reply-body")),
		chromedp.Click(chromedp.CSS("[data-macros-toggle]")),
		chromedp.WaitVisible(chromedp.CSS(".template-list [data-template-pick]")),
	)
	apptest.Shot(t, agent, "macros-panel")
	sections := visibleTexts(t, agent, ".macros-panel .panel-section h3")
	if strings.Join(sections, " | ") != "General macros | My macros | WhatsApp templates" {
		t.Errorf("panel sections %q, want general, personal, templates", sections)
	}
	items := visibleTexts(t, agent, ".macros-panel .panel-item strong")
	want := []string{"After hours", "Opening hours", "Sign-off",
		"appointment_card", "atualizacao_atendimento", "choose_department", "conversation_follow_up", "issue_resolved_check", "login_code",
		"order_receipt", "order_shipped", "seguimiento_pedido", "spring_menu", "summer_collection", "terminerinnerung", "track_order", "welcome_card"}
	if strings.Join(items, ",") != strings.Join(want, ",") {
		t.Errorf("panel lists %q\nwant %q (pending and rejected templates left out)", items, want)
	}
	langs := visibleTexts(t, agent, ".template-list .panel-item .tpl-lang")
	if strings.Join(langs, ",") != "en,pt_BR,en,en,en,en,en,en,es,en,en,de,en,en" {
		t.Errorf("template languages %q", langs)
	}

	apptest.Step(t, agent, "a macro goes into the reply box and its status is announced",
		chromedp.Click(chromedp.CSS(`[data-macro-status="pending"]`)),
		chromedp.WaitNotPresent(chromedp.CSS(".macros-panel .panel-item")),
		chromedp.WaitVisible(chromedp.CSS("[data-macro-status-chip]")),
	)
	if got, _ := chromedp.Run(agent, chromedp.Value(chromedp.CSS("#reply-body"))); got != "Have a nice day!" {
		t.Errorf("reply box holds %q after picking the macro", got)
	}

	// A template added at the provider appears at the next opening of the
	// panel, without a reload.
	added := d.sim.AddTemplate(sandbox.DemoTwilioAccountSID, sandbox.Template{FriendlyName: "appointment_confirm", Language: "fr", Body: "Bonjour {{1}}, à bientôt."})
	apptest.Step(t, agent, "the panel opens again and shows the new template; search filters it",
		chromedp.Click(chromedp.CSS("[data-macros-toggle]")),
		chromedp.WaitVisible(chromedp.CSS(".template-list [data-template-pick]")),
	)
	if items := visibleTexts(t, agent, ".template-list .panel-item strong"); len(items) < 2 || items[1] != "appointment_confirm" {
		t.Errorf("after adding a template the panel lists %q, want appointment_confirm second", items)
	}
	apptest.Step(t, agent, "search",
		chromedp.SendKeys(chromedp.CSS("[data-macros-search]"), "shipped"),
	)
	if items := visibleTexts(t, agent, ".macros-panel .panel-item strong"); strings.Join(items, ",") != "order_shipped" {
		t.Errorf("search 'shipped' shows %q", items)
	}

	apptest.Step(t, agent, "the template goes into the reply box between its comments, with its variables",
		chromedp.Click(chromedp.CSS(".template-list li:not([hidden]) [data-template-pick]")),
		chromedp.WaitVisible(chromedp.CSS("#composer [data-template-block] .tpl-vars input")),
	)
	comments := visibleTexts(t, agent, "#composer .tpl-comment")
	if len(comments) != 2 || !strings.HasPrefix(comments[0], "<") || !strings.Contains(comments[0], "may not be edited") || !strings.HasSuffix(comments[1], ">") {
		t.Errorf("service comments %q", comments)
	}
	hints := visibleTexts(t, agent, "#composer .tpl-vars label")
	if len(hints) != 3 || !strings.Contains(hints[0], "{{1}} Customer name") || !strings.Contains(hints[2], "Delivery date") {
		t.Errorf("variable list %q", hints)
	}
	apptest.Shot(t, agent, "template-inserted")

	sentBefore := len(d.sim.Sent(sandbox.DemoTwilioAccountSID))
	apptest.Step(t, agent, "sending with empty variables is stopped next to them",
		chromedp.SendKeys(chromedp.CSS(`#composer input[name="var_1"]`), "Casey"),
		chromedp.Click(chromedp.CSS("#composer [data-template-send]")),
		chromedp.WaitVisible(chromedp.CSS(`#composer input[name="var_2"][aria-invalid="true"]`)),
	)
	if errs := visibleTexts(t, agent, "#composer .tpl-vars .field-error"); strings.Join(errs, "|") != "Fill in this variable.|Fill in this variable." {
		t.Errorf("variable errors %q", errs)
	}
	if n := len(d.sim.Sent(sandbox.DemoTwilioAccountSID)); n != sentBefore {
		t.Fatalf("%d messages reached Twilio with empty variables", n-sentBefore)
	}
	apptest.Step(t, agent, "the filled template is sent and delivered",
		chromedp.SendKeys(chromedp.CSS(`#composer input[name="var_2"]`), "A-4521"),
		chromedp.SendKeys(chromedp.CSS(`#composer input[name="var_3"]`), "Friday"),
		chromedp.Click(chromedp.CSS("#composer [data-template-send]")),
		chromedp.WaitVisible(chromedp.CSS(`.msg-template[data-status="delivered"], .msg-template[data-status="read"]`)),
	)
	apptest.WaitText(t, agent, ".msg-template .msg-body", "Hi Casey, your order A-4521 has shipped and should arrive on Friday.")
	if got := apptest.TextOf(t, agent, ".msg-template"); strings.Contains(got, "<") || strings.Contains(got, "Customer name") {
		t.Errorf("the sent template shows comments or hints: %q", got)
	}
	sent := d.sim.Sent(sandbox.DemoTwilioAccountSID)
	if got := sent[len(sent)-1].Params.Get("ContentVariables"); got != `{"1":"Casey","2":"A-4521","3":"Friday"}` {
		t.Errorf("ContentVariables %s", got)
	}
	apptest.Shot(t, agent, "template-sent")

	// WhatsApp pauses a template after the panel listed it: the server
	// asks the provider on send, so it is refused at once, in words, and
	// nothing is stored or sent.
	apptest.Step(t, agent, "a template WhatsApp then paused",
		chromedp.Click(chromedp.CSS("[data-macros-toggle]")),
		chromedp.WaitVisible(chromedp.CSS(".template-list [data-template-pick]")),
		chromedp.SendKeys(chromedp.CSS("[data-macros-search]"), "appointment_confirm"),
		chromedp.Click(chromedp.CSS(`.template-list li:not([hidden]) [data-template-pick]`)),
		chromedp.WaitVisible(chromedp.CSS(`#composer input[name="var_1"]`)),
		chromedp.SendKeys(chromedp.CSS(`#composer input[name="var_1"]`), "Madame Roux"),
	)
	d.sim.SetTemplateStatus(sandbox.DemoTwilioAccountSID, added, "paused")
	sentBefore = len(d.sim.Sent(sandbox.DemoTwilioAccountSID))
	apptest.Step(t, agent, "is refused at once with the reason",
		chromedp.Click(chromedp.CSS("#composer [data-template-send]")),
		chromedp.WaitVisible(chromedp.CSS("#composer .field-error")),
	)
	apptest.WaitText(t, agent, "#composer .field-error", "no longer among the approved templates")
	apptest.Shot(t, agent, "template-refused")
	if n := d.count(t, `SELECT count(*) FROM messages WHERE body LIKE '%Madame Roux%'`); n != 0 || len(d.sim.Sent(sandbox.DemoTwilioAccountSID)) != sentBefore {
		t.Fatalf("a paused template was stored (%d) or sent", n)
	}

	apptest.Step(t, agent, "start a conversation with a new number",
		chromedp.Navigate(d.env.URL+"/chats"),
		chromedp.Click(chromedp.CSS(`a[href="/chats/new"]`)),
		chromedp.WaitVisible(chromedp.CSS("#start-templates [data-template-pick]")),
		chromedp.SendKeys(chromedp.CSS("#f-number"), "+44 7700 900123"),
		chromedp.SendKeys(chromedp.CSS("[data-macros-search]"), "termin"),
		chromedp.Click(chromedp.CSS(`#start-templates li:not([hidden]) [data-template-pick]`)),
		chromedp.WaitVisible(chromedp.CSS(`.start-form input[name="var_1"]`)),
		chromedp.SendKeys(chromedp.CSS(`.start-form input[name="var_1"]`), "Frau Weber"),
		chromedp.SendKeys(chromedp.CSS(`.start-form input[name="var_2"]`), "3. Dezember"),
	)
	apptest.Shot(t, agent, "start-conversation")
	apptest.Step(t, agent, "send it: the chat opens with the template",
		chromedp.Click(chromedp.CSS(".start-form [data-template-send]")),
		chromedp.WaitVisible(chromedp.CSS(".msg-template")),
	)
	apptest.WaitText(t, agent, ".msg-template .msg-body", "Hallo Frau Weber, wir erinnern Sie an Ihren Termin am 3. Dezember.")
	apptest.WaitText(t, agent, ".conv-title h2", "+447700900123")
}
