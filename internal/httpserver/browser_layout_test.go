package httpserver_test

import (
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"parley/internal/app/apptest"
	"parley/internal/clock"
	"parley/internal/sandbox"
)

// TestBrowserConversationKeepsItsRoom, at 1280×800 on a 1msg chat: the
// macros panel opens over the conversation, not in its place; Transfer
// opens as a popover and moves no message; a template's service notes
// stay small; below 1000 px the client panel opens as a drawer with
// everything in it; outside the window the reply box and Send look
// disabled and reply buttons are not offered.
func TestBrowserConversationKeepsItsRoom(t *testing.T) {
	t.Parallel()
	clk := clock.NewFake(time.Now())
	d := demoOf(t, apptest.Start(t, apptest.Options{Sandbox: true, Clock: clk}))
	d.customerWrites1msg(t, sandbox.OneMsgInbound{From: "+15557000301", Body: "Hello from 1msg"})
	chat := d.chatOn(t, d.om.ID)
	agent := apptest.Browser(t)
	demoLogin(t, agent, d.env.URL)
	num := func(js string) float64 {
		t.Helper()
		v, err := chromedp.Run(agent, chromedp.Evaluate[float64](js))
		if err != nil {
			t.Fatalf("%s: %v", js, err)
		}
		return v
	}
	const msgsH = `document.getElementById("messages").getBoundingClientRect().height`
	const firstTop = `document.querySelector(".msg-in").getBoundingClientRect().top`

	apptest.Step(t, agent, "open the 1msg chat at 1280×800",
		chromedp.EmulateViewport(1280, 800),
		chromedp.Navigate(d.env.URL+"/chats/"+itoa(chat.ID)),
		chromedp.WaitVisible(chromedp.CSS("#reply-body")),
		chromedp.WaitVisible(chromedp.CSS(".reply-buttons")),
	)
	closed, top := num(msgsH), num(firstTop)
	apptest.Click(t, agent, "[data-macros-toggle]")
	apptest.Step(t, agent, "the macros panel is open", chromedp.WaitVisible(chromedp.CSS(".template-list")))
	if open := num(msgsH); open < closed-1 || open < 300 {
		t.Errorf("with the macros panel open the conversation has %.0f px (%.0f closed)", open, closed)
	}
	t.Logf("conversation: %.0f px, with the macros panel open %.0f px", closed, num(msgsH))
	apptest.Step(t, agent, "close the panel, open Transfer",
		chromedp.KeyEvent(kb.Escape),
		chromedp.WaitNotPresent(chromedp.CSS(".template-list")),
		chromedp.Click(chromedp.CSS(".transfer summary")),
		chromedp.WaitVisible(chromedp.CSS("#transfer-to")),
	)
	if now := num(firstTop); now != top {
		t.Errorf("opening Transfer moved the first message from %.0f to %.0f px", top, now)
	}
	apptest.Step(t, agent, "close Transfer", chromedp.Click(chromedp.CSS(".transfer summary")))

	apptest.Click(t, agent, "[data-macros-toggle]")
	apptest.Step(t, agent, "pick a template",
		chromedp.WaitVisible(chromedp.CSS(".template-list [data-template-pick]")),
	)
	apptest.Click(t, agent, ".template-list li:not([hidden]) [data-template-pick]")
	apptest.Step(t, agent, "the template is in the reply box", chromedp.WaitVisible(chromedp.CSS("#composer [data-template-block]")))
	notes := num(`Array.from(document.querySelectorAll("#composer .tpl-comment")).reduce(function(s,e){return s+e.getBoundingClientRect().height},0)`)
	block := num(`document.querySelector("#composer [data-template-block]").getBoundingClientRect().height`)
	t.Logf("template block %.0f px, its notes %.0f px; conversation %.0f px", block, notes, num(msgsH))
	if notes > 40 {
		t.Errorf("the template's two notes take %.0f px", notes)
	}
	if font, _ := chromedp.Run(agent, chromedp.Evaluate[string](`getComputedStyle(document.querySelector("#composer .tpl-comment")).fontFamily`)); font == "ui-monospace, monospace" {
		t.Errorf("the template's notes are in %s", font)
	}
	apptest.Click(t, agent, "[data-template-remove]")

	// Below 1000 px: the client panel is a drawer.
	const shown = `(function(){var e=document.getElementById("client-panel");var r=e.getBoundingClientRect();return getComputedStyle(e).visibility==="visible"&&r.width>0&&r.left<innerWidth&&r.right<=innerWidth+1})()`
	apptest.Step(t, agent, "at 900 px",
		chromedp.EmulateViewport(900, 800),
		chromedp.Reload(),
		chromedp.WaitVisible(chromedp.CSS("[data-drawer-toggle]")),
	)
	if v, _ := chromedp.Run(agent, chromedp.Evaluate[bool](shown)); v {
		t.Errorf("at 900 px the client panel shows before it is asked for")
	}
	apptest.Step(t, agent, "open the client drawer",
		chromedp.Click(chromedp.CSS("[data-drawer-toggle]")),
		waitJS(shown),
	)
	for _, css := range []string{"#client-panel .previous-cases", "#client-panel #note-body", "#client-panel .client-edit a", "#client-panel dl"} {
		if v, _ := chromedp.Run(agent, chromedp.Evaluate[bool](`(function(){var e=document.querySelector(`+jsString(css)+`);if(!e)return false;var r=e.getBoundingClientRect();return r.width>0&&r.left>=0&&r.right<=innerWidth+1})()`)); !v {
			t.Errorf("the drawer does not show %s", css)
		}
	}
	// The focus stays in the drawer: Tab from its last control goes to its
	// first, Shift+Tab back to its last.
	inDrawer := `document.getElementById("client-panel").contains(document.activeElement)`
	for i := 1; ; i++ {
		apptest.Step(t, agent, "Tab", chromedp.KeyEvent(kb.Tab))
		if !evalBool(t, agent, inDrawer) {
			t.Fatalf("after %d Tabs the focus left the open drawer", i)
		}
		if evalBool(t, agent, `document.activeElement.hasAttribute("data-drawer-close")`) {
			break // round to the first
		}
		if i == 100 {
			t.Fatal("100 Tabs did not go round the drawer")
		}
	}
	apptest.Step(t, agent, "Shift+Tab", chromedp.KeyEvent(kb.Tab, chromedp.KeyModifiers(chromedp.ModifierShift)))
	if !evalBool(t, agent, inDrawer+` && !document.activeElement.hasAttribute("data-drawer-close")`) {
		t.Error("Shift+Tab from the drawer's first control does not go round to its last")
	}
	apptest.Step(t, agent, "Escape closes it, back on its button",
		chromedp.KeyEvent(kb.Escape),
		waitJS(`!`+shown),
	)
	if v, _ := chromedp.Run(agent, chromedp.Evaluate[bool](`document.activeElement.hasAttribute("data-drawer-toggle")`)); !v {
		t.Errorf("after closing the drawer the focus is elsewhere")
	}

	// A client's page at 900 px: its edit form is there, under the history.
	apptest.Step(t, agent, "the client's page at 900 px",
		chromedp.Navigate(d.env.URL+"/clients/"+itoa(chat.ClientID)),
		chromedp.WaitVisible(chromedp.CSS("#main")),
	)
	for _, css := range []string{`.client-sidebar input[name="name"]`, ".client-sidebar button[type=submit]"} {
		if v, _ := chromedp.Run(agent, chromedp.Evaluate[bool](`(function(){var e=document.querySelector(`+jsString(css)+`);if(!e)return false;e.scrollIntoView();var r=e.getBoundingClientRect();return getComputedStyle(e).visibility==="visible"&&r.width>0&&r.left>=0&&r.right<=innerWidth+1&&r.top>=0&&r.bottom<=innerHeight})()`)); !v {
			t.Errorf("at 900 px the client's page does not show %s", css)
		}
	}

	ended := d.endedCase(t)
	apptest.Step(t, agent, "the case's page at 900 px",
		chromedp.Navigate(d.env.URL+"/cases/"+itoa(ended.ID)),
		chromedp.WaitVisible(chromedp.CSS("#main")),
	)
	if v, _ := chromedp.Run(agent, chromedp.Evaluate[bool](`(function(){var e=document.querySelector(".case-sidebar");if(!e)return false;e.scrollIntoView();var r=e.getBoundingClientRect();return getComputedStyle(e).visibility==="visible"&&r.width>0&&r.left>=0&&r.right<=innerWidth+1})()`)); !v {
		t.Errorf("at 900 px the case's page does not show its side panel")
	}

	// Outside the window: templates only, and it shows.
	clk.Advance(25 * time.Hour)
	apptest.Step(t, agent, "the window closes",
		chromedp.EmulateViewport(1280, 800),
		chromedp.Navigate(d.env.URL+"/chats/"+itoa(chat.ID)),
		chromedp.WaitVisible(chromedp.CSS("#reply-body[disabled]")),
	)
	style := func(css, prop string) string {
		v, err := chromedp.Run(agent, chromedp.Evaluate[string](`getComputedStyle(document.querySelector(`+jsString(css)+`)).`+prop))
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	if bg := style("#reply-body", "backgroundColor"); bg == "rgb(255, 255, 255)" {
		t.Errorf("the disabled reply box is white")
	}
	if bg := style("#composer [data-template-send]", "backgroundColor"); bg == "rgb(36, 86, 211)" {
		t.Errorf("the disabled Send button is blue")
	}
	if v := visibleTexts(t, agent, ".reply-buttons"); len(v) != 0 {
		t.Errorf("reply buttons are offered outside the window: %q", v)
	}
}
