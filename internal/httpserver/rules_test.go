package httpserver_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/jackc/pgx/v5"

	"parley/internal/app/apptest"
	"parley/internal/clock"
	"parley/internal/ruleevent"
	"parley/internal/sandbox"
	"parley/internal/tenant"
)

// rulesDone waits until every rule event recorded so far has run, and its
// job finished: an event is recorded with the change that caused it, and
// a chain's next event with the run that causes it, so none is missed.
func (d *demo) rulesDone(t *testing.T) {
	t.Helper()
	eventually(t, "the rule events", func() bool {
		return d.count(t, `SELECT (SELECT count(*) FROM rule_events) + (SELECT count(*) FROM river_job
			WHERE kind = 'run_rules' AND args->>'tenant_id' = current_tenant()::text AND state NOT IN ('completed', 'discarded', 'cancelled'))`) == 0
	})
}

// ruleForm is the Settings → Rules form with one action and conditions.
func ruleForm(name, trigger string, kv ...string) url.Values {
	f := url.Values{"name": {name}, "enabled": {"true"}, "trigger": {trigger}, "match": {"all"}}
	for i := 0; i+1 < len(kv); i += 2 {
		f.Set(kv[i], kv[i+1])
	}
	return f
}

// The article's example: "chat started → end chat and set status Open"
// puts every new chat straight into All cases, recorded in the case.
func TestRuleEndsNewChats(t *testing.T) {
	t.Parallel()
	d := startDemo(t)
	if status, _, body := d.env.Post(t, d.client, "/settings/rules", ruleForm("Straight to cases", "chat_started",
		"action_0", "end_chat", "action_0_pick", "open")); status != http.StatusSeeOther {
		t.Fatalf("create rule: %d\n%s", status, body)
	}
	d.customerWrites(t, "+15557654321", "Hello?")
	eventually(t, "the chat ended by the rule", func() bool {
		return d.count(t, `SELECT count(*) FROM cases WHERE state = 'ended' AND status = 'open' AND ended_by = 'rule ''Straight to cases'''`) == 1
	})
	if n := d.count(t, `SELECT count(*) FROM messages WHERE kind = 'event' AND body LIKE 'Chat ended by rule ''Straight to cases'' · status open%'`); n != 1 {
		t.Error("the case does not record the rule's run")
	}
	if len(d.liveChats(t)) != 0 {
		t.Error("the chat is still live")
	}
}

