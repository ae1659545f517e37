package httpserver_test

import (
	"encoding/json"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"parley/internal/channel"
	"parley/internal/sandbox"
)

func TestConnectTwilioChecksCredentialsFirst(t *testing.T) {
	t.Parallel()
	d := startDemo(t)
	const sid, token = "AC0000000000000000000000000000abcd", "anothersandboxtoken0000000000042"
	d.sim.AddAccount(sid, token, "Second account")
	form := func(tok string) url.Values {
		return url.Values{"account_sid": {sid}, "auth_token": {tok}, "sender": {"+1 (555) 000-2222"}, "default_group": {"1"}}
	}
	_, groups := d.env.Get(t, d.client, "/settings/integrations/new/twilio")
	group := regexp.MustCompile(`<option value="(\d+)"`).FindStringSubmatch(groups)[1]

	f := form("wrongtoken000000000000000000000")
	f.Set("default_group", group)
	status, _, body := d.env.Post(t, d.client, "/settings/integrations/new/twilio", f)
	if status != http.StatusUnprocessableEntity || !strings.Contains(body, "Twilio refused these credentials") || !strings.Contains(body, sid) {
		t.Fatalf("wrong token: %d\n%.500s", status, body)
	}
	bad := url.Values{"account_sid": {"nope"}, "auth_token": {""}, "sender": {"12"}, "default_group": {"999999"}}
	status, _, body = d.env.Post(t, d.client, "/settings/integrations/new/twilio", bad)
	for _, want := range []string{"An Account SID is AC followed by 32", "Paste the Auth Token", "with its country code", "Choose the group"} {
		if !strings.Contains(body, want) {
			t.Errorf("malformed form (%d) lacks %q", status, want)
		}
	}
	d.sim.SetFaults(sandbox.TwilioFaults{ServerErrorRate: 1})
	f = form(token)
	f.Set("default_group", group)
	status, _, body = d.env.Post(t, d.client, "/settings/integrations/new/twilio", f)
	if status != http.StatusBadGateway || !strings.Contains(body, "could not be reached") {
		t.Fatalf("Twilio down: %d\n%.500s", status, body)
	}
	if n := d.count(t, `SELECT count(*) FROM integrations`); n != 2 {
		t.Fatalf("%d integrations after refused connects, want only the demo's two", n)
	}

	d.sim.SetFaults(sandbox.TwilioFaults{})
	status, loc, _ := d.env.Post(t, d.client, "/settings/integrations/new/twilio", f)
	if status != http.StatusSeeOther || !strings.HasPrefix(loc, "/settings/integrations/") {
		t.Fatalf("connect: %d %s", status, loc)
	}
	_, page := d.env.Get(t, d.client, loc)
	hook := regexp.MustCompile(`id="webhook-url" readonly value="([^"]+)"`).FindStringSubmatch(page)
	if hook == nil || !strings.HasPrefix(hook[1], d.env.URL+"/webhooks/twilio/") || len(hook[1]) < len(d.env.URL)+40 {
		t.Fatalf("the page does not show an unguessable webhook URL")
	}
	if strings.Contains(page, token) || !strings.Contains(page, "••••••••0042") || !strings.Contains(page, "+15550002222") {
		t.Fatal("the auth token must be masked, and the sender shown in E.164")
	}
	var stored []byte
	if err := d.env.App.DB.Pool.QueryRow(t.Context(), `SELECT credentials FROM integrations ORDER BY id DESC LIMIT 1`).Scan(&stored); err == nil {
		t.Fatal("the app role read credentials without a tenant")
	}
	// Replacing the token checks the new one with Twilio too.
	status, _, body = d.env.Post(t, d.client, loc, url.Values{"auth_token": {"stillwrong00000000000000000000000"}, "sender": {"+15550002222"}, "default_group": {group}})
	if status != http.StatusUnprocessableEntity || !strings.Contains(body, "refused these credentials") {
		t.Fatalf("replace with a wrong token: %d", status)
	}
}

func TestSandboxInfo(t *testing.T) {
	t.Parallel()
	d := startDemo(t)
	resp, err := http.Get(d.env.URL + "/sandbox/info")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var info struct {
		Login        struct{ Email, Password string }
		Integrations []struct {
			Provider, Sender string
			WebhookURL       string `json:"webhook_url"`
			AccountSID       string `json:"account_sid"`
			AuthToken        string `json:"auth_token"`
			APIURL           string `json:"api_url"`
			Token            string
		}
	}
	if err := json.NewDecoder(resp.Body).Decode(&info); err != nil {
		t.Fatal(err)
	}
	if info.Login.Email != sandbox.DemoEmail || len(info.Integrations) != 2 || info.Integrations[0].Provider != "twilio" ||
		info.Integrations[0].WebhookURL != d.env.App.Integrations.WebhookURL(d.ig) || info.Integrations[0].AccountSID != sandbox.DemoTwilioAccountSID {
		t.Fatalf("info = %+v", info)
	}
	if om := info.Integrations[1]; om.Provider != "onemsg" || om.WebhookURL != d.env.App.Integrations.WebhookURL(d.om) ||
		om.APIURL != sandbox.OneMsgAPIURL(sandbox.DemoOneMsgInstance) || om.Token != sandbox.DemoOneMsgToken || om.Sender != sandbox.DemoOneMsgPhone {
		t.Fatalf("1msg in info = %+v", om)
	}
}

func TestSandboxIsOffUnlessAskedFor(t *testing.T) {
	t.Parallel()
	env := apptestStart(t)
	if status, _ := env.Get(t, env.Client(), "/sandbox/info"); status != http.StatusNotFound {
		t.Fatalf("/sandbox/info without the sandbox: %d", status)
	}
}

func TestProviderErrorsInPlainWords(t *testing.T) {
	cases := map[[2]string]string{
		{"63016", ""}:                          channel.WindowClosedMessage,
		{"131047", ""}:                         channel.WindowClosedMessage,
		{"", "Dialog window is closed"}:        channel.WindowClosedMessage,
		{"132000", ""}:                         "The template variables do not match the template: pick the template again and fill every variable",
		{"21211", "Invalid 'To' Phone Number"}: "This phone number is not valid for WhatsApp",
		{"99999", "Something odd"}:             "The provider refused the message: Something odd",
		{"99999", ""}:                          "The provider refused the message (error 99999).",
	}
	for in, want := range cases {
		if got := channel.Explain(in[0], in[1]); got != want {
			t.Errorf("Explain(%q, %q) = %q, want %q", in[0], in[1], got, want)
		}
	}
}
