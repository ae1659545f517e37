package httpserver_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"parley/internal/app/apptest"
	"parley/internal/clock"
	"parley/internal/conversation"
	"parley/internal/sandbox"
	"parley/internal/tenant"
)

// addAgent adds an agent who signs in with password to the demo tenant and
// to the Twilio integration's group.
func (d *demo) addAgent(t *testing.T, name, email, password string) tenant.Agent {
	t.Helper()
	ctx := context.Background()
	tid := d.admin.TenantID
	a, _, err := d.env.App.Tenants.CreateAgent(ctx, tid, tenant.NewAgentForm{Email: email, Name: name, Role: "agent", Password: password})
	if err != nil {
		t.Fatal(err)
	}
	g, err := d.env.App.Tenants.Group(ctx, tid, d.ig.DefaultGroupID)
	if err != nil {
		t.Fatal(err)
	}
	if err := d.env.App.Tenants.UpdateGroup(ctx, tid, g.ID, g.Name, append(g.MemberIDs, a.ID)); err != nil {
		t.Fatal(err)
	}
	return a
}

// endedCase has Casey write and the demo admin end the chat; it returns
// the case.
func (d *demo) endedCase(t *testing.T) conversation.Case {
	t.Helper()
	d.customerWrites(t, "+15557654321", "Where is my order?")
	chat := d.liveChats(t)[0]
	if err := d.env.App.Conversations.EndChat(context.Background(), d.admin.TenantID, chat.ID, "solved", "Dana Demo"); err != nil {
		t.Fatal(err)
	}
	return d.caseOf(t, chat.ID)
}

