package httpserver_test

import (
	"testing"

	"github.com/chromedp/chromedp"

	"parley/internal/app/apptest"
	"parley/internal/sandbox"
)

// TestBrowserCustomerWritesAgentRepliesPhoneShowsDelivered: a customer
// writes on the sandbox phone; the agent sees the chat appear (without a
// reload), opens it and replies; the phone shows the reply and the agent
// sees it delivered.
func TestBrowserCustomerWritesAgentRepliesPhoneShowsDelivered(t *testing.T) {
	t.Parallel()
	d := startDemo(t)
	b := apptest.Browsers(t, 2)
	agent, phone := b[0], b[1]
	apptest.Step(t, agent, "agent logs in and waits on the chats page",
		chromedp.Navigate(d.env.URL+"/login"),
		chromedp.SendKeys(chromedp.CSS("#f-email"), sandbox.DemoEmail),
		chromedp.SendKeys(chromedp.CSS("#f-password"), sandbox.DemoPassword),
		chromedp.Click(chromedp.CSS("button.primary")),
		chromedp.WaitVisible(chromedp.CSS(".chat-list-pane")),
	)

	// The phone is a browser of its own: a background tab may be frozen.
	apptest.Step(t, phone, "customer writes on the sandbox phone",
		chromedp.Navigate(d.env.URL+"/sandbox/phone"),
		chromedp.WaitVisible(chromedp.CSS("#phone-text")),
		chromedp.SendKeys(chromedp.CSS("#phone-text"), "Hello! My parcel has not arrived."),
		chromedp.Click(chromedp.CSS("#phone-send")),
		chromedp.WaitVisible(chromedp.CSS(`li.phone-msg[data-direction="inbound"]`)),
	)

	apptest.Step(t, agent, "the chat appears live and the indicator counts it",
		chromedp.WaitVisible(chromedp.CSS(".chat-item.unread")),
		chromedp.WaitVisible(chromedp.CSS("#chat-indicator.indicator-on")),
	)
	if got := apptest.TextOf(t, agent, "#chat-indicator .indicator-count"); got != "1" {
		t.Fatalf("indicator shows %q, want 1", got)
	}
	apptest.Click(t, agent, ".chat-item")
	apptest.Step(t, agent, "agent opens the chat and replies",
		chromedp.WaitVisible(chromedp.CSS("#reply-body")),
		chromedp.SendKeys(chromedp.CSS("#reply-body"), "Sorry about that, Casey. It ships today."),
		chromedp.Click(chromedp.CSS("#composer button.primary")),
		chromedp.WaitVisible(chromedp.CSS(`.msg-out[data-status="delivered"], .msg-out[data-status="read"]`)),
	)
	apptest.WaitText(t, agent, ".msg-in .msg-body", "Hello! My parcel has not arrived.")
	apptest.Step(t, phone, "the phone shows the reply",
		chromedp.WaitVisible(chromedp.CSS(`li.phone-msg[data-direction="outbound"]`)),
	)
	apptest.WaitText(t, phone, `li.phone-msg[data-direction="outbound"] .phone-msg-body`, "It ships today.")
	if got := apptest.TextOf(t, agent, "#reply-body"); got != "" {
		t.Fatalf("the composer kept %q after sending", got)
	}
	apptest.Step(t, phone, "customer writes again",
		chromedp.SendKeys(chromedp.CSS("#phone-text"), "Great, thank you!"),
		chromedp.Click(chromedp.CSS("#phone-send")),
	)
	// The open conversation shows it without a reload: the batch's event
	// names the sender, whose chat this is.
	apptest.WaitText(t, agent, ".message-list", "Great, thank you!")
	apptest.Shot(t, agent, "chats")

	apptest.Step(t, agent, "the integration page shows the webhook URL to paste into Twilio",
		chromedp.Navigate(d.env.URL+"/settings/integrations/"+itoa(d.ig.ID)),
		chromedp.WaitVisible(chromedp.CSS("#webhook-url")),
	)
	url, err := chromedp.Run(agent, chromedp.Value(chromedp.CSS("#webhook-url")))
	if err != nil || url != d.env.App.Integrations.WebhookURL(d.ig) {
		t.Fatalf("webhook URL field = %q, %v", url, err)
	}
	apptest.Shot(t, agent, "integration")
}
