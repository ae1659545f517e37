package httpserver_test

import (
	"bufio"
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

// TestTwoInstancesShareEventsAndSweeps runs two Parley replicas on one
// database: a browser stream on instance 2 hears of a webhook received by
// instance 1, and sweeps on both end each idle chat once.
func TestTwoInstancesShareEventsAndSweeps(t *testing.T) {
	t.Parallel()
	one := startDemo(t)
	two := apptest.Start(t, apptest.Options{Sandbox: true, DBURL: one.env.DBURL})
	c := two.Client()
	if status, _, _ := two.Post(t, c, "/login", url.Values{"email": {sandbox.DemoEmail}, "password": {sandbox.DemoPassword}}); status != http.StatusSeeOther {
		t.Fatal("login on instance 2")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, two.URL+"/events?list=1", nil) // the chats page's stream
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	lines := bufio.NewScanner(resp.Body)
	lines.Buffer(make([]byte, 1<<20), 1<<20)
	// The stream opens with the current state: no chats.
	for lines.Scan() && lines.Text() != "" {
	}
	one.customerWrites(t, "+15557654321", "Hello from instance one")
	heard := false
	for lines.Scan() {
		if strings.Contains(lines.Text(), "Hello from instance one") {
			heard = true
			break
		}
	}
	if !heard {
		t.Fatalf("instance 2's stream did not hear the webhook of instance 1: %v", lines.Err())
	}

	for i := range 5 {
		one.customerWrites(t, "+1555000000"+string(rune('0'+i)), "idle soon")
	}
	if err := one.env.App.DB.InTenant(context.Background(), one.admin.TenantID, func(tx pgxTx) error {
		_, err := tx.Exec(context.Background(), `UPDATE cases SET last_activity_at = now() - interval '1 hour'`)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	done := make(chan int, 2)
	for _, a := range []*conversation.Service{one.env.App.Conversations, two.App.Conversations} {
		go func() {
			n, err := a.EndIdleChats(context.Background())
			if err != nil {
				t.Error(err)
			}
			done <- n
		}()
	}
	if total := <-done + <-done; total != 6 {
		t.Fatalf("the two instances ended %d chats, want each of the 6 once", total)
	}
}

// TestBrowserIndicatorEndChatAllCases: the indicator counts a new chat
// live; the agent ends it; it leaves the chats page and shows in All cases
// with the status chosen.
func TestBrowserIndicatorEndChatAllCases(t *testing.T) {
	t.Parallel()
	d := startDemo(t)
	b := apptest.Browser(t)
	apptest.Step(t, b, "log in, open All cases",
		chromedp.Navigate(d.env.URL+"/login"),
		chromedp.SendKeys(chromedp.CSS("#f-email"), sandbox.DemoEmail),
		chromedp.SendKeys(chromedp.CSS("#f-password"), sandbox.DemoPassword),
		chromedp.Click(chromedp.CSS("button.primary")),
		chromedp.WaitVisible(chromedp.CSS("#chat-indicator")),
		chromedp.Navigate(d.env.URL+"/cases"),
		chromedp.WaitVisible(chromedp.CSS(".empty-list")),
	)
	d.customerWrites(t, "+15557654321", "Is anyone there?")
	apptest.Step(t, b, "the indicator turns green on the cases page without reload",
		chromedp.WaitVisible(chromedp.CSS("#chat-indicator.indicator-on")),
	)
	apptest.WaitText(t, b, "#chat-indicator .indicator-count", "1")
	title, err := chromedp.Run(b, chromedp.Title())
	if err != nil || !strings.HasPrefix(title, "(1) ") {
		t.Fatalf("tab title %q, want the count", title)
	}
	apptest.Step(t, b, "click the indicator, open the chat, end it as pending",
		chromedp.Click(chromedp.CSS("#chat-indicator")),
		chromedp.WaitVisible(chromedp.CSS(".chat-item")),
	)
	apptest.Click(t, b, ".chat-item")
	apptest.Step(t, b, "end it as pending",
		chromedp.WaitVisible(chromedp.CSS("#end-chat")),
		chromedp.SetValue(chromedp.CSS("#end-status"), "pending"),
		chromedp.Click(chromedp.CSS("#end-chat")),
		chromedp.WaitVisible(chromedp.CSS(".empty-list")),
	)
	apptest.Step(t, b, "the case is in All cases",
		chromedp.Click(chromedp.CSS(`nav a[href="/cases"]`)),
		chromedp.WaitVisible(chromedp.CSS(".cases-list")),
	)
	apptest.WaitText(t, b, ".cases-list tbody tr", "Casey Customer")
	apptest.WaitText(t, b, ".cases-list tbody tr", "pending")
	href, err := chromedp.Run(b, chromedp.Evaluate[string](`document.querySelector(".cases-list tbody tr a").href`))
	if err != nil {
		t.Fatal(err)
	}
	apptest.Step(t, b, "the case page shows who ended it",
		chromedp.Navigate(href),
		chromedp.WaitVisible(chromedp.CSS(".case-page")),
	)
	apptest.WaitText(t, b, ".message-list", "Chat ended by Dana Demo · status pending")
	apptest.Shot(t, b, "case")
}

// TestBrowserWindowClosesWithoutReload: the 24-hour window runs out while
// the agent has the chat open; the composer switches to templates only.
func TestBrowserWindowClosesWithoutReload(t *testing.T) {
	t.Parallel()
	clk := clock.NewFake(time.Now())
	env := apptest.Start(t, apptest.Options{Sandbox: true, Clock: clk})
	d := demoOf(t, env)
	// The idle sweep must not end the chat first: 24 h idle timeout.
	if err := env.App.Tenants.UpdateChatSettings(context.Background(), d.admin.TenantID, tenant.ChatSettings{IdleMinutes: 1440, EndStatus: "solved"}); err != nil {
		t.Fatal(err)
	}
	d.customerWrites(t, "+15557654321", "Hello")
	chat := d.liveChats(t)[0]
	clk.Advance(time.Hour)
	if status, _ := d.reply(t, chat.ID, "Hi! How can I help?", "k", nil, ""); status != http.StatusOK {
		t.Fatal(status)
	}
	b := apptest.Browser(t)
	apptest.Step(t, b, "open the chat",
		chromedp.Navigate(env.URL+"/login"),
		chromedp.SendKeys(chromedp.CSS("#f-email"), sandbox.DemoEmail),
		chromedp.SendKeys(chromedp.CSS("#f-password"), sandbox.DemoPassword),
		chromedp.Click(chromedp.CSS("button.primary")),
		chromedp.WaitVisible(chromedp.CSS("#chat-indicator")),
		chromedp.Navigate(env.URL+"/chats/"+itoa(chat.ID)),
		chromedp.WaitVisible(chromedp.CSS("#reply-body")),
	)
	if got := apptest.TextOf(t, b, "[data-composer-window]"); !strings.Contains(got, "23 h") {
		t.Fatalf("window shows %q, want about 23 h left", got)
	}
	apptest.Step(t, b, "the agent starts filling in a template",
		chromedp.Click(chromedp.CSS("[data-macros-toggle]")),
		chromedp.WaitVisible(chromedp.CSS(".template-list [data-template-pick]")),
		chromedp.SendKeys(chromedp.CSS("[data-macros-search]"), "order_shipped"),
		chromedp.Click(chromedp.CSS(".template-list li:not([hidden]) [data-template-pick]")),
		chromedp.SendKeys(chromedp.CSS(`#composer input[name="var_1"]`), "Casey"),
	)
	clk.Advance(23 * time.Hour)
	if _, err := env.App.Conversations.CloseWindows(context.Background()); err != nil {
		t.Fatal(err)
	}
	apptest.Step(t, b, "the composer switches to templates only",
		chromedp.WaitVisible(chromedp.CSS("p.window.window-closed")),
	)
	if got := apptest.TextOf(t, b, "p.window"); got != "The 24-hour window is closed — only an approved template can be sent" {
		t.Fatalf("composer says %q", got)
	}
	disabled, err := chromedp.Run(b, chromedp.Evaluate[bool](`document.getElementById("reply-body").disabled`))
	if err != nil || !disabled {
		t.Fatalf("the reply box is still enabled: %v", err)
	}
	// The template being filled in is carried into the new composer, and
	// it can still be sent.
	kept, err := chromedp.Run(b, chromedp.Value(chromedp.CSS(`#composer input[name="var_1"]`)))
	if err != nil || kept != "Casey" {
		t.Fatalf("the template in progress was lost when the window closed: %q %v", kept, err)
	}
	apptest.Step(t, b, "and sent after the window closed",
		chromedp.SendKeys(chromedp.CSS(`#composer input[name="var_2"]`), "A-1"),
		chromedp.SendKeys(chromedp.CSS(`#composer input[name="var_3"]`), "Monday"),
		chromedp.Click(chromedp.CSS("#composer [data-template-send]")),
		chromedp.WaitVisible(chromedp.CSS(".msg-template")),
	)
	// The server refuses free text too, with the same words and 409.
	status, body := d.reply(t, chat.ID, "free text", "k2", nil, "")
	if status != http.StatusConflict || !strings.Contains(body, "only an approved template can be sent") {
		t.Fatalf("free text after the window: %d", status)
	}
	apptest.Shot(t, b, "window-closed")
}