// Conditions and actions: a client's message containing a word moves the
// chat to a group and sends a macro inside the window; outside it the
// macro is not sent and the case says why.
func TestRuleConditionsAndWindowAwareMacro(t *testing.T) {
	t.Parallel()
	clk := clock.NewFake(time.Now())
	env := apptest.Start(t, apptest.Options{Sandbox: true, Clock: clk})
	d := demoOf(t, env)
	if err := env.App.Tenants.UpdateChatSettings(t.Context(), d.admin.TenantID, tenant.ChatSettings{IdleMinutes: 1440, EndStatus: "solved"}); err != nil {
		t.Fatal(err)
	}
	env.Post(t, d.client, "/settings/groups", url.Values{"name": {"Billing"}})
	billing := itoa(int64(d.count(t, `SELECT id FROM groups WHERE name = 'Billing'`)))
	env.Post(t, d.client, "/settings/macros", url.Values{"title": {"Invoices"}, "body": {"Invoices are sent on the 1st."}})
	macroID := itoa(int64(d.count(t, `SELECT id FROM macros WHERE title = 'Invoices'`)))
	if status, _, body := env.Post(t, d.client, "/settings/rules", ruleForm("Invoices", "client_message",
		"condition_0", "text_contains", "condition_0_text", "INVOICE",
		"condition_1", "integration", "condition_1_pick", itoa(d.ig.ID),
		"action_0", "assign_group", "action_0_pick", billing,
		"action_1", "send_macro", "action_1_pick", macroID)); status != http.StatusSeeOther {
		t.Fatalf("create rule: %d\n%s", status, body)
	}
	d.customerWrites(t, "+15557654321", "Hello")
	d.customerWrites(t, "+15557654321", "Where is my invoice?")
	eventually(t, "the macro sent", func() bool {
		return d.count(t, `SELECT count(*) FROM messages WHERE direction = 'out' AND body = 'Invoices are sent on the 1st.' AND agent_id IS NULL AND status IN ('delivered', 'read')`) == 1
	})
	if n := d.count(t, `SELECT count(*) FROM cases WHERE group_id = `+billing); n != 1 {
		t.Error("the chat did not move to Billing")
	}
	// The same rule running when the window has closed (a job that ran
	// late, say) sends nothing and records why.
	chatID := int64(d.count(t, `SELECT id FROM cases`))
	if err := env.App.DB.InTenant(t.Context(), d.admin.TenantID, func(tx pgx.Tx) error {
		_, err := tx.Exec(t.Context(), `UPDATE cases SET last_client_message_at = $2 WHERE id = $1`, chatID, clk.Now().Add(-25*time.Hour))
		return err
	}); err != nil {
		t.Fatal(err)
	}
	msgID := int64(d.count(t, `SELECT id FROM messages WHERE body = 'Where is my invoice?'`))
	before := len(d.sim.Sent(sandbox.DemoTwilioAccountSID))
	if err := env.App.DB.InTenant(t.Context(), d.admin.TenantID, func(tx pgx.Tx) error {
		return ruleevent.NewRecorder(env.App.Jobs, nil).Record(t.Context(), tx, d.admin.TenantID, ruleevent.ClientMessage, 0,
			[]ruleevent.Event{{CaseID: chatID, MessageID: msgID, Chain: ruleevent.NewChain()}})
	}); err != nil {
		t.Fatal(err)
	}
	d.rulesDone(t)
	if n := len(d.sim.Sent(sandbox.DemoTwilioAccountSID)); n != before {
		t.Errorf("%d sends reached Twilio outside the window", n-before)
	}
	if n := d.count(t, `SELECT count(*) FROM messages WHERE kind = 'event' AND body = 'Rule ''Invoices'' could not send a macro to the client: the 24-hour window is closed'`); n != 1 {
		t.Error("the case does not say why the macro was not sent")
	}
}

// Bad rules are refused in the form with the reason next to the row.
func TestRuleFormRefusesBadRules(t *testing.T) {
	t.Parallel()
	d := startDemo(t)
	for _, tt := range []struct {
		form url.Values
		want string
	}{
		{ruleForm("", "chat_started", "action_0", "end_chat", "action_0_pick", "open"), "Give the rule a name"},
		{ruleForm("x", "bogus", "action_0", "end_chat", "action_0_pick", "open"), "Choose when the rule runs"},
		{ruleForm("x", "chat_started"), "at least one action"},
		{ruleForm("x", "chat_started", "action_0", "end_chat", "action_0_pick", "nope"), "“nope” is not one of this workspace"},
		{ruleForm("x", "chat_started", "action_0", "assign_group", "action_0_pick", "999999"), "Choose one of your groups"},
		{ruleForm("x", "chat_started", "action_0", "send_macro", "action_0_pick", "999999"), "general macros"},
		{ruleForm("x", "chat_started", "condition_0", "text_contains", "condition_0_text", "hi", "action_0", "end_chat", "action_0_pick", "open"), "can test its text"},
		{ruleForm("x", "chat_started", "condition_0", "window", "condition_0_text", "ajar", "action_0", "end_chat", "action_0_pick", "open"), "open or closed"},
	} {
		status, _, body := d.env.Post(t, d.client, "/settings/rules", tt.form)
		if status != http.StatusUnprocessableEntity || !strings.Contains(body, tt.want) {
			t.Errorf("%v: %d, want 422 with %q", tt.form, status, tt.want)
		}
	}
	if n := d.count(t, `SELECT count(*) FROM rules WHERE NOT enabled AND name IN ('After hours: send the after-hours macro', 'No agent reply for 5 minutes: move to the group')`); n != 2 || d.count(t, `SELECT count(*) FROM rules`) != 2 {
		t.Fatalf("%d rules, want only the 2 examples every tenant gets", n)
	}
}

