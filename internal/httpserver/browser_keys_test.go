package httpserver_test

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"parley/internal/app/apptest"
	"parley/internal/sandbox"
)

// TestBrowserKeyboardNeverSendsByAccident: Enter in the macros search
// sends nothing (the half-written draft stays in the box); the draft
// survives a reload and switching chats (Alt+↓ / Alt+↑); Shift+Enter
// breaks the line and Enter sends; the agent's setting swaps them.
func TestBrowserKeyboardNeverSendsByAccident(t *testing.T) {
	t.Parallel()
	d := startDemo(t)
	d.customerWrites(t, "+15557000101", "First chat")
	d.customerWrites(t, "+15557000102", "Second chat")
	chats := d.liveChats(t)
	if len(chats) != 2 {
		t.Fatalf("%d chats", len(chats))
	}
	agent := apptest.Browser(t)
	demoLogin(t, agent, d.env.URL)
	sent := func() int { return len(d.sim.Sent(sandbox.DemoTwilioAccountSID)) }
	value := func(css string) string {
		t.Helper()
		v, err := chromedp.Run(agent, chromedp.Evaluate[string](fmt.Sprintf(`(function(){var e=document.querySelector(%q);return e?e.value:"<none>"})()`, css)))
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	// The list's first chat, then its second.
	order, err := chromedp.Run(agent, chromedp.Evaluate[[]string](`Array.from(document.querySelectorAll(".chat-list .chat-item")).map(function(a){return a.id})`))
	if err != nil || len(order) != 2 {
		t.Fatalf("the list: %q %v", order, err)
	}
	first := "/chats/" + strings.TrimPrefix(order[0], "chat-")
	apptest.Step(t, agent, "open the first chat and start a reply",
		chromedp.Navigate(d.env.URL+first),
		chromedp.WaitVisible(chromedp.CSS("#reply-body")),
		chromedp.SendKeys(chromedp.CSS("#reply-body"), "Half-written, do not send"),
	)
	apptest.Click(t, agent, "[data-macros-toggle]")
	apptest.Step(t, agent, "search the macros and press Enter",
		chromedp.WaitVisible(chromedp.CSS("[data-macros-search]")),
		chromedp.SendKeys(chromedp.CSS("[data-macros-search]"), "no such macro"+kb.Enter),
	)
	// A form the Enter submitted would be on its way now (htmx marks it
	// until it is answered): wait for the page to be idle.
	apptest.Step(t, agent, "no request under way",
		waitJS(`!document.querySelector(".htmx-request")`),
	)
	if n := sent(); n != 0 {
		t.Fatalf("Enter in the macros search sent %d messages", n)
	}
	if got := value("#reply-body"); got != "Half-written, do not send" {
		t.Fatalf("the reply box holds %q after Enter in the search", got)
	}
	if n := d.count(t, `SELECT count(*) FROM messages WHERE direction = 'out'`); n != 0 {
		t.Fatalf("%d replies stored", n)
	}
	apptest.Step(t, agent, "Escape closes the panel and goes back to the reply box",
		chromedp.KeyEvent(kb.Escape),
		chromedp.WaitNotPresent(chromedp.CSS("[data-macros-search]")),
	)
	if id, _ := chromedp.Run(agent, chromedp.Evaluate[string](`document.activeElement.id`)); id != "reply-body" {
		t.Errorf("after Escape the focus is on %q", id)
	}

	apptest.Step(t, agent, "reload: the draft is still there",
		chromedp.Reload(),
		chromedp.WaitVisible(chromedp.CSS("#reply-body")),
	)
	if got := value("#reply-body"); got != "Half-written, do not send" {
		t.Fatalf("after a reload the reply box holds %q", got)
	}
	// Alt+↓ / Alt+↑ open the next / previous chat of the list, with its
	// own (empty) reply box; the other key comes back to the draft.
	order, err = chromedp.Run(agent, chromedp.Evaluate[[]string](`Array.from(document.querySelectorAll(".chat-list .chat-item")).map(function(a){return a.id})`))
	if err != nil || len(order) != 2 {
		t.Fatalf("the list: %q %v", order, err)
	}
	here := "chat-" + strings.TrimPrefix(first, "/chats/")
	away, back, other := kb.ArrowDown, kb.ArrowUp, order[1]
	if order[1] == here {
		away, back, other = kb.ArrowUp, kb.ArrowDown, order[0]
	}
	apptest.Step(t, agent, "Alt+arrow: the other chat",
		chromedp.Focus(chromedp.CSS("#reply-body")),
		chromedp.KeyEvent(away, chromedp.KeyModifiers(chromedp.ModifierAlt)),
		chromedp.WaitVisible(chromedp.CSS("#"+other+".current")),
		chromedp.WaitVisible(chromedp.CSS("#reply-body")),
	)
	if got := value("#reply-body"); got != "" {
		t.Fatalf("the other chat's reply box holds %q", got)
	}
	// The list may have moved (the chat just read): back is where it is now.
	order, _ = chromedp.Run(agent, chromedp.Evaluate[[]string](`Array.from(document.querySelectorAll(".chat-list .chat-item")).map(function(a){return a.id})`))
	back = kb.ArrowDown
	if len(order) == 2 && order[0] == here {
		back = kb.ArrowUp
	}
	apptest.Step(t, agent, "Alt+arrow back: the first chat",
		chromedp.KeyEvent(back, chromedp.KeyModifiers(chromedp.ModifierAlt)),
		chromedp.WaitVisible(chromedp.CSS("#"+here+".current")),
		chromedp.WaitVisible(chromedp.CSS("#reply-body")),
	)
	if got := value("#reply-body"); got != "Half-written, do not send" {
		t.Fatalf("back in the first chat the reply box holds %q", got)
	}

	// Shift+Enter breaks the line; Enter sends.
	apptest.Step(t, agent, "Shift+Enter, then Enter",
		jsDo(`var b=document.getElementById("reply-body");b.value="";b.focus()`),
		chromedp.SendKeys(chromedp.CSS("#reply-body"), "Line one"),
		chromedp.KeyEvent(kb.Enter, chromedp.KeyModifiers(chromedp.ModifierShift)),
		chromedp.SendKeys(chromedp.CSS("#reply-body"), "Line two"),
	)
	if got := value("#reply-body"); got != "Line one\nLine two" {
		t.Fatalf("after Shift+Enter the reply box holds %q", got)
	}
	if n := sent(); n != 0 {
		t.Fatalf("Shift+Enter sent %d messages", n)
	}
	apptest.Step(t, agent, "Enter sends",
		chromedp.KeyEvent(kb.Enter),
		chromedp.WaitVisible(chromedp.CSS(".msg-out")),
	)
	eventually(t, "the reply to reach Twilio", func() bool { return sent() == 1 })
	// (A form sends line breaks as CRLF.)
	if got := strings.ReplaceAll(d.sim.Sent(sandbox.DemoTwilioAccountSID)[0].Params.Get("Body"), "\r\n", "\n"); got != "Line one\nLine two" {
		t.Errorf("Twilio got %q", got)
	}
	// The composer comes back empty with the server's answer.
	apptest.Step(t, agent, "the reply box is emptied", waitJS(`document.getElementById("reply-body").value === "" && !document.querySelector(".htmx-request")`))
	// The sent draft is forgotten: a reload shows an empty box.
	apptest.Step(t, agent, "reload after sending",
		chromedp.Reload(),
		chromedp.WaitVisible(chromedp.CSS("#reply-body")),
	)
	if got := value("#reply-body"); got != "" {
		t.Errorf("after sending and a reload the reply box holds %q", got)
	}

	// "/" at the start of the reply opens the macros; ↓ and Enter pick
	// one; Ctrl+K opens them too, Escape closes them.
	if status, _, body := d.env.Post(t, d.client, "/settings/macros", url.Values{"title": {"Zebra greeting"}, "body": {"Hello from the zebra macro"}}); status != http.StatusSeeOther {
		t.Fatalf("add a macro: %d %.300s", status, body)
	}
	apptest.Step(t, agent, "/ opens the macros",
		chromedp.Focus(chromedp.CSS("#reply-body")),
		chromedp.KeyEvent("/"),
		chromedp.WaitVisible(chromedp.CSS("[data-macros-search]")),
		waitJS(`document.activeElement.matches("[data-macros-search]")`),
		chromedp.KeyEvent("zebra"),
		waitJS(`!!document.querySelector(".macros-panel li:not([hidden]) [data-macro-body]")`),
		chromedp.KeyEvent(kb.ArrowDown),
		waitJS(`document.activeElement.matches("[data-macro-body]")`),
		chromedp.KeyEvent(kb.Enter),
		chromedp.WaitNotPresent(chromedp.CSS("[data-macros-search]")),
	)
	if got := value("#reply-body"); got != "Hello from the zebra macro" {
		t.Fatalf("after / ↓ Enter the reply box holds %q", got)
	}
	if n := sent(); n != 1 {
		t.Fatalf("picking a macro sent something: %d sent", n)
	}
	apptest.Step(t, agent, "Ctrl+K opens them, Escape closes them",
		chromedp.KeyEvent("k", chromedp.KeyModifiers(chromedp.ModifierCtrl)),
		chromedp.WaitVisible(chromedp.CSS("[data-macros-search]")),
		chromedp.KeyEvent(kb.Escape),
		chromedp.WaitNotPresent(chromedp.CSS("[data-macros-search]")),
		waitJS(`document.activeElement.id === "reply-body"`),
		jsDo(`document.getElementById("reply-body").value = ""`),
	)

	// "?" lists the keys; the agent swaps Enter and Shift+Enter there.
	apptest.Step(t, agent, "? opens the keys; the agent makes Enter break lines",
		jsDo(`document.activeElement.blur()`),
		chromedp.KeyEvent("?"),
		chromedp.WaitVisible(chromedp.CSS("#keys-help")),
		chromedp.Click(chromedp.CSS(`#keys-help input[value="newline"]`)),
		chromedp.Click(chromedp.CSS(`#keys-help button[type="submit"]`)),
		chromedp.WaitVisible(chromedp.CSS(`body[data-enter="newline"] #reply-body`)),
		chromedp.SendKeys(chromedp.CSS("#reply-body"), "A"+kb.Enter+"B"),
	)
	if got := value("#reply-body"); got != "A\nB" || sent() != 1 {
		t.Fatalf("with Enter breaking lines: box %q, %d sent", got, sent())
	}
	apptest.Step(t, agent, "Shift+Enter sends",
		chromedp.KeyEvent(kb.Enter, chromedp.KeyModifiers(chromedp.ModifierShift)),
	)
	eventually(t, "the second reply to reach Twilio", func() bool { return sent() == 2 })

	// Logging out forgets the drafts kept in this browser.
	apptest.Step(t, agent, "a draft, then log out",
		waitJS(`document.getElementById("reply-body").value === "" && !document.querySelector(".htmx-request")`),
		chromedp.SendKeys(chromedp.CSS("#reply-body"), "Left behind"),
		waitJS(`Object.keys(localStorage).some(function(k){return k.indexOf("parley:draft:")===0})`),
		chromedp.Click(chromedp.CSS(`form[action="/logout"] button`)),
		chromedp.WaitVisible(chromedp.CSS(`form[action="/login"]`)),
	)
	if n, _ := chromedp.Run(agent, chromedp.Evaluate[int](`Object.keys(localStorage).filter(function(k){return k.indexOf("parley:draft:")===0}).length`)); n != 0 {
		t.Errorf("after logging out %d drafts are kept", n)
	}
}

// jsDo runs statements in the page as a step.
func jsDo(stmts string) chromedp.Action[chromedp.Void] {
	return chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		_, err := chromedp.Evaluate[bool]("(function(){"+stmts+";return true})()")(ctx, t)
		return err
	})
}

// waitJS waits until a JavaScript condition holds in the page.
func waitJS(cond string) chromedp.Action[chromedp.Void] {
	return chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		_, err := chromedp.Poll[bool](cond)(ctx, t)
		return err
	})
}
