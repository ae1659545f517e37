package httpserver_test

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha1"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/jackc/pgx/v5"

	"parley/internal/integration"
	"parley/internal/sandbox"
)

// outage makes Postgres refuse Parley: the test's database stops taking
// connections and the ones Parley has are closed, as when Postgres
// restarts. The returned function ends it. Parley's pool then still holds
// the dead connections: pgxpool pings a connection idle for more than a
// second before handing it out, which a real outage outlasts but this
// one does not, so ending it also empties the pool.
func outage(t *testing.T, d *demo) (end func()) {
	t.Helper()
	dbURL := d.env.DBURL
	ctx := context.Background()
	// From another database of the cluster: a database cannot be closed
	// from inside.
	u, err := url.Parse(dbURL)
	if err != nil {
		t.Fatal(err)
	}
	db := strings.TrimPrefix(u.Path, "/")
	u.Path = "/postgres"
	conn, err := pgx.Connect(ctx, u.String())
	if err != nil {
		t.Fatal(err)
	}
	name := pgx.Identifier{db}.Sanitize()
	if _, err := conn.Exec(ctx, `ALTER DATABASE `+name+` ALLOW_CONNECTIONS false`); err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Exec(ctx, `SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1`, db); err != nil {
		t.Fatal(err)
	}
	var once sync.Once
	end = func() {
		once.Do(func() {
			if _, err := conn.Exec(ctx, `ALTER DATABASE `+name+` ALLOW_CONNECTIONS true`); err != nil {
				t.Errorf("end the outage: %v", err)
			}
			conn.Close(ctx)
			d.env.App.DB.Pool.Reset()
		})
	}
	t.Cleanup(end)
	return end
}

// attemptLog records a simulator's webhook attempts.
type attemptLog struct {
	mu  sync.Mutex
	all []sandbox.WebhookAttempt
}

func (l *attemptLog) add(a sandbox.WebhookAttempt) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.all = append(l.all, a)
}

func (l *attemptLog) statuses() []int {
	l.mu.Lock()
	defer l.mu.Unlock()
	var s []int
	for _, a := range l.all {
		s = append(s, a.Status)
	}
	return s
}

// A client's message that reaches Parley while Postgres is down is
// answered 500, and Twilio sends it again because the webhook URL Parley
// gives carries a retry policy (#rc=…&rp=all): it is stored once the
// database is back, exactly once. The same URL without the policy loses
// it: Twilio's default retries only a connection that failed.
func TestTwilioRedeliversThroughADatabaseOutage(t *testing.T) {
	t.Parallel()
	d := startDemo(t)
	hook := d.env.App.Integrations.WebhookURL(d.ig)
	if !strings.HasSuffix(hook, integration.TwilioRetryPolicy) {
		t.Fatalf("the Twilio webhook URL %s has no retry policy", hook)
	}
	d.customerWrites(t, "+15557000100", "first, before the outage")

	for _, tt := range []struct {
		name, url, body string
		stored          int
	}{
		{"with the retry policy", hook, "during the outage", 1},
		{"without it", strings.TrimSuffix(hook, integration.TwilioRetryPolicy), "lost in the outage", 0},
	} {
		t.Run(tt.name, func(t *testing.T) {
			d.sim.AddSender(sandbox.DemoTwilioAccountSID, d.ig.Sender, tt.url)
			var log attemptLog
			end := outage(t, d)
			d.sim.OnWebhookAttempt(func(a sandbox.WebhookAttempt) {
				log.add(a)
				end() // the database is back after the first attempt
			})
			defer d.sim.OnWebhookAttempt(nil)
			_, err := d.sim.CustomerSends(context.Background(), sandbox.InboundMessage{From: "+15557000100", To: d.ig.Sender, Body: tt.body})
			got := log.statuses()
			if len(got) == 0 || got[0] != http.StatusInternalServerError {
				t.Fatalf("attempts answered %v, want a 500 first", got)
			}
			if (err == nil) != (tt.stored == 1) {
				t.Errorf("delivery error %v; attempts %v", err, got)
			}
			if n := d.count(t, `SELECT count(*) FROM messages WHERE body = '`+tt.body+`'`); n != tt.stored {
				t.Fatalf("%d messages stored, want %d; attempts %v", n, tt.stored, got)
			}
		})
	}
	d.sim.AddSender(sandbox.DemoTwilioAccountSID, d.ig.Sender, hook)
}

