package httpserver_test

import (
	"io"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"parley/internal/postgres"
	"parley/internal/sandbox"
)

// One channel, one integration: two connects of the same 1msg channel at
// once store one integration and leave one Parley webhook on the channel;
// connecting it again here, or from another workspace, or the demo's
// Twilio account and sender again, is refused in words saying where, and
// touches nothing.
func TestAChannelIsConnectedOnce(t *testing.T) {
	t.Parallel()
	d := startDemo(t)
	d.omsim.AddInstance("twice", "twicetoken", "+4915100000077")
	before := d.omsim.Webhooks("twice")
	form := url.Values{"api_url": {sandbox.OneMsgAPIURL("twice")}, "token": {"twicetoken"}, "phone": {"+4915100000077"}, "default_group": {itoa(d.ig.DefaultGroupID)}}

	type answer struct {
		status int
		body   string
	}
	answers := make([]answer, 2)
	// 1msg answering slowly keeps both connects in flight together: each
	// reads the channel's webhook list before the other writes it.
	d.omsim.SetFaults(sandbox.OneMsgFaults{Latency: 50 * time.Millisecond})
	var wg sync.WaitGroup
	for i := range answers {
		wg.Go(func() {
			resp, err := d.client.PostForm(d.env.URL+"/settings/integrations/new/1msg", form)
			if err != nil {
				answers[i] = answer{body: err.Error()}
				return
			}
			defer resp.Body.Close()
			b, _ := io.ReadAll(resp.Body)
			answers[i] = answer{resp.StatusCode, string(b)}
		})
	}
	wg.Wait()
	d.omsim.SetFaults(sandbox.OneMsgFaults{})
	won, refused := 0, 0
	for _, a := range answers {
		switch {
		case a.status == http.StatusSeeOther:
			won++
		case a.status == http.StatusConflict && strings.Contains(a.body, "This 1msg channel is already connected here: Settings → Integrations"):
			refused++
		default:
			t.Errorf("connect: %d\n%.600s", a.status, a.body)
		}
	}
	if won != 1 || refused != 1 {
		t.Fatalf("%d connects won, %d refused; want one each", won, refused)
	}
	if n := d.count(t, `SELECT count(*) FROM integrations WHERE sender = '+4915100000077'`); n != 1 {
		t.Fatalf("%d integrations of the channel, want 1", n)
	}
	if got := d.omsim.Webhooks("twice"); len(got) != len(before)+1 {
		t.Fatalf("webhooks %v: want the channel's own and one of Parley's", got)
	}
	hooks := d.omsim.Webhooks("twice")

	// Another workspace: refused without naming it, and the channel's
	// webhooks stay as they are.
	other := d.env.SignUp(t, "Other Co", "admin@other.test")
	_, page := d.env.Get(t, other, "/settings/integrations/new/1msg")
	group := regexp.MustCompile(`<option value="(\d+)"`).FindStringSubmatch(page)[1]
	form.Set("default_group", group)
	status, _, body := d.env.Post(t, other, "/settings/integrations/new/1msg", form)
	if status != http.StatusConflict || !strings.Contains(body, "already connected to another Parley workspace") || strings.Contains(body, "Demo") {
		t.Fatalf("connect from another workspace: %d\n%.600s", status, body)
	}
	if got := d.omsim.Webhooks("twice"); !slices.Equal(got, hooks) {
		t.Fatalf("a refused connect changed the channel's webhooks: %v, was %v", got, hooks)
	}

	// The demo's own Twilio account and sender, typed another way.
	status, _, body = d.env.Post(t, d.client, "/settings/integrations/new/twilio", url.Values{
		"account_sid": {sandbox.DemoTwilioAccountSID}, "auth_token": {sandbox.DemoTwilioAuthToken},
		"sender": {"whatsapp:+1 (555) 000-1111"}, "default_group": {itoa(d.ig.DefaultGroupID)}})
	if status != http.StatusConflict || !strings.Contains(body, "This Twilio account and sender are already connected here: Settings → Integrations, integration "+itoa(d.ig.ID)) {
		t.Fatalf("connect the demo Twilio sender again: %d\n%.600s", status, body)
	}

	// A disabled integration still holds its channel for its workspace:
	// a second one cannot be enabled next to it.
	if status, _, _ := d.env.Post(t, d.client, "/settings/integrations/"+itoa(d.ig.ID)+"/enabled", url.Values{"enabled": {"false"}}); status != http.StatusSeeOther {
		t.Fatalf("disable: %d", status)
	}
	status, _, body = d.env.Post(t, d.client, "/settings/integrations/new/twilio", url.Values{
		"account_sid": {sandbox.DemoTwilioAccountSID}, "auth_token": {sandbox.DemoTwilioAuthToken},
		"sender": {sandbox.DemoTwilioSender}, "default_group": {itoa(d.ig.DefaultGroupID)}})
	if status != http.StatusConflict || !strings.Contains(body, "already connected here, disabled") {
		t.Fatalf("connect a disabled channel again: %d\n%.600s", status, body)
	}
	if n := d.count(t, `SELECT count(*) FROM integrations`); n != 3 {
		t.Fatalf("%d integrations, want the demo's two and one 1msg channel", n)
	}

	// The database itself keeps one enabled integration per channel,
	// whatever the code before it checked: a copy of the 1msg channel's
	// row is refused enabled, and stored disabled cannot be enabled.
	var dup int64
	err := d.env.App.DB.InTenant(t.Context(), d.admin.TenantID, func(tx pgx.Tx) error {
		_, err := tx.Exec(t.Context(), `INSERT INTO integrations (tenant_id, provider, webhook_token, account, credentials, credentials_hint, sender, default_group_id)
			SELECT tenant_id, provider, 'copy', upper(account), credentials, credentials_hint, '+4915100000000', default_group_id FROM integrations WHERE sender = '+4915100000077'`)
		return err
	})
	if !postgres.IsUniqueViolation(err, "integrations_one_channel") {
		t.Fatalf("a second enabled integration of the channel: %v", err)
	}
	err = d.env.App.DB.InTenant(t.Context(), d.admin.TenantID, func(tx pgx.Tx) error {
		return tx.QueryRow(t.Context(), `INSERT INTO integrations (tenant_id, provider, webhook_token, account, credentials, credentials_hint, sender, default_group_id, enabled)
			SELECT tenant_id, provider, 'copy', account, credentials, credentials_hint, sender, default_group_id, false FROM integrations WHERE sender = '+4915100000077'
			RETURNING id`).Scan(&dup)
	})
	if err != nil {
		t.Fatal(err)
	}
	status, _, body = d.env.Post(t, d.client, "/settings/integrations/"+itoa(dup)+"/enabled", url.Values{"enabled": {"true"}})
	if status != http.StatusConflict || !strings.Contains(body, "This 1msg channel is already connected here: Settings → Integrations, integration ") {
		t.Fatalf("enable a second integration of the channel: %d\n%.600s", status, body)
	}
}
