package httpserver_test

import (
	"bytes"
	"context"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/jackc/pgx/v5"

	"parley/internal/app/apptest"
	"parley/internal/sandbox"
)

// logBuffer collects an app's log lines; background goroutines write to
// it too.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// A log reader must not be able to take a webhook's token (1msg's only
// credential for inbound), an invitation (and join as an admin) or a
// public media link: the request log carries the route and the path with
// those tokens replaced, whatever the request's outcome (issue 22).
func TestLogsCarryNoTokens(t *testing.T) {
	t.Parallel()
	logs := &logBuffer{}
	env := apptest.Start(t, apptest.Options{Sandbox: true, Log: logs})
	d := demoOf(t, env)
	ctx := context.Background()

	// Webhooks: a client writes through 1msg, and a broken and a
	// mistyped webhook URL.
	d.customerWrites1msg(t, sandbox.OneMsgInbound{From: "+15557650101", Body: "Hi there"})
	eventually(t, "the 1msg message stored", func() bool {
		return d.count(t, `SELECT count(*) FROM messages WHERE body = 'Hi there'`) == 1
	})
	if status, _ := d.post1msg(t, `{"messages": [`); status != http.StatusBadRequest {
		t.Errorf("broken 1msg webhook: %d", status)
	}
	hook := env.App.Integrations.WebhookURL(d.om)
	if resp, err := http.Post(hook+"/extra", "application/json", strings.NewReader("{}")); err == nil {
		resp.Body.Close()
	}

	// Invitations: shown, refused (short password), accepted, reused.
	if status, _, _ := env.Post(t, d.client, "/settings/agents", url.Values{"name": {"Cara"}, "email": {"cara@demo.test"}, "role": {"admin"}, "invite": {"true"}}); status != http.StatusOK {
		t.Fatalf("invite: %d", status)
	}
	invite := strings.TrimPrefix(env.LinkIn(t, "cara@demo.test", 1, "/invite/"), "/invite/")
	cara := env.Client()
	env.Get(t, cara, "/invite/"+invite)
	env.Post(t, cara, "/invite/"+invite, url.Values{"password": {"short"}})
	if status, _, _ := env.Post(t, cara, "/invite/"+invite, url.Values{"password": {"caras long password"}}); status != http.StatusSeeOther {
		t.Fatalf("accept: %d", status)
	}
	env.Get(t, env.Client(), "/invite/"+invite)

	// Media: a reply with a file, which the provider fetches by its
	// public link, fetched again, and a wrong link.
	d.customerWrites(t, "+15557654321", "Send me the receipt")
	chat := d.chatOn(t, d.ig.ID)
	if status, body := d.reply(t, chat.ID, "", "r1", []byte(receiptPDF), "receipt.pdf"); status != http.StatusOK {
		t.Fatalf("reply with a file: %d\n%s", status, body)
	}
	eventually(t, "the file delivered", func() bool {
		return d.count(t, `SELECT count(*) FROM messages WHERE kind = 'file' AND status IN ('delivered', 'read')`) == 1
	})
	var media string
	if err := env.App.DB.InTenant(ctx, d.admin.TenantID, func(tx pgx.Tx) error {
		return tx.QueryRow(ctx, `SELECT public_token FROM attachments WHERE public_token IS NOT NULL`).Scan(&media)
	}); err != nil {
		t.Fatal(err)
	}
	env.Get(t, env.Client(), "/media/public/"+media+"/receipt.pdf")
	env.Get(t, env.Client(), "/media/public/"+media+"x/receipt.pdf")

	log := logs.String()
	for _, want := range []string{`"path":"/webhooks/1msg/{token}"`, `"path":"/invite/{token}"`, `"path":"/media/public/{token}/receipt.pdf"`, `"route":"/media/public/{token}/*"`, `"path":"/webhooks/…"`} {
		if !strings.Contains(log, want) {
			t.Errorf("the log has no %s", want)
		}
	}
	for what, token := range map[string]string{"1msg webhook": d.om.WebhookToken, "Twilio webhook": d.ig.WebhookToken, "invitation": invite, "media": media} {
		if len(token) < 16 {
			t.Fatalf("%s token %q", what, token)
		}
		if strings.Contains(log, token) {
			t.Errorf("the log carries the %s token", what)
		}
	}
	if t.Failed() {
		t.Log(log)
	}
}
