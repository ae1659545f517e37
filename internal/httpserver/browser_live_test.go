package httpserver_test

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"parley/internal/app/apptest"
	"parley/internal/sandbox"
)

// evalBool runs a JavaScript expression in the browser.
func evalBool(t *testing.T, b context.Context, js string) bool {
	t.Helper()
	v, err := chromedp.Run(b, chromedp.Evaluate[bool](js))
	if err != nil {
		t.Fatalf("%s: %v", js, err)
	}
	return v
}

// waitUntil is the step of waiting until a JavaScript condition holds.
func waitUntil(t *testing.T, b context.Context, what, js string) {
	t.Helper()
	apptest.Step(t, b, what, waitJS(js))
}

// Issue 21, findings 4 and 12: Bob has a chat open when Dana takes it in
// her own browser: Bob's header shows Dana and no longer offers Take. A
// new client message is appended to Bob's conversation, and the list's
// other rows and the messages already there are not replaced (a mark set
// on them survives).
func TestBrowserLiveTakeAndAppend(t *testing.T) {
	t.Parallel()
	d := startDemo(t)
	d.addAgent(t, "Bob Agent", "bob@demo.test", "bobs long password")
	d.customerWrites(t, "+15557654321", "First question")
	d.customerWrites(t, "+15557650000", "Another client")
	var chatID int64
	for _, c := range d.liveChats(t) {
		if c.ClientWhatsApp != nil && *c.ClientWhatsApp == "+15557654321" {
			chatID = c.ID
		}
	}
	id := itoa(chatID)
	bob := apptest.Browser(t)
	apptest.Step(t, bob, "Bob opens the chat",
		append(signIn(d.env, "bob@demo.test", "bobs long password"),
			chromedp.Navigate(d.env.URL+"/chats/"+id),
			chromedp.WaitVisible(chromedp.CSS("#conv-who #take-chat")))...,
	)
	apptest.WaitText(t, bob, "#conv-who", "Unassigned")
	waitUntil(t, bob, "the page's stream is up to date", `document.body.getAttribute("data-synced") !== null`)
	// Marks on what is on the page now.
	if !evalBool(t, bob, `(function(){var m=document.querySelector("#messages .msg-in");var r=document.querySelector("#chat-list .chat-row:not(#row-`+id+`)");if(!m||!r)return false;m.setAttribute("data-mark","1");r.setAttribute("data-mark","1");return true})()`) {
		t.Fatal("no message or other row to mark")
	}
	if status, _, body := d.env.Post(t, d.client, "/chats/"+id+"/take", url.Values{}); status != http.StatusSeeOther {
		t.Fatalf("Dana takes: %d %s", status, body)
	}
	apptest.WaitText(t, bob, "#conv-who", "Assigned to Dana Demo")
	apptest.Step(t, bob, "Take is gone", chromedp.WaitNotPresent(chromedp.CSS("#take-chat")))
	apptest.WaitText(t, bob, "#row-"+id, "Dana Demo")

	d.customerWrites(t, "+15557654321", "Second question")
	apptest.WaitText(t, bob, "#messages .message-list", "Second question")
	if !evalBool(t, bob, `document.querySelector("#messages .msg-in[data-mark]") !== null && document.querySelectorAll("#messages .msg-in").length === 2`) {
		t.Fatal("the conversation was re-rendered: the marked message was replaced, or the new message is not one more element")
	}
	if !evalBool(t, bob, `document.querySelector("#chat-list .chat-row[data-mark]") !== null`) {
		t.Fatal("the chat list was re-rendered: the other chat's row lost its mark")
	}
	apptest.WaitText(t, bob, "#row-"+id+" .chat-preview", "Second question")

	// An assignment by replying: Bob answers the other (unassigned) chat
	// from his page; its header shows him, without Take.
	var other int64
	for _, c := range d.liveChats(t) {
		if c.ID != chatID {
			other = c.ID
		}
	}
	apptest.Step(t, bob, "Bob opens the other chat and answers",
		chromedp.Navigate(d.env.URL+"/chats/"+itoa(other)),
		chromedp.WaitVisible(chromedp.CSS("#conv-who #take-chat")),
		chromedp.SendKeys(chromedp.CSS("#reply-body"), "Hello from Bob"),
		chromedp.Click(chromedp.CSS("#composer [data-template-send]")),
	)
	apptest.WaitText(t, bob, "#conv-who", "Assigned to Bob Agent")
	apptest.Step(t, bob, "no Take on his own chat", chromedp.WaitNotPresent(chromedp.CSS("#take-chat")))
	apptest.WaitText(t, bob, "#row-"+itoa(other)+" .chat-preview", "You:")
	apptest.WaitText(t, bob, "#row-"+itoa(other)+" .chat-meta", "answered")
}