// 1msg with guaranteedHooks (turned on when Parley connects) posts a
// webhook again until Parley answers 200: a message that came during an
// outage is stored once, after it. With guaranteedHooks off it is lost.
func TestOneMsgRedeliversThroughADatabaseOutage(t *testing.T) {
	t.Parallel()
	d := startDemo(t)
	if !d.omsim.GuaranteedHooks(sandbox.DemoOneMsgInstance) {
		t.Fatal("the demo 1msg channel has guaranteedHooks off")
	}
	d.customerWrites1msg(t, sandbox.OneMsgInbound{From: "+15557000200", Body: "first, before the outage"})

	for _, tt := range []struct {
		name       string
		guaranteed bool
		body       string
		stored     int
	}{
		{"with guaranteedHooks", true, "during the outage", 1},
		{"without", false, "lost in the outage", 0},
	} {
		t.Run(tt.name, func(t *testing.T) {
			setOneMsg(t, d.env.URL, map[string]any{"guaranteedHooks": tt.guaranteed})
			var log attemptLog
			end := outage(t, d)
			d.omsim.OnWebhookAttempt(func(a sandbox.WebhookAttempt) {
				log.add(a)
				end()
			})
			defer d.omsim.OnWebhookAttempt(nil)
			_, err := d.omsim.CustomerSends(context.Background(), sandbox.OneMsgInbound{InstanceID: sandbox.DemoOneMsgInstance, From: "+15557000200", Body: tt.body})
			got := log.statuses()
			if len(got) == 0 || got[0] != http.StatusInternalServerError {
				t.Fatalf("attempts answered %v, want a 500 first", got)
			}
			if (err == nil) != (tt.stored == 1) {
				t.Errorf("delivery error %v; attempts %v", err, got)
			}
			if n := d.count(t, `SELECT count(*) FROM messages WHERE body = '`+tt.body+`'`); n != tt.stored {
				t.Fatalf("%d messages stored, want %d; attempts %v", n, tt.stored, got)
			}
		})
	}
}

// setOneMsg changes the demo 1msg channel's settings through its API.
func setOneMsg(t *testing.T, base string, settings map[string]any) {
	t.Helper()
	b, _ := json.Marshal(settings)
	resp, err := http.Post(base+"/sandbox/1msg/"+sandbox.DemoOneMsgInstance+"/settings?token="+url.QueryEscape(sandbox.DemoOneMsgToken), "application/json", bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("POST /settings: %s", resp.Status)
	}
}

// The webhook URL Parley shows for Twilio ends with the retry policy;
// Twilio calls it without the fragment and signs what it called. A
// signature made that way, here by hand as Twilio's docs describe it
// (HMAC-SHA1 of the URL and the sorted parameters, keyed with the auth
// token), is accepted; one made over the URL with its fragment is not
// Twilio's and is refused.
func TestTwilioSignatureOverTheURLWithoutItsFragment(t *testing.T) {
	t.Parallel()
	d := startDemo(t)
	hook := d.env.App.Integrations.WebhookURL(d.ig)
	requested, fragment, _ := strings.Cut(hook, "#")
	if fragment == "" {
		t.Fatalf("no fragment in %s", hook)
	}
	_, page := d.env.Get(t, d.client, "/settings/integrations/"+itoa(d.ig.ID))
	if !strings.Contains(page, strings.ReplaceAll(hook, "&", "&amp;")) {
		t.Errorf("the integration page does not show %s", hook)
	}
	form := inboundForm("SM00000000000000000000000000000077", "whatsapp:+15550007777", "signed by hand")
	sign := func(u string) string {
		keys := make([]string, 0, len(form))
		for k := range form {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		s := u
		for _, k := range keys {
			s += k + form.Get(k)
		}
		mac := hmac.New(sha1.New, []byte(sandbox.DemoTwilioAuthToken))
		mac.Write([]byte(s))
		return base64.StdEncoding.EncodeToString(mac.Sum(nil))
	}
	post := func(sig string) int {
		req, _ := http.NewRequest(http.MethodPost, hook, strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("X-Twilio-Signature", sig)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if got := post(sign(hook)); got != http.StatusForbidden {
		t.Errorf("signed over the URL with its fragment: %d, want 403", got)
	}
	if got := post(sign(requested)); got != http.StatusOK {
		t.Errorf("signed over the URL Twilio requested: %d, want 200", got)
	}
	if n := d.count(t, `SELECT count(*) FROM messages WHERE body = 'signed by hand'`); n != 1 {
		t.Errorf("%d messages stored", n)
	}
}
