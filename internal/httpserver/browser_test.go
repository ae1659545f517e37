package httpserver_test

import (
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"parley/internal/app/apptest"
)

// TestBrowserSignUpAgentsAndSettingsAccess: a company signs up, logs out and
// back in, creates an agent, and that agent logs in and cannot open Settings.
func TestBrowserSignUpAgentsAndSettingsAccess(t *testing.T) {
	t.Parallel()
	env := apptest.Start(t, apptest.Options{})
	ctx := apptest.Browser(t)

	apptest.Step(t, ctx, "sign up",
		chromedp.Navigate(env.URL+"/signup"),
		chromedp.SendKeys(chromedp.CSS("#f-company"), "Acme Support"),
		chromedp.SendKeys(chromedp.CSS("#f-name"), "Ada Admin"),
		chromedp.SendKeys(chromedp.CSS("#f-email"), "ada@acme.test"),
		chromedp.SendKeys(chromedp.CSS("#f-password"), "long enough password"),
		chromedp.Click(chromedp.CSS("button.primary")),
		chromedp.WaitVisible(chromedp.CSS(`section.card p[role="status"]`)),
	)
	if got := apptest.TextOf(t, ctx, "main"); !strings.Contains(got, "Check your mail") {
		t.Fatalf("after signing up the page says %q", got)
	}
	apptest.Step(t, ctx, "confirm the email with the mail's link",
		chromedp.Navigate(env.URL+env.LinkIn(t, "ada@acme.test", 1, "/verify/")),
		chromedp.WaitVisible(chromedp.CSS("#chat-indicator")),
	)
	if got := apptest.TextOf(t, ctx, ".tenant-name"); got != "Acme Support" {
		t.Fatalf("top bar shows tenant %q", got)
	}

	apptest.Step(t, ctx, "log out",
		chromedp.Click(chromedp.CSS(`form[action="/logout"] button`)),
		chromedp.WaitVisible(chromedp.CSS(`form[action="/login"] #f-email`)),
	)
	apptest.Step(t, ctx, "log in with a wrong password",
		chromedp.SendKeys(chromedp.CSS("#f-email"), "ada@acme.test"),
		chromedp.SendKeys(chromedp.CSS("#f-password"), "not my password"),
		chromedp.Click(chromedp.CSS("button.primary")),
		chromedp.WaitVisible(chromedp.CSS(".form-error")),
	)
	if got := apptest.TextOf(t, ctx, ".form-error"); !strings.Contains(got, "email or password is wrong") {
		t.Fatalf("wrong password shows %q", got)
	}
	apptest.Step(t, ctx, "log in",
		chromedp.SendKeys(chromedp.CSS("#f-password"), "long enough password"),
		chromedp.Click(chromedp.CSS("button.primary")),
		chromedp.WaitVisible(chromedp.CSS("#chat-indicator")),
	)

	apptest.Step(t, ctx, "create an agent",
		chromedp.Click(chromedp.CSS(`nav a[href="/settings"]`)),
		chromedp.WaitVisible(chromedp.CSS("#f-name")),
		chromedp.SendKeys(chromedp.CSS("#f-name"), "Bob Agent"),
		chromedp.SendKeys(chromedp.CSS("#f-email"), "bob@acme.test"),
		chromedp.SendKeys(chromedp.CSS("#f-password"), "bobs password"),
		chromedp.Click(chromedp.CSS("form.card button.primary")),
		chromedp.WaitVisible(chromedp.CSS("table.list tbody tr:nth-child(2)")),
	)

	if got := apptest.TextOf(t, ctx, "table.list tbody tr:nth-child(2)"); !strings.Contains(got, "bob@acme.test") {
		t.Fatalf("agents list shows %q, want the new agent", got)
	}
	apptest.Step(t, ctx, "the agent logs in",
		chromedp.Click(chromedp.CSS(`form[action="/logout"] button`)),
		chromedp.WaitVisible(chromedp.CSS(`form[action="/login"] #f-email`)),
		chromedp.SendKeys(chromedp.CSS("#f-email"), "bob@acme.test"),
		chromedp.SendKeys(chromedp.CSS("#f-password"), "bobs password"),
		chromedp.Click(chromedp.CSS("button.primary")),
		chromedp.WaitVisible(chromedp.CSS("#chat-indicator")),
	)
	if nav := apptest.TextOf(t, ctx, "nav.nav"); strings.Contains(nav, "Settings") {
		t.Fatalf("an agent sees Settings in the navigation: %q", nav)
	}
	// At a phone's width nothing overflows sideways.
	for _, path := range []string{"/chats", "/cases"} {
		apptest.Step(t, ctx, "narrow "+path,
			chromedp.EmulateViewport(390, 844),
			chromedp.Navigate(env.URL+path),
			chromedp.WaitVisible(chromedp.CSS("#chat-indicator")),
		)
		width, err := chromedp.Run(ctx, chromedp.Evaluate[int](`document.documentElement.scrollWidth`))
		if err != nil || width > 390 {
			t.Errorf("%s at 390 px is %d px wide", path, width)
		}
		apptest.Shot(t, ctx, "narrow"+strings.ReplaceAll(path, "/", "-"))
	}
	apptest.Step(t, ctx, "back to desktop width", chromedp.EmulateViewport(1280, 900))
	apptest.Step(t, ctx, "the agent opens Settings by address",
		chromedp.Navigate(env.URL+"/settings/agents"),
		chromedp.WaitVisible(chromedp.CSS(".error-page")),
	)
	if got := apptest.TextOf(t, ctx, ".error-page"); !strings.Contains(got, "403") || !strings.Contains(got, "Admins only") {
		t.Fatalf("agent at Settings sees %q", got)
	}
}
