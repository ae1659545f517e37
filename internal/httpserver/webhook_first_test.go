package httpserver_test

import (
	"html"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"

	"parley/internal/sandbox"
)

var (
	shownWebhook   = regexp.MustCompile(`id="webhook-url" readonly value="([^"]+)"`)
	carriedWebhook = regexp.MustCompile(`name="webhook" value="([^"]+)"`)
)

// connectForm reads a connect form: the webhook URL it shows, the token
// it carries, and its first group.
func connectForm(t *testing.T, page string) (hook, carried, group string) {
	t.Helper()
	h, c := shownWebhook.FindStringSubmatch(page), carriedWebhook.FindStringSubmatch(page)
	g := regexp.MustCompile(`<option value="(\d+)"`).FindStringSubmatch(page)
	if h == nil || c == nil || g == nil {
		t.Fatalf("the connect form shows no webhook URL before Connect:\n%.800s", page)
	}
	return html.UnescapeString(h[1]), html.UnescapeString(c[1]), g[1]
}

// The article has the admin paste the webhook URL into Twilio before
// connecting: the form shows it first, shows the same one again after a
// refused try, and the integration uses exactly that URL. A webhook field
// Parley did not make is refused and saves nothing.
func TestConnectFormsShowTheWebhookURLFirst(t *testing.T) {
	t.Parallel()
	d := startDemo(t)
	const sid, token = "AC0000000000000000000000000000f00d", "firstwebhooktoken000000000000042"
	d.sim.AddAccount(sid, token, "Webhook first")

	_, page := d.env.Get(t, d.client, "/settings/integrations/new/twilio")
	hook, carried, group := connectForm(t, page)
	if !strings.HasPrefix(hook, d.env.URL+"/webhooks/twilio/") || !strings.HasSuffix(hook, "#rt=5000&rc=5&rp=all") {
		t.Fatalf("webhook URL %q", hook)
	}
	if strings.Index(page, "webhook-url") > strings.Index(page, `name="account_sid"`) {
		t.Error("the webhook URL should come before the credentials")
	}
	if _, again := d.env.Get(t, d.client, "/settings/integrations/new/twilio"); shownWebhook.FindStringSubmatch(again)[1] == shownWebhook.FindStringSubmatch(page)[1] {
		t.Error("two opened forms show the same webhook URL")
	}
	form := url.Values{"account_sid": {sid}, "auth_token": {"wrongwrongwrong0000000000000000"}, "sender": {"+15550003333"}, "default_group": {group}, "webhook": {carried}}
	status, _, body := d.env.Post(t, d.client, "/settings/integrations/new/twilio", form)
	if status != http.StatusUnprocessableEntity || !strings.Contains(body, "Twilio refused these credentials") {
		t.Fatalf("wrong token: %d\n%.500s", status, body)
	}
	if h, _, _ := connectForm(t, body); h != hook {
		t.Fatalf("after a refused try the form shows %q, not the URL the admin pasted (%q)", h, hook)
	}

	// A webhook field from another workspace's form, or made up.
	other := d.env.SignUp(t, "Webhook Other", "admin@webhook-other.test")
	_, otherPage := d.env.Get(t, other, "/settings/integrations/new/twilio")
	_, otherCarried, _ := connectForm(t, otherPage)
	form.Set("auth_token", token)
	for _, bad := range []string{otherCarried, "bm90LW9uZS1wYXJsZXktbWFkZQ", strings.TrimSuffix(carried, carried[len(carried)-2:]) + "AA"} {
		form.Set("webhook", bad)
		status, _, body = d.env.Post(t, d.client, "/settings/integrations/new/twilio", form)
		if status != http.StatusUnprocessableEntity || !strings.Contains(body, "is not one Parley made for it") {
			t.Fatalf("foreign webhook field: %d\n%.500s", status, body)
		}
	}
	if n := d.count(t, `SELECT count(*) FROM integrations WHERE account = '`+sid+`'`); n != 0 {
		t.Fatalf("%d integrations saved by refused connects", n)
	}

	form.Set("webhook", carried)
	status, loc, _ := d.env.Post(t, d.client, "/settings/integrations/new/twilio", form)
	if status != http.StatusSeeOther {
		t.Fatalf("connect: %d", status)
	}
	_, igPage := d.env.Get(t, d.client, loc)
	if got := html.UnescapeString(shownWebhook.FindStringSubmatch(igPage)[1]); got != hook {
		t.Fatalf("the integration uses %q, not the URL the form showed (%q)", got, hook)
	}
	// The same form sent again for another sender: the URL is taken.
	form.Set("sender", "+15550003334")
	status, _, body = d.env.Post(t, d.client, "/settings/integrations/new/twilio", form)
	if status != http.StatusConflict || !strings.Contains(body, "already belongs to an integration") {
		t.Fatalf("the same webhook URL twice: %d\n%.500s", status, body)
	}

	// 1msg: Parley adds the URL the form showed to the channel.
	d.omsim.AddInstance("hookfirst", "hookfirsttoken", "+4915100000088")
	_, page = d.env.Get(t, d.client, "/settings/integrations/new/1msg")
	hook, carried, group = connectForm(t, page)
	if !strings.HasPrefix(hook, d.env.URL+"/webhooks/1msg/") {
		t.Fatalf("1msg webhook URL %q", hook)
	}
	status, _, body = d.env.Post(t, d.client, "/settings/integrations/new/1msg", url.Values{
		"api_url": {sandbox.OneMsgAPIURL("hookfirst")}, "token": {"hookfirsttoken"}, "phone": {"+4915100000088"}, "default_group": {group}, "webhook": {carried}})
	if status != http.StatusSeeOther {
		t.Fatalf("connect 1msg: %d\n%.500s", status, body)
	}
	if hooks := d.omsim.Webhooks("hookfirst"); !slices.Contains(hooks, hook) {
		t.Fatalf("the channel's webhooks %v lack the URL the form showed, %q", hooks, hook)
	}
}