// TestBrowserRuleEndsNewChat: an admin creates the article's rule in
// Settings → Rules; a new chat then goes straight to All cases.
func TestBrowserRuleEndsNewChat(t *testing.T) {
	t.Parallel()
	d := startDemo(t)
	b := apptest.Browser(t)
	demoLogin(t, b, d.env.URL)
	apptest.Step(t, b, "create the rule",
		chromedp.Navigate(d.env.URL+"/settings/rules"),
		chromedp.WaitVisible(chromedp.CSS("form.rule-form")),
		chromedp.SendKeys(chromedp.CSS("form.rule-form #f-name"), "Straight to cases"),
		chromedp.SetValue(chromedp.CSS(`select[name="trigger"]`), "chat_started"),
		chromedp.SetValue(chromedp.CSS(`select[name="action_0"]`), "end_chat"),
		chromedp.SetValue(chromedp.CSS(`select[name="action_0_pick"]`), "open"),
		chromedp.Click(chromedp.CSS("form.rule-form button.primary")),
		chromedp.WaitVisible(chromedp.CSS(".rules-list")),
	)
	apptest.WaitText(t, b, ".rules-list", "Straight to cases")
	apptest.Shot(t, b, "rules")
	d.customerWrites(t, "+15557654321", "Anyone?")
	eventually(t, "the rule's run", func() bool {
		return d.count(t, `SELECT count(*) FROM cases WHERE state = 'ended' AND ended_by LIKE 'rule%'`) == 1
	})
	apptest.Step(t, b, "All cases lists it",
		chromedp.Navigate(d.env.URL+"/cases"),
		chromedp.WaitVisible(chromedp.CSS(`a[href^="/cases/"]`)),
	)
}