// Issue 21, finding 2: Dana opening a chat reads it for her only; Bob's
// list still shows it unread and his indicator counts it.
func TestBrowserUnreadIsPerAgent(t *testing.T) {
	t.Parallel()
	d := startDemo(t)
	d.addAgent(t, "Bob Agent", "bob@demo.test", "bobs long password")
	d.customerWrites(t, "+15557654321", "Hello?")
	chat := d.liveChats(t)[0]
	bob := apptest.Browser(t)
	apptest.Step(t, bob, "Bob has the chats page open",
		append(signIn(d.env, "bob@demo.test", "bobs long password"),
			chromedp.Navigate(d.env.URL+"/chats"),
			chromedp.WaitVisible(chromedp.CSS("#row-"+itoa(chat.ID)+" .badge")))...,
	)
	// Dana opens the chat (she reads it).
	if status, _ := d.env.Get(t, d.client, "/chats/"+itoa(chat.ID)); status != http.StatusOK {
		t.Fatalf("Dana opens the chat: %d", status)
	}
	if n, err := d.env.App.Conversations.WaitingCount(context.Background(), d.admin.TenantID, d.admin.ID); err != nil || n != 0 {
		t.Fatalf("Dana's indicator: %d %v, want 0", n, err)
	}
	d.customerWrites(t, "+15557654321", "Anyone?")
	apptest.WaitText(t, bob, "#row-"+itoa(chat.ID)+" .badge", "2")
	apptest.WaitText(t, bob, "#chat-indicator .indicator-count", "1")
	apptest.Step(t, bob, "reload: still unread for Bob",
		chromedp.Reload(),
		chromedp.WaitVisible(chromedp.CSS("#row-"+itoa(chat.ID)+" .badge")),
	)
	apptest.WaitText(t, bob, "#chat-indicator .indicator-count", "1")
	if n, err := d.env.App.Conversations.WaitingCount(context.Background(), d.admin.TenantID, d.admin.ID); err != nil || n != 1 {
		t.Fatalf("Dana's indicator after the client's new message: %d %v, want 1 (a new chat)", n, err)
	}
}

// Issue 21, finding 8: tabs with counts, search, the business number on
// each row, at least ten rows at 1280×800.
func TestBrowserListTabsSearchAndDensity(t *testing.T) {
	t.Parallel()
	d := startDemo(t)
	for i := range 12 {
		d.customerWrites(t, fmt.Sprintf("+1555765%04d", i), fmt.Sprintf("Question %d", i))
	}
	chats := d.liveChats(t)
	if status, _, body := d.env.Post(t, d.client, "/chats/"+itoa(chats[0].ID)+"/take", url.Values{}); status != http.StatusSeeOther {
		t.Fatalf("take: %d %s", status, body)
	}
	b := apptest.Browser(t)
	apptest.Step(t, b, "Dana opens the chats page at 1280×800",
		append([]chromedp.Action[chromedp.Void]{chromedp.EmulateViewport(1280, 800)},
			append(signIn(d.env, sandbox.DemoEmail, sandbox.DemoPassword), chromedp.Navigate(d.env.URL+"/chats"),
				chromedp.WaitVisible(chromedp.CSS(".chat-row")))...)...,
	)
	apptest.WaitText(t, b, `[data-count-of="mine"]`, "1")
	apptest.WaitText(t, b, `[data-count-of="unassigned"]`, "11")
	apptest.WaitText(t, b, `[data-count-of="all"]`, "12")
	if got := apptest.TextOf(t, b, "#row-"+itoa(chats[1].ID)+" .chat-channel"); !strings.Contains(got, d.ig.Sender) {
		t.Fatalf("the row names its business number as %q, want %s", got, d.ig.Sender)
	}
	if !evalBool(t, b, `Array.from(document.querySelectorAll(".chat-row")).filter(function(r){var x=r.getBoundingClientRect();return x.bottom<=window.innerHeight}).length >= 10`) {
		apptest.Shot(t, b, "list-density")
		t.Fatal("fewer than 10 rows fit at 1280×800")
	}
	apptest.Click(t, b, `.list-tab[data-tab="mine"]`)
	waitUntil(t, b, "Mine shows Dana's chat alone", `document.querySelectorAll(".chat-row:not([hidden])").length === 1 && !document.querySelector("#row-`+itoa(chats[0].ID)+`").hidden`)
	apptest.Click(t, b, `.list-tab[data-tab="all"]`)
	apptest.Step(t, b, "search", chromedp.SendKeys(chromedp.CSS("#chat-search"), "Question 7"))
	waitUntil(t, b, "the search keeps the one chat", `document.querySelectorAll(".chat-row:not([hidden])").length === 1`)
}

