package httpserver_test

import (
	"testing"

	"github.com/chromedp/chromedp"

	"parley/internal/app/apptest"
)

// TestBrowserOneMsgQuickReplyTemplate: a customer on the sandbox phone
// writes to the 1msg number; the agent answers with a quick-reply
// template; the phone shows its buttons, the customer taps one, and the
// agent sees the tap as the client's message.
func TestBrowserOneMsgQuickReplyTemplate(t *testing.T) {
	t.Parallel()
	d := startDemo(t)
	b := apptest.Browsers(t, 2)
	agent, phone := b[0], b[1]
	demoLogin(t, agent, d.env.URL)

	apptest.Step(t, phone, "customer writes through 1msg",
		chromedp.Navigate(d.env.URL+"/sandbox/phone"),
		chromedp.WaitVisible(chromedp.CSS("#phone-text")),
		chromedp.SetValue(chromedp.CSS("#phone-integration"), "1"),
		chromedp.SetValue(chromedp.CSS("#phone-from"), "+15557000009"),
		chromedp.SetValue(chromedp.CSS("#phone-name"), "Mo Customer"),
		chromedp.SendKeys(chromedp.CSS("#phone-text"), "Is my issue fixed?"),
		chromedp.Click(chromedp.CSS("#phone-send")),
		chromedp.WaitVisible(chromedp.CSS(`li.phone-msg[data-direction="inbound"]`)),
	)
	apptest.Step(t, agent, "the agent opens the chat and picks the quick-reply template",
		chromedp.WaitVisible(chromedp.CSS(".chat-item.unread")),
	)
	apptest.Click(t, agent, ".chat-item")
	apptest.Step(t, agent, "and the quick-reply template",
		chromedp.WaitVisible(chromedp.CSS("#reply-body")),
		chromedp.Click(chromedp.CSS("[data-macros-toggle]")),
		chromedp.WaitVisible(chromedp.CSS(".template-list [data-template-pick]")),
		chromedp.SendKeys(chromedp.CSS("[data-macros-search]"), "resolved"),
	)
	if got := visibleTexts(t, agent, ".template-list .panel-item .quick-reply"); len(got) != 3 || got[2] != "Talk to an agent" {
		t.Errorf("the panel shows the template's buttons %q", got)
	}
	apptest.Step(t, agent, "pick it",
		chromedp.Click(chromedp.CSS(".template-list li:not([hidden]) [data-template-pick]")),
		chromedp.WaitVisible(chromedp.CSS(`#composer input[name="var_1"]`)),
	)
	if got := visibleTexts(t, agent, "#composer .tpl-buttons .quick-reply"); len(got) != 3 || got[0] != "Yes" {
		t.Errorf("the template's buttons in the reply box: %q", got)
	}
	apptest.Step(t, agent, "fills it in and sends it",
		chromedp.SendKeys(chromedp.CSS(`#composer input[name="var_1"]`), "Mo"),
		chromedp.Click(chromedp.CSS("#composer [data-template-send]")),
		chromedp.WaitVisible(chromedp.CSS(`.msg-template[data-status="delivered"], .msg-template[data-status="read"]`)),
	)
	apptest.Step(t, phone, "the phone shows the buttons; the customer taps one",
		chromedp.WaitVisible(chromedp.CSS("button.phone-quick-reply")),
		chromedp.Click(chromedp.CSS("button.phone-quick-reply")),
		chromedp.WaitVisible(chromedp.CSS(`li.phone-msg[data-direction="inbound"]:nth-of-type(3)`)),
	)
	apptest.WaitText(t, agent, ".msg-in:last-of-type .msg-body", "Yes")
	apptest.Shot(t, agent, "onemsg-tap")
}