func (d *demo) caseOf(t *testing.T, id int64) conversation.Case {
	t.Helper()
	c, err := d.env.App.Conversations.Case(context.Background(), d.admin.TenantID, id)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func (d *demo) outgoing(t *testing.T, caseID int64) []conversation.Message {
	t.Helper()
	var out []conversation.Message
	for _, m := range d.messages(t, caseID) {
		if m.Direction == "out" {
			out = append(out, m)
		}
	}
	return out
}

func signIn(env *apptest.Env, email, password string) []chromedp.Action[chromedp.Void] {
	return []chromedp.Action[chromedp.Void]{
		chromedp.Navigate(env.URL + "/login"),
		chromedp.SendKeys(chromedp.CSS("#f-email"), email),
		chromedp.SendKeys(chromedp.CSS("#f-password"), password),
		chromedp.Click(chromedp.CSS("button.primary")),
		chromedp.WaitVisible(chromedp.CSS("#chat-indicator")),
	}
}

// TestBrowserReopenACaseFromAllCases: Dana ends a chat, opens it from All
// cases and replies; the case comes back as a live chat on Bob's chats
// page, in his own browser, and leaves it again when Dana ends it.
func TestBrowserReopenACaseFromAllCases(t *testing.T) {
	t.Parallel()
	d := startDemo(t)
	d.addAgent(t, "Bob Agent", "bob@demo.test", "bobs long password")
	d.customerWrites(t, "+15557654321", "Where is my order?")
	bs := apptest.Browsers(t, 2)
	dana, bob := bs[0], bs[1]
	apptest.Step(t, bob, "Bob signs in and watches the chats page",
		append(signIn(d.env, "bob@demo.test", "bobs long password"),
			chromedp.Navigate(d.env.URL+"/chats"),
			chromedp.WaitVisible(chromedp.CSS(".chat-item")))...,
	)
	apptest.Step(t, dana, "Dana signs in and opens the chat",
		append(signIn(d.env, sandbox.DemoEmail, sandbox.DemoPassword),
			chromedp.Navigate(d.env.URL+"/chats"),
			chromedp.WaitVisible(chromedp.CSS(".chat-item")))...,
	)
	apptest.Click(t, dana, ".chat-item")
	apptest.Step(t, dana, "Dana ends the chat",
		chromedp.WaitVisible(chromedp.CSS("#end-chat")),
		chromedp.Click(chromedp.CSS("#end-chat")),
		chromedp.WaitVisible(chromedp.CSS(".empty-list")),
	)
	apptest.Step(t, bob, "the chat leaves Bob's chats page",
		chromedp.WaitVisible(chromedp.CSS("#chat-list .empty-list")),
	)
	apptest.Step(t, dana, "Dana opens it from All cases",
		chromedp.Click(chromedp.CSS(`nav a[href="/cases"]`)),
		chromedp.WaitVisible(chromedp.CSS(".cases-list")),
	)
	apptest.Click(t, dana, ".cases-list tbody tr a")
	apptest.Step(t, dana, "the case page has a composer that says a reply reopens the case",
		chromedp.WaitVisible(chromedp.CSS(".case-page .composer-reopen")),
		chromedp.WaitVisible(chromedp.CSS(".case-page #reply-body")),
	)
	apptest.WaitText(t, dana, "#case-head", "solved")
	apptest.Shot(t, dana, "case-ended")
	// The client's name leads to the profile.
	if href := apptest.TextOf(t, dana, "#case-head h1 a"); href != "Casey Customer" {
		t.Fatalf("client link = %q", href)
	}
	apptest.Step(t, dana, "Dana replies from the case page",
		chromedp.SendKeys(chromedp.CSS("#reply-body"), "We found your parcel: it arrives tomorrow."),
		chromedp.Click(chromedp.CSS("#composer [data-template-send]")),
		chromedp.WaitVisible(chromedp.CSS(".chats #end-chat")),
	)
	apptest.WaitText(t, dana, ".message-list", "We found your parcel: it arrives tomorrow.")
	apptest.WaitText(t, dana, ".message-list", "Case reopened by Dana Demo with a reply · assigned to Dana Demo")
	apptest.Step(t, bob, "the case comes back to Bob's chats page as a live chat",
		chromedp.WaitVisible(chromedp.CSS("#chat-list .chat-item")),
	)
	apptest.WaitText(t, bob, "#chat-list .chat-item", "Casey Customer")
	apptest.Shot(t, bob, "case-back-on-chats")
	chat := d.liveChats(t)
	if len(chat) != 1 {
		t.Fatalf("live chats = %+v", chat)
	}
	if out := d.outgoing(t, chat[0].ID); len(out) != 1 || out[0].Body != "We found your parcel: it arrives tomorrow." {
		t.Fatalf("outgoing = %+v", out)
	}
	eventually(t, "the reply to reach Casey's phone", func() bool {
		for _, m := range d.sim.Sent(sandbox.DemoTwilioAccountSID) {
			if m.Params.Get("Body") == "We found your parcel: it arrives tomorrow." && m.Params.Get("To") == "whatsapp:+15557654321" {
				return true
			}
		}
		return false
	})
	apptest.Step(t, dana, "Dana ends it again",
		chromedp.SetValue(chromedp.CSS("#end-status"), "closed"),
		chromedp.Click(chromedp.CSS("#end-chat")),
		chromedp.WaitVisible(chromedp.CSS(".empty-list")),
	)
	apptest.Step(t, bob, "and it leaves Bob's chats page again",
		chromedp.WaitVisible(chromedp.CSS("#chat-list .empty-list")),
	)
	c := d.caseOf(t, chat[0].ID)
	if c.State != conversation.StateEnded || c.Status != "closed" || c.Number != chat[0].Number {
		t.Fatalf("case = %+v", c)
	}
}

// TestCasePageBadInput: another tenant's case is not found; a status not
// in the tenant's list and a tag of 200 characters are refused with words
// next to their field and change nothing; a double click on reply stores
// one message; a stale page's reply is refused and sends nothing.
func TestCasePageBadInput(t *testing.T) {
	t.Parallel()
	d := startDemo(t)
	c := d.endedCase(t)
	id := itoa(c.ID)

	rival := d.env.SignUp(t, "Rival", "eve@rival.test")
	for _, path := range []string{"/cases/" + id + "/status", "/cases/" + id + "/tags", "/cases/" + id + "/note", "/cases/" + id + "/assign"} {
		if status, _, _ := d.env.Post(t, rival, path, url.Values{"status": {"open"}, "tag": {"x"}, "note": {"x"}, "to": {"g1"}}); status != http.StatusNotFound {
			t.Errorf("another tenant's %s: %d", path, status)
		}
	}
	if status, _ := d.env.Get(t, rival, "/cases/"+id); status != http.StatusNotFound {
		t.Errorf("another tenant's case page: %d", status)
	}

	status, _, body := d.env.Post(t, d.client, "/cases/"+id+"/status", url.Values{"status": {"escalated"}})
	if status != http.StatusUnprocessableEntity || !strings.Contains(body, "is not one of this workspace") || !strings.Contains(body, "open, pending, solved, closed") {
		t.Fatalf("a status not in the list: %d %s", status, body)
	}
	long := strings.Repeat("x", 200)
	status, _, body = d.env.Post(t, d.client, "/cases/"+id+"/tags", url.Values{"tag": {long}})
	if status != http.StatusUnprocessableEntity || !strings.Contains(body, "A tag is at most 50 characters; this one has 200") || !strings.Contains(body, `value="`+long+`"`) {
		t.Fatalf("a tag of 200 characters: %d", status)
	}
	if got := d.caseOf(t, c.ID); got.Status != "solved" || len(got.Tags) != 0 {
		t.Fatalf("bad input changed the case: %+v", got)
	}

	// The tenant's own statuses: an admin adds one, and the case takes it.
	if status, loc, _ := d.env.Post(t, d.client, "/settings/statuses", url.Values{"statuses": {"open\npending\nwaiting on parts\nsolved\nclosed"}}); status != http.StatusSeeOther {
		t.Fatalf("statuses: %d %s", status, loc)
	}
	if status, _, _ := d.env.Post(t, d.client, "/cases/"+id+"/status", url.Values{"status": {"waiting on parts"}}); status != http.StatusSeeOther {
		t.Fatalf("set a tenant's status: %d", status)
	}
	if status, body := d.env.Get(t, d.client, "/cases/"+id); status != http.StatusOK || !strings.Contains(body, "Status set to waiting on parts by Dana Demo") {
		t.Fatalf("case page after the status: %d", status)
	}

	// A double click on reply from the case page: both posts answer by
	// taking the agent to the live chat; one message is stored and sent.
	for range 2 {
		status, body := d.composerPost(t, c.ID, url.Values{"body": {"Back to you"}, "key": {"dbl"}, "seen": {"ended"}}, nil, "")
		if status != http.StatusNoContent {
			t.Fatalf("reply from the case page: %d %s", status, body)
		}
	}
	if out := d.outgoing(t, c.ID); len(out) != 1 {
		t.Fatalf("a double click stored %d replies", len(out))
	}
	// A second page that still shows the case ended replies too: refused,
	// with the words, the reply kept in the box, nothing sent.
	status, body = d.composerPost(t, c.ID, url.Values{"body": {"Me too"}, "key": {"stale"}, "seen": {"ended"}}, nil, "")
	if status != http.StatusConflict || !strings.Contains(body, "reopened this case a moment ago") || !strings.Contains(body, "Me too") {
		t.Fatalf("a stale page's reply: %d %s", status, body)
	}
	if out := d.outgoing(t, c.ID); len(out) != 1 {
		t.Fatalf("a stale page's reply was stored: %d", len(out))
	}
}

// TestBrowserCasePageFollowsAnotherAgent: Bob has an ended case open;
// Dana sets its status, tags it, adds a note, gives it to Bob and then
// reopens it with a reply. Bob's page shows each change without reload,
// by difference (issue 21, finding 12: the messages already there are not
// replaced), and his composer then answers the live chat.
func TestBrowserCasePageFollowsAnotherAgent(t *testing.T) {
	t.Parallel()
	d := startDemo(t)
	bobAgent := d.addAgent(t, "Bob Agent", "bob@demo.test", "bobs long password")
	c := d.endedCase(t)
	id := itoa(c.ID)
	bob := apptest.Browser(t)
	apptest.Step(t, bob, "Bob opens the case",
		append(signIn(d.env, "bob@demo.test", "bobs long password"),
			chromedp.Navigate(d.env.URL+"/cases/"+id),
			chromedp.WaitVisible(chromedp.CSS(".case-page .composer-reopen")))...,
	)
	post := func(path string, form url.Values) {
		t.Helper()
		if status, _, body := d.env.Post(t, d.client, path, form); status != http.StatusSeeOther {
			t.Fatalf("POST %s: %d\n%s", path, status, body)
		}
	}
	waitUntil(t, bob, "the page's stream is up to date", `document.body.getAttribute("data-synced") === "1"`)
	if !evalBool(t, bob, `(function(){var m=document.querySelector("#messages .msg-in");if(!m)return false;m.setAttribute("data-mark","1");return true})()`) {
		t.Fatal("no client message to mark")
	}
	post("/cases/"+id+"/status", url.Values{"status": {"pending"}})
	apptest.WaitText(t, bob, "#case-status-pill", "pending")
	apptest.WaitText(t, bob, ".message-list", "Status set to pending by Dana Demo")
	if got, err := chromedp.Run(bob, chromedp.Value(chromedp.CSS("#case-status"))); err != nil || got != "pending" {
		t.Fatalf("Bob's status form shows %q (%v)", got, err)
	}
	post("/cases/"+id+"/tags", url.Values{"tag": {"Refund"}})
	apptest.WaitText(t, bob, "#case-head .case-tags", "refund")
	post("/cases/"+id+"/note", url.Values{"note": {"Customer called twice."}})
	apptest.WaitText(t, bob, ".message-list", "Customer called twice.")
	if !evalBool(t, bob, `document.querySelector("#messages .msg-in[data-mark]") !== null`) {
		t.Fatal("the conversation was drawn again: the marked message was replaced")
	}
	post("/cases/"+id+"/assign", url.Values{"to": {"g" + itoa(d.ig.DefaultGroupID) + "a" + itoa(bobAgent.ID)}})
	apptest.WaitText(t, bob, "#case-assignee", "Bob Agent")
	if got, err := chromedp.Run(bob, chromedp.Value(chromedp.CSS("#case-assign"))); err != nil || got != "g"+itoa(d.ig.DefaultGroupID)+"a"+itoa(bobAgent.ID) {
		t.Fatalf("Bob's assignee form shows %q (%v)", got, err)
	}
	apptest.Step(t, bob, "Bob takes the tag off from his page",
		chromedp.Click(chromedp.CSS(".tag-remove")),
		chromedp.WaitNotPresent(chromedp.CSS("#case-head .tag")),
	)
	apptest.WaitText(t, bob, ".message-list", "Tag refund removed by Bob Agent")

	// Dana reopens the case with a reply from her own case page.
	if status, body := d.composerPost(t, c.ID, url.Values{"body": {"Any news?"}, "key": {"dana"}, "seen": {"ended"}}, nil, ""); status != http.StatusNoContent {
		t.Fatalf("Dana's reply: %d %s", status, body)
	}
	apptest.WaitText(t, bob, "#case-head", "This case is a live chat again")
	apptest.WaitText(t, bob, ".message-list", "Any news?")
	apptest.Step(t, bob, "Bob's composer now answers the live chat",
		chromedp.WaitNotPresent(chromedp.CSS(".composer-reopen")),
		chromedp.SendKeys(chromedp.CSS("#reply-body"), "Bob here too."),
		chromedp.Click(chromedp.CSS("#composer [data-template-send]")),
	)
	apptest.WaitText(t, bob, ".message-list", "Bob here too.")
	apptest.Shot(t, bob, "case-followed")
	if out := d.outgoing(t, c.ID); len(out) != 2 || out[0].Body != "Any news?" || out[1].Body != "Bob here too." {
		t.Fatalf("outgoing = %+v", out)
	}
}

// TestBrowserTemplateFromACaseOutsideTheWindow: a day after the client
// last wrote, the case page offers only templates, from the macros panel as
// in chats; the template reopens the case as a live chat.
func TestBrowserTemplateFromACaseOutsideTheWindow(t *testing.T) {
	t.Parallel()
	clk := clock.NewFake(time.Now())
	env := apptest.Start(t, apptest.Options{Sandbox: true, Clock: clk})
	d := demoOf(t, env)
	c := d.endedCase(t)
	clk.Advance(25 * time.Hour)
	b := apptest.Browser(t)
	apptest.Step(t, b, "open the case a day later",
		append(signIn(env, sandbox.DemoEmail, sandbox.DemoPassword),
			chromedp.Navigate(env.URL+"/cases/"+itoa(c.ID)),
			chromedp.WaitVisible(chromedp.CSS(".case-page p.window.window-closed")))...,
	)
	if disabled, err := chromedp.Run(b, chromedp.Evaluate[bool](`document.getElementById("reply-body").disabled`)); err != nil || !disabled {
		t.Fatalf("free text is offered outside the window: %v", err)
	}
	apptest.Step(t, b, "pick a template from the macros panel and send it",
		chromedp.Click(chromedp.CSS("[data-macros-toggle]")),
		chromedp.WaitVisible(chromedp.CSS(".template-list [data-template-pick]")),
		chromedp.SendKeys(chromedp.CSS("[data-macros-search]"), "order_shipped"),
		chromedp.Click(chromedp.CSS(".template-list li:not([hidden]) [data-template-pick]")),
		chromedp.SendKeys(chromedp.CSS(`#composer input[name="var_1"]`), "Casey"),
		chromedp.SendKeys(chromedp.CSS(`#composer input[name="var_2"]`), "A-1"),
		chromedp.SendKeys(chromedp.CSS(`#composer input[name="var_3"]`), "Monday"),
		chromedp.Click(chromedp.CSS("#composer [data-template-send]")),
		chromedp.WaitVisible(chromedp.CSS(".chats .msg-template")),
	)
	apptest.WaitText(t, b, ".message-list", "Case reopened by Dana Demo with a reply")
	got := d.caseOf(t, c.ID)
	out := d.outgoing(t, c.ID)
	if got.State != conversation.StateLive || len(out) != 1 || out[0].Kind != "template" {
		t.Fatalf("case %s, outgoing %+v", got.State, out)
	}
}
