package httpserver_test

import (
	"testing"

	"github.com/chromedp/chromedp"

	"parley/internal/app/apptest"
	"parley/internal/sandbox"
)

// TestBrowserInboundQuoteReferralContact: a client who hides their number
// comes from a click-to-WhatsApp ad; the agent sees the ad above the
// conversation and "number hidden" beside it; the client's swipe-reply
// shows the message it quotes, a shared contact shows as a card with its
// number, a location as a map link, a button tap as a tap — each live,
// without a reload.
func TestBrowserInboundQuoteReferralContact(t *testing.T) {
	t.Parallel()
	d := startDemo(t)
	agent := apptest.Browser(t)
	apptest.Step(t, agent, "agent logs in and waits on the chats page",
		chromedp.Navigate(d.env.URL+"/login"),
		chromedp.SendKeys(chromedp.CSS("#f-email"), sandbox.DemoEmail),
		chromedp.SendKeys(chromedp.CSS("#f-password"), sandbox.DemoPassword),
		chromedp.Click(chromedp.CSS("button.primary")),
		chromedp.WaitVisible(chromedp.CSS(".chat-list-pane")),
	)
	const number, bsuid = "+919812345678", "IN.208142536475869"
	client := sandbox.InboundMessage{From: number, ProfileName: "Priya", UserID: bsuid, Username: "priya.s", HideNumber: true}
	first := client
	first.Body = "Is the blue one still available?"
	first.Referral = &sandbox.AdReferral{Headline: "Summer sale: 30% off", Body: "Linen shirts in every colour", SourceURL: "https://fb.me/summer-sale", SourceType: "ad"}
	firstSid := d.customerWritesAs(t, first)

	apptest.Step(t, agent, "the chat appears and the agent opens it",
		chromedp.WaitVisible(chromedp.CSS(".chat-item.unread")),
	)
	apptest.Click(t, agent, ".chat-item")
	apptest.WaitText(t, agent, ".referral-banner", "Summer sale: 30% off")
	apptest.WaitText(t, agent, ".referral-banner", "Linen shirts in every colour")
	apptest.WaitText(t, agent, ".client-sidebar", "Number hidden by the client")
	apptest.WaitText(t, agent, ".client-sidebar", "priya.s")

	quote := client
	quote.Body, quote.QuotedSid = "In size M, please", firstSid
	d.customerWritesAs(t, quote)
	apptest.WaitText(t, agent, ".msg-in .msg-quote", "Is the blue one still available?")
	apptest.WaitText(t, agent, ".msg-in:last-child .msg-body", "In size M, please")

	card := client
	card.Media = []sandbox.MediaFile{{ContentType: "text/vcard", Data: []byte("BEGIN:VCARD\r\nVERSION:3.0\r\nFN:Ravi Kumar\r\nTEL;type=CELL:+91 98100 12345\r\nEND:VCARD\r\n")}}
	d.customerWritesAs(t, card)
	apptest.WaitText(t, agent, ".contact-card .contact-name", "Ravi Kumar")
	apptest.WaitText(t, agent, ".contact-card", "+91 98100 12345")

	place := client
	place.Latitude, place.Longitude, place.Label = "28.6139", "77.2090", "Connaught Place"
	d.customerWritesAs(t, place)
	apptest.WaitText(t, agent, ".msg-map", "Open the location on a map")

	tap := client
	tap.ButtonText, tap.ButtonPayload = "Yes, reserve it", "RESERVE"
	d.customerWritesAs(t, tap)
	apptest.WaitText(t, agent, ".msg-button-tap", "Yes, reserve it")
	apptest.Shot(t, agent, "inbound")
}
