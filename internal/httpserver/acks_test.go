package httpserver_test

import (
	"context"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"parley/internal/integration"
	"parley/internal/sandbox"
)

// connect1msg connects a new simulated 1msg channel through the form and
// returns the integration and its page.
func (d *demo) connect1msg(t *testing.T, instance, token, phone string) (integration.Integration, string) {
	t.Helper()
	d.omsim.AddInstance(instance, token, phone)
	form := url.Values{"api_url": {sandbox.OneMsgAPIURL(instance)}, "token": {token}, "phone": {phone}, "default_group": {itoa(d.ig.DefaultGroupID)}}
	status, loc, body := d.env.Post(t, d.client, "/settings/integrations/new/1msg", form)
	if status != http.StatusSeeOther {
		t.Fatalf("connect: %d\n%s", status, body)
	}
	list, err := d.env.App.Integrations.List(context.Background(), d.admin.TenantID)
	if err != nil {
		t.Fatal(err)
	}
	return list[len(list)-1], loc
}

// A new 1msg channel sends no delivery statuses until ackNotificationsOn
// is on: connecting turns it on (with guaranteedHooks), keeps the
// channel's webhooks, and a reply's status then reaches delivered and read.
func TestOneMsgConnectTurnsDeliveryStatusesOn(t *testing.T) {
	t.Parallel()
	d := startDemo(t)
	d.omsim.AddInstance("acks1", "acks1token", "+4915100000001")
	before := d.omsim.Webhooks("acks1")
	if d.omsim.AckNotifications("acks1") {
		t.Fatal("a new simulated channel already sends acks")
	}
	ig, _ := d.connect1msg(t, "acks1", "acks1token", "+4915100000001")
	if !d.omsim.AckNotifications("acks1") || !d.omsim.GuaranteedHooks("acks1") {
		t.Fatalf("after connecting: ackNotificationsOn %v, guaranteedHooks %v", d.omsim.AckNotifications("acks1"), d.omsim.GuaranteedHooks("acks1"))
	}
	if got, want := d.omsim.Webhooks("acks1"), append(before, d.env.App.Integrations.WebhookURL(ig)); !slices.Equal(got, want) {
		t.Fatalf("webhooks %v, want %v", got, want)
	}

	if _, err := d.omsim.CustomerSends(context.Background(), sandbox.OneMsgInbound{InstanceID: "acks1", From: "+15557000042", SenderName: "Ada", Body: "Hello"}); err != nil {
		t.Fatal(err)
	}
	chat := d.chatOn(t, ig.ID)
	if status, body := d.reply(t, chat.ID, "Hi Ada", "acks-1", nil, ""); status != http.StatusOK {
		t.Fatalf("reply: %d\n%s", status, body)
	}
	eventually(t, "the reply to be read", func() bool {
		for _, m := range d.messages(t, chat.ID) {
			if m.Direction == "out" && m.Status == "read" {
				return true
			}
		}
		return false
	})
}

// Someone turns delivery statuses off in 1msg after Parley connected: the
// integration page says so, checked with 1msg when it opens, and its
// button turns them on again. When 1msg cannot be asked, the page still
// opens and says it could not check.
func TestOneMsgPageWarnsWhenDeliveryStatusesAreOff(t *testing.T) {
	t.Parallel()
	d := startDemo(t)
	_, loc := d.connect1msg(t, "acks2", "acks2token", "+4915100000002")
	const off = "Delivery statuses are off on this 1msg channel: turn them on"
	if _, page := d.env.Get(t, d.client, loc); strings.Contains(page, off) || !strings.Contains(page, "Delivery statuses are on") {
		t.Fatalf("right after connecting, the page says:\n%s", section(page))
	}

	d.omsim.SetAckNotifications("acks2", false)
	if _, list := d.env.Get(t, d.client, "/settings/integrations"); strings.Count(list, "delivery statuses are off in 1msg") != 1 {
		t.Errorf("the integrations list does not point at the one channel with acks off")
	}
	_, page := d.env.Get(t, d.client, loc)
	if !strings.Contains(page, off) || !strings.Contains(page, loc+"/delivery-statuses") {
		t.Fatalf("with acks turned off in 1msg, the page says:\n%s", section(page))
	}
	if status, next, body := d.env.Post(t, d.client, loc+"/delivery-statuses", nil); status != http.StatusSeeOther || next != loc {
		t.Fatalf("turn on: %d %s\n%s", status, next, body)
	}
	if !d.omsim.AckNotifications("acks2") {
		t.Fatal("the button did not turn acks on in 1msg")
	}
	if _, page := d.env.Get(t, d.client, loc); strings.Contains(page, off) {
		t.Fatalf("after turning them on, the page says:\n%s", section(page))
	}

	// A 1msg that does not answer holds the page only SettingsTimeout.
	d.env.App.Integrations.SettingsTimeout = 300 * time.Millisecond
	d.omsim.SetFaults(sandbox.OneMsgFaults{TimeoutRate: 1})
	status, page := d.env.Get(t, d.client, loc)
	if status != http.StatusOK || !strings.Contains(page, "could not check") || !strings.Contains(page, "did not answer in time") {
		t.Fatalf("with 1msg not answering: %d\n%s", status, section(page))
	}
	d.omsim.SetFaults(sandbox.OneMsgFaults{ServerErrorRate: 1})
	status, page = d.env.Get(t, d.client, loc)
	d.omsim.SetFaults(sandbox.OneMsgFaults{})
	if status != http.StatusOK || !strings.Contains(page, "could not check") || strings.Contains(page, off) {
		t.Fatalf("with 1msg failing: %d\n%s", status, section(page))
	}
	// Turning them on while 1msg fails says why, and changes nothing.
	d.omsim.SetAckNotifications("acks2", false)
	d.omsim.SetFaults(sandbox.OneMsgFaults{ServerErrorRate: 1})
	status, _, body := d.env.Post(t, d.client, loc+"/delivery-statuses", nil)
	d.omsim.SetFaults(sandbox.OneMsgFaults{})
	if status == http.StatusSeeOther || !strings.Contains(body, "1msg could not be reached to turn delivery statuses on") || d.omsim.AckNotifications("acks2") {
		t.Fatalf("turn on while 1msg fails: %d\n%s", status, section(body))
	}
}

// section is the delivery-statuses part of an integration page, for
// failure messages.
func section(page string) string {
	if i := strings.Index(page, `id="delivery-statuses"`); i >= 0 {
		page = page[i:]
		if j := strings.Index(page, "</section>"); j >= 0 {
			return page[:j]
		}
	}
	return page
}