// Rules run in the order of the list, which the admin changes; a rule
// turned off does not run; a rule whose group was deleted is shown broken
// and skipped with the reason recorded in the case.
func TestRulesOrderToggleAndBroken(t *testing.T) {
	t.Parallel()
	d := startDemo(t)
	d.env.Post(t, d.client, "/settings/groups", url.Values{"name": {"Doomed"}})
	doomed := itoa(int64(d.count(t, `SELECT id FROM groups WHERE name = 'Doomed'`)))
	for _, f := range []url.Values{
		ruleForm("First: pending", "chat_started", "action_0", "set_status", "action_0_pick", "pending"),
		ruleForm("Second: note", "chat_started", "action_0", "add_note", "action_0_text", "Seen by the rules"),
		ruleForm("Third: to Doomed", "chat_started", "action_0", "assign_group", "action_0_pick", doomed),
	} {
		if status, _, body := d.env.Post(t, d.client, "/settings/rules", f); status != http.StatusSeeOther {
			t.Fatalf("create: %d\n%s", status, body)
		}
	}
	ruleID := func(name string) string {
		return itoa(int64(d.count(t, `SELECT id FROM rules WHERE name = '`+name+`'`)))
	}
	first, second := ruleID("First: pending"), ruleID("Second: note")
	// The note moves first; the pending rule is turned off.
	d.env.Post(t, d.client, "/settings/rules/"+second+"/move", url.Values{"to": {"up"}})
	d.env.Post(t, d.client, "/settings/rules/"+first+"/enabled", url.Values{"enabled": {"false"}})
	// The third rule's group is deleted.
	if err := d.env.App.DB.InTenant(t.Context(), d.admin.TenantID, func(tx pgx.Tx) error {
		_, err := tx.Exec(t.Context(), `DELETE FROM groups WHERE id = `+doomed)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	_, page := d.env.Get(t, d.client, "/settings/rules")
	if strings.Index(page, "Second: note") > strings.Index(page, "First: pending") {
		t.Error("the note rule did not move up")
	}
	if !strings.Contains(page, "Broken: its group was deleted") {
		t.Error("the rule with the deleted group is not shown broken")
	}
	d.customerWrites(t, "+15557654321", "Hi")
	eventually(t, "the broken rule skipped", func() bool {
		return d.count(t, `SELECT count(*) FROM messages WHERE kind = 'event' AND body = 'Rule ''Third: to Doomed'' was skipped: its group was deleted'`) == 1
	})
	if n := d.count(t, `SELECT count(*) FROM messages WHERE kind = 'note' AND body = 'Seen by the rules'`); n != 1 {
		t.Error("the note rule did not run")
	}
	if n := d.count(t, `SELECT count(*) FROM cases WHERE status = 'pending'`); n != 0 {
		t.Error("the rule turned off ran")
	}
}

// Triggers beyond the first message: an agent's message, a chat ending, a
// status change; a rule's own action does not fire it again, and chains
// stop.
func TestRuleTriggersAndLoopProtection(t *testing.T) {
	t.Parallel()
	d := startDemo(t)
	for _, f := range []url.Values{
		// An agent's reply sets pending; pending ends the chat as solved;
		// the end adds a note.
		ruleForm("Reply → pending", "agent_message", "action_0", "set_status", "action_0_pick", "pending"),
		ruleForm("Pending → end", "status_changed", "condition_0", "status", "condition_0_pick", "pending", "action_0", "end_chat", "action_0_pick", "solved"),
		ruleForm("Ended → note", "chat_ended", "action_0", "add_note", "action_0_text", "Closed by the rules"),
	} {
		if status, _, body := d.env.Post(t, d.client, "/settings/rules", f); status != http.StatusSeeOther {
			t.Fatalf("create: %d\n%s", status, body)
		}
	}
	d.customerWrites(t, "+15557654321", "Hi")
	chat := d.liveChats(t)[0]
	if status, _ := d.reply(t, chat.ID, "On it!", "k1", nil, ""); status != http.StatusOK {
		t.Fatal(status)
	}
	eventually(t, "the chain of rules", func() bool {
		return d.count(t, `SELECT count(*) FROM messages WHERE kind = 'note' AND body = 'Closed by the rules'`) == 1
	})
	if n := d.count(t, `SELECT count(*) FROM cases WHERE state = 'ended' AND status = 'solved' AND ended_by = 'rule ''Pending → end'''`); n != 1 {
		t.Error("the chat was not ended by the status rule")
	}
}

// Two rules that answer each other's status changes (pending → open,
// open → pending) each fire once in the chain the agent's reply starts,
// not back and forth.
func TestRuleLoopsStop(t *testing.T) {
	t.Parallel()
	d := startDemo(t)
	for _, f := range []url.Values{
		ruleForm("Reply → pending", "agent_message", "action_0", "set_status", "action_0_pick", "pending"),
		ruleForm("Ping", "status_changed", "condition_0", "status", "condition_0_pick", "pending", "action_0", "set_status", "action_0_pick", "open"),
		ruleForm("Pong", "status_changed", "condition_0", "status", "condition_0_pick", "open", "action_0", "set_status", "action_0_pick", "pending"),
	} {
		if status, _, body := d.env.Post(t, d.client, "/settings/rules", f); status != http.StatusSeeOther {
			t.Fatalf("create: %d\n%s", status, body)
		}
	}
	d.customerWrites(t, "+15557654321", "Hi")
	chat := d.liveChats(t)[0]
	if status, _ := d.reply(t, chat.ID, "On it!", "k1", nil, ""); status != http.StatusOK {
		t.Fatal(status)
	}
	d.rulesDone(t)
	for _, name := range []string{"Ping", "Pong"} {
		if n := d.count(t, `SELECT count(*) FROM messages WHERE kind = 'event' AND body LIKE 'Status set to % by rule ''`+name+`'''`); n != 1 {
			t.Errorf("rule %s ran %d times, want once", name, n)
		}
	}
}

// Conditions: status, message text by regular expression, client fields,
// business hours and weekdays in the tenant's time zone across a DST change.
func TestRuleConditions(t *testing.T) {
	t.Parallel()
	// 2026-03-29 is the night Europe/Berlin moves to summer time: 08:30 UTC
	// is 10:30 there (CEST), 09:30 the day before (CET).
	clk := clock.NewFake(time.Date(2026, 3, 29, 8, 30, 0, 0, time.UTC))
	env := apptest.Start(t, apptest.Options{Sandbox: true, Clock: clk})
	d := demoOf(t, env)
	if status, _, _ := env.Post(t, d.client, "/settings/rules/time-zone", url.Values{"time_zone": {"Mars/Olympus"}}); status != http.StatusUnprocessableEntity {
		t.Errorf("an unknown time zone: %d", status)
	}
	if status, _, _ := env.Post(t, d.client, "/settings/rules/time-zone", url.Values{"time_zone": {"Europe/Berlin"}}); status != http.StatusSeeOther {
		t.Fatal("time zone not saved")
	}
	for _, f := range []url.Values{
		ruleForm("Order numbers", "client_message", "condition_0", "text_matches", "condition_0_text", `#\d{4,}`,
			"condition_1", "client_has", "condition_1_pick", "whatsapp", "action_0", "add_note", "action_0_text", "Order number given"),
		ruleForm("After 10 on Sundays", "client_message", "condition_0", "hours", "condition_0_text", "10:00-12:00",
			"condition_1", "weekdays", "condition_1_text", "sat,sun", "action_0", "add_note", "action_0_text", "Weekend morning"),
		ruleForm("Not open", "client_message", "condition_0", "status", "condition_0_pick", "pending", "action_0", "add_note", "action_0_text", "Never"),
	} {
		if status, _, body := env.Post(t, d.client, "/settings/rules", f); status != http.StatusSeeOther {
			t.Fatalf("create: %d\n%s", status, body)
		}
	}
	if status, _, body := env.Post(t, d.client, "/settings/rules", ruleForm("Bad regexp", "client_message", "condition_0", "text_matches", "condition_0_text", "(", "action_0", "add_note", "action_0_text", "x")); status != http.StatusUnprocessableEntity || !strings.Contains(body, "regular expression") {
		t.Errorf("an invalid regular expression: %d", status)
	}
	d.customerWrites(t, "+15557654321", "My order #12345 is late")
	d.rulesDone(t)
	if n := d.count(t, `SELECT count(*) FROM messages WHERE kind = 'note'`); n != 2 {
		t.Errorf("%d notes, want the 2 of the matching rules (\"Not open\" must not run)", n)
	}
	if n := d.count(t, `SELECT count(*) FROM messages WHERE kind = 'note' AND body IN ('Order number given', 'Weekend morning')`); n != 2 {
		t.Errorf("%d of the two matching rules ran (10:30 in Berlin on the DST Sunday is within 10:00-12:00)", n)
	}
	// The day before, 08:30 UTC was 09:30 in Berlin: outside the hours.
	clk.Set(time.Date(2026, 3, 28, 8, 30, 0, 0, time.UTC))
	d.customerWrites(t, "+15557654399", "no order number")
	d.rulesDone(t)
	if n := d.count(t, `SELECT count(*) FROM messages WHERE kind = 'note'`); n != 2 {
		t.Errorf("%d notes after a message outside the hours and without an order number, want still 2", n)
	}
}

// "No agent reply for 5 minutes → move to a group" fires once per waiting
// period, from the sweep; an agent's reply ends the wait, and the client's
// next message starts a new one. "No client reply" waits on the agent's
// last message.
func TestWaitingRules(t *testing.T) {
	t.Parallel()
	clk := clock.NewFake(time.Now())
	env := apptest.Start(t, apptest.Options{Sandbox: true, Clock: clk})
	d := demoOf(t, env)
	if err := env.App.Tenants.UpdateChatSettings(t.Context(), d.admin.TenantID, tenant.ChatSettings{IdleMinutes: 1440, EndStatus: "solved"}); err != nil {
		t.Fatal(err)
	}
	if status, _, body := env.Post(t, d.client, "/settings/rules", ruleForm("No agent reply", "no_agent_reply", "minutes", "5",
		"action_0", "add_note", "action_0_text", "Waiting for an agent")); status != http.StatusSeeOther {
		t.Fatalf("create: %d\n%s", status, body)
	}
	if status, _, body := env.Post(t, d.client, "/settings/rules", ruleForm("Client silent", "no_client_reply", "minutes", "60",
		"action_0", "set_status", "action_0_pick", "pending")); status != http.StatusSeeOther {
		t.Fatalf("create: %d\n%s", status, body)
	}
	if status, _, body := env.Post(t, d.client, "/settings/rules", ruleForm("No minutes", "no_agent_reply", "action_0", "set_status", "action_0_pick", "open")); status != http.StatusUnprocessableEntity || !strings.Contains(body, "how many minutes") {
		t.Fatalf("a waiting rule without minutes: %d", status)
	}
	notes := func() int {
		return d.count(t, `SELECT count(*) FROM messages WHERE kind = 'note' AND body = 'Waiting for an agent'`)
	}
	sweep := func() {
		t.Helper()
		if _, err := env.App.Rules.SweepWaiting(t.Context()); err != nil {
			t.Fatal(err)
		}
	}
	d.customerWrites(t, "+15557654321", "Hello?")
	chat := d.liveChats(t)[0]
	clk.Advance(4 * time.Minute)
	sweep()
	clk.Advance(2 * time.Minute)
	sweep()
	sweep() // the same period: nothing new
	d.rulesDone(t)
	if n := notes(); n != 1 {
		t.Fatalf("the waiting rule fired %d times in one waiting period, want once", n)
	}
	// An agent replies: no more waiting for an agent.
	if status, _ := d.reply(t, chat.ID, "Here!", "w1", nil, ""); status != http.StatusOK {
		t.Fatal(status)
	}
	clk.Advance(10 * time.Minute)
	sweep()
	d.rulesDone(t)
	if n := notes(); n != 1 {
		t.Fatalf("the waiting rule fired after the agent replied (%d notes)", n)
	}
	// The client writes again: a new wait.
	d.customerWrites(t, "+15557654321", "Still there?")
	clk.Advance(6 * time.Minute)
	sweep()
	eventually(t, "the second wait", func() bool { return notes() == 2 })
	// The client does not answer the agent's reply for an hour.
	if status, _ := d.reply(t, chat.ID, "Yes, checking", "w2", nil, ""); status != http.StatusOK {
		t.Fatal(status)
	}
	clk.Advance(61 * time.Minute)
	sweep()
	eventually(t, "the client-silent rule", func() bool {
		return d.count(t, `SELECT count(*) FROM cases WHERE status = 'pending'`) == 1
	})
	if n := notes(); n != 2 {
		t.Errorf("%d waiting-for-agent notes, want 2", n)
	}
}

// Tags: a rule tags chats whose first message mentions a refund; another
// rule, for tagged chats, moves them on; the chat shows its tags.
func TestRuleTags(t *testing.T) {
	t.Parallel()
	d := startDemo(t)
	for _, f := range []url.Values{
		ruleForm("Tag refunds", "client_message", "condition_0", "text_contains", "condition_0_text", "refund", "action_0", "add_tag", "action_0_text", "Refund"),
		ruleForm("Refunds pending", "client_message", "condition_0", "tag", "condition_0_text", "refund", "action_0", "set_status", "action_0_pick", "pending",
			"action_1", "remove_tag", "action_1_text", "refund", "action_2", "add_tag", "action_2_text", "refund-seen"),
	} {
		if status, _, body := d.env.Post(t, d.client, "/settings/rules", f); status != http.StatusSeeOther {
			t.Fatalf("create: %d\n%s", status, body)
		}
	}
	d.customerWrites(t, "+15557654321", "I want a refund")
	eventually(t, "the tags", func() bool {
		return d.count(t, `SELECT count(*) FROM cases WHERE tags = '{refund-seen}' AND status = 'pending'`) == 1
	})
	chat := d.liveChats(t)[0]
	if _, page := d.env.Get(t, d.client, "/chats/"+itoa(chat.ID)); !strings.Contains(page, `<span class="tag">refund-seen</span>`) {
		t.Error("the chat does not show its tag")
	}
}

// "Assign to an agent": round_robin spreads new chats over the group's
// online agents (a page of theirs is open), fewest live chats first; with
// nobody online the chat waits in the group, and the case says why.
func TestRuleRoundRobin(t *testing.T) {
	t.Parallel()
	d := startDemo(t)
	env := d.env
	var bob, carol string
	for _, name := range []string{"Bob", "Carol"} {
		email := strings.ToLower(name) + "@demo.test"
		env.Post(t, d.client, "/settings/agents", url.Values{"name": {name}, "email": {email}, "role": {"agent"}, "password": {"long password " + name}})
		id := itoa(int64(d.count(t, `SELECT id FROM agents WHERE email = '`+email+`'`)))
		if name == "Bob" {
			bob = id
		} else {
			carol = id
		}
	}
	env.Post(t, d.client, "/settings/groups/"+itoa(d.ig.DefaultGroupID), url.Values{"name": {"Support"}, "member": {itoa(d.admin.ID), bob, carol}})
	if status, _, body := env.Post(t, d.client, "/settings/rules", ruleForm("Spread", "chat_started", "action_0", "assign_agent", "action_0_text", "round_robin")); status != http.StatusSeeOther {
		t.Fatalf("create: %d\n%s", status, body)
	}

	// Nobody has a page open: the chat waits in the group.
	d.customerWrites(t, "+15557000100", "Hi")
	d.rulesDone(t)
	if n := d.count(t, `SELECT count(*) FROM cases WHERE assignee_id IS NOT NULL`); n != 0 {
		t.Fatalf("%d chats assigned with nobody online", n)
	}
	if n := d.count(t, `SELECT count(*) FROM messages WHERE body LIKE 'Rule ''Spread'' could not assign to an agent: no agent of the group is online%'`); n != 1 {
		t.Fatal("the case does not say why the rule assigned nobody")
	}

	// Ada and Bob open Parley; Carol does not.
	bobs := env.Client()
	if status, _, _ := env.Post(t, bobs, "/login", url.Values{"email": {"bob@demo.test"}, "password": {"long password Bob"}}); status != http.StatusSeeOther {
		t.Fatal("Bob could not sign in")
	}
	for _, c := range []*http.Client{d.client, bobs} {
		ctx, cancel := context.WithCancel(context.Background())
		t.Cleanup(cancel)
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, env.URL+"/events", nil)
		resp, err := c.Do(req)
		if err != nil || resp.StatusCode != http.StatusOK {
			t.Fatalf("live updates: %v", err)
		}
		t.Cleanup(func() { resp.Body.Close() })
	}
	if _, page := env.Get(t, d.client, "/settings/agents"); strings.Count(page, `class="presence"`) != 2 {
		t.Error("Settings → Agents does not show Ada and Bob online (and Carol not)")
	}
	for i, n := range []string{"+15557000101", "+15557000102", "+15557000103", "+15557000104"} {
		d.customerWrites(t, n, "Hi")
		eventually(t, "the assignment", func() bool {
			return d.count(t, `SELECT count(*) FROM cases WHERE assignee_id IS NOT NULL`) == i+1
		})
	}
	if n := d.count(t, `SELECT count(*) FROM cases WHERE assignee_id = `+bob); n != 2 {
		t.Errorf("Bob has %d of the 4 chats, want 2", n)
	}
	if n := d.count(t, `SELECT count(*) FROM cases WHERE assignee_id = `+carol); n != 0 {
		t.Errorf("Carol, offline, has %d chats", n)
	}

	// Bob says he is away (top right): the next chats go to Ada.
	if status, _, _ := env.Post(t, bobs, "/me/away", url.Values{"away": {"true"}}); status != http.StatusSeeOther {
		t.Fatalf("away: %d", status)
	}
	if _, page := env.Get(t, bobs, "/chats"); !strings.Contains(page, ">Away</button>") {
		t.Error("Bob's pages do not say he is away")
	}
	if _, page := env.Get(t, d.client, "/settings/agents"); !strings.Contains(page, `class="presence away"`) {
		t.Error("Settings → Agents does not show Bob away")
	}
	for i, n := range []string{"+15557000105", "+15557000106"} {
		d.customerWrites(t, n, "Hi")
		eventually(t, "the assignment", func() bool {
			return d.count(t, `SELECT count(*) FROM cases WHERE assignee_id IS NOT NULL`) == 5+i
		})
	}
	if n := d.count(t, `SELECT count(*) FROM cases WHERE assignee_id = `+bob); n != 2 {
		t.Errorf("Bob, away, has %d chats, want the 2 he had", n)
	}
}