// Issue 21, deliver 5: a conversation of 60 messages shows the last 50;
// scrolling up loads the rest.
func TestBrowserOlderMessagesOnScroll(t *testing.T) {
	t.Parallel()
	d := startDemo(t)
	for i := range 60 {
		d.customerWrites(t, "+15557654321", fmt.Sprintf("Line %02d", i))
	}
	chat := d.liveChats(t)[0]
	if n := len(d.messages(t, chat.ID)); n != 61 {
		t.Fatalf("%d entries, want 60 messages and the chat's start", n)
	}
	b := apptest.Browser(t)
	apptest.Step(t, b, "open the chat",
		append(signIn(d.env, sandbox.DemoEmail, sandbox.DemoPassword),
			chromedp.Navigate(d.env.URL+"/chats/"+itoa(chat.ID)),
			chromedp.WaitVisible(chromedp.CSS("#messages .message-list")))...,
	)
	if !evalBool(t, b, `document.querySelectorAll("#messages .message-list > li").length === 50`) {
		t.Fatal("the conversation does not show its last 50 entries")
	}
	apptest.Step(t, b, "scroll to the top", chromedp.Evaluate[chromedp.Void](`document.getElementById("messages").scrollTop = 0`))
	waitUntil(t, b, "the older entries load", `document.querySelectorAll("#messages .message-list > li").length === 61`)
	if !evalBool(t, b, `document.querySelector("#messages .message-list > li:nth-child(2)").textContent.indexOf("Line 00") >= 0`) {
		t.Fatal("the oldest message is not at the top")
	}
}

// Issue 21, deliver 2: an agent who turned on desktop notifications and
// the sound on their own alerts page is alerted when a client writes in a
// chat of theirs, but not for the chat they are looking at; an agent who
// did not is not.
func TestBrowserAlertsArePerAgentAndSilentForTheOpenChat(t *testing.T) {
	t.Parallel()
	d := startDemo(t)
	d.addAgent(t, "Bob Agent", "bob@demo.test", "bobs long password")
	d.customerWrites(t, "+15557654321", "Open chat")
	d.customerWrites(t, "+15557650000", "Other chat")
	var open int64
	for _, c := range d.liveChats(t) {
		if *c.ClientWhatsApp == "+15557654321" {
			open = c.ID
		}
	}
	dana, bob := func() (context.Context, context.Context) { bs := apptest.Browsers(t, 2); return bs[0], bs[1] }()
	// The browser's notification and sound, recorded.
	record := chromedp.Evaluate[chromedp.Void](`window.__alerts=[];window.Notification=function(title,o){window.__alerts.push("notify "+title+" "+o.body)};window.Notification.permission="granted";window.AudioContext=function(){window.__alerts.push("sound");return {createOscillator:function(){return {frequency:{},connect:function(){},start:function(){},stop:function(){}}},createGain:function(){return {gain:{},connect:function(){}}},currentTime:0,destination:{}}}`)
	apptest.Step(t, dana, "Dana turns on her alerts and opens a chat",
		append(signIn(d.env, sandbox.DemoEmail, sandbox.DemoPassword),
			chromedp.Navigate(d.env.URL+"/me/alerts"),
			chromedp.Click(chromedp.CSS(`input[name=desktop]`)),
			chromedp.Click(chromedp.CSS(`input[name=sound]`)),
			chromedp.Click(chromedp.CSS(`form.card button[type=submit]`)),
			chromedp.WaitVisible(chromedp.CSS(`.form-ok`)),
			chromedp.Navigate(d.env.URL+"/chats/"+itoa(open)),
			chromedp.WaitVisible(chromedp.CSS("#conv-who")),
			record)...,
	)
	apptest.Step(t, bob, "Bob (alerts off) opens the chats page",
		append(signIn(d.env, "bob@demo.test", "bobs long password"),
			chromedp.Navigate(d.env.URL+"/chats"),
			chromedp.WaitVisible(chromedp.CSS(".chat-row")),
			record)...,
	)
	if got := apptest.TextOf(t, dana, "body"); got == "" {
		t.Fatal("empty page")
	}
	if !evalBool(t, dana, `document.body.getAttribute("data-alert-desktop") === "1" && document.body.getAttribute("data-alert-sound") === "1"`) {
		t.Fatal("Dana's alerts are not on")
	}
	d.customerWrites(t, "+15557654321", "In the open chat")
	apptest.WaitText(t, dana, "#messages .message-list", "In the open chat")
	d.customerWrites(t, "+15557650000", "Other chat again")
	waitUntil(t, dana, "Dana is alerted for the other chat", `window.__alerts.indexOf("notify Casey Customer Other chat again") >= 0 && window.__alerts.indexOf("sound") >= 0`)
	if evalBool(t, dana, `window.__alerts.some(function(a){return a.indexOf("In the open chat") >= 0})`) {
		t.Fatal("Dana was alerted for the chat she is looking at")
	}
	apptest.WaitText(t, bob, ".chat-list", "Other chat again")
	if evalBool(t, bob, `window.__alerts.length > 0`) {
		t.Fatal("Bob, whose alerts are off, was alerted")
	}
}

// Issue 21, deliver 5: a browser whose event stream was cut catches up
// when it reconnects. Bob has a chat open; while his stream is down, its
// client writes again and a new client writes. Once the browser
// reconnects, his conversation shows the new message once, and his list
// the new chat, without a reload.
func TestBrowserReconnectCatchesUp(t *testing.T) {
	t.Parallel()
	d := startDemo(t)
	d.addAgent(t, "Bob Agent", "bob@demo.test", "bobs long password")
	d.customerWrites(t, "+15557654321", "Before the outage")
	chat := d.liveChats(t)[0]
	bob := apptest.Browser(t)
	apptest.Step(t, bob, "Bob opens the chat",
		append(signIn(d.env, "bob@demo.test", "bobs long password"),
			chromedp.Navigate(d.env.URL+"/chats/"+itoa(chat.ID)),
			chromedp.WaitVisible(chromedp.CSS("#messages .message-list")))...,
	)
	waitUntil(t, bob, "the page's stream is up to date", `document.body.getAttribute("data-synced") === "1"`)
	d.env.CutStreams(func() {
		d.customerWrites(t, "+15557654321", "During the outage")
		d.customerWrites(t, "+15557650000", "A new client")
		if evalBool(t, bob, `document.body.textContent.indexOf("During the outage") >= 0`) {
			t.Fatal("the message reached the page while its stream was cut")
		}
	})
	waitUntil(t, bob, "the browser reconnects and catches up", `document.body.getAttribute("data-synced") === "2"`)
	apptest.WaitText(t, bob, "#messages .message-list", "During the outage")
	if !evalBool(t, bob, `Array.from(document.querySelectorAll("#messages .msg-in")).filter(function(m){return m.textContent.indexOf("During the outage")>=0}).length === 1`) {
		t.Fatal("the message caught up is not shown exactly once")
	}
	apptest.WaitText(t, bob, "#chat-list", "A new client")
	apptest.WaitText(t, bob, "#row-"+itoa(chat.ID)+" .chat-preview", "During the outage")
}
