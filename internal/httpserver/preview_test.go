package httpserver_test

import (
	"bufio"
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"parley/internal/channel"
	"parley/internal/conversation"
	"parley/internal/sandbox"
)

// Deleting a failed message puts the chat's preview back to the message
// before it: in the chat list of an agent watching live, and in All cases.
func TestDeletingAFailedMessageKeepsPreviewsTrue(t *testing.T) {
	t.Parallel()
	d := startDemo(t)
	d.customerWrites(t, "+15557654321", "Where is my parcel?")
	chat := d.liveChats(t)[0]
	gone := d.sim.AddTemplate(sandbox.DemoTwilioAccountSID, sandbox.Template{FriendlyName: "gone_preview", Language: "en", Body: "Your order ships {{1}}"})
	tpl := d.template(t, "gone_preview")
	d.sim.RemoveTemplate(sandbox.DemoTwilioAccountSID, gone)
	// Listed when sent, gone by the time the send job runs: it fails.
	lateTemplate(t, d, chat.ID, tpl, "gp", "tomorrow")
	eventually(t, "the template failed", func() bool {
		return d.count(t, `SELECT count(*) FROM messages WHERE kind = 'template' AND status = 'failed'`) == 1
	})
	var failed int64
	for _, m := range d.messages(t, chat.ID) {
		if m.Template != nil {
			failed = m.ID
		}
	}
	if _, list := d.env.Get(t, d.client, "/chats"); !strings.Contains(list, "Your order ships tomorrow") {
		t.Fatalf("the failed template is not the preview before deleting:\n%.1500s", list)
	}

	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, d.env.URL+"/events?list=1", nil) // the chats page's stream
	resp, err := d.client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	lines := bufio.NewScanner(resp.Body)
	lines.Buffer(make([]byte, 1<<20), 1<<20)
	for lines.Scan() && lines.Text() != "" {
	}
	if status, _, _ := d.env.Post(t, d.client, "/chats/"+itoa(chat.ID)+"/messages/"+itoa(failed)+"/delete", nil); status != http.StatusSeeOther {
		t.Fatalf("delete: %d", status)
	}
	heard := false
	for !heard && lines.Scan() {
		heard = strings.Contains(lines.Text(), "Where is my parcel?")
	}
	if !heard {
		t.Fatalf("the live chat list did not go back to the client's message: %v", lines.Err())
	}
	if _, page := d.env.Get(t, d.client, "/chats"); strings.Contains(page, "Your order ships") || !strings.Contains(page, "Where is my parcel?") {
		t.Error("the chats page still shows the deleted message as the preview")
	}

	// Ended with a failed message last, then deleted from the case: All
	// cases shows the message before it.
	gone = d.sim.AddTemplate(sandbox.DemoTwilioAccountSID, sandbox.Template{FriendlyName: "gone_again", Language: "en", Body: "Refund on its way {{1}}"})
	tpl = d.template(t, "gone_again")
	d.sim.RemoveTemplate(sandbox.DemoTwilioAccountSID, gone)
	lateTemplate(t, d, chat.ID, tpl, "ga", "today")
	eventually(t, "the second template failed", func() bool {
		return d.count(t, `SELECT count(*) FROM messages WHERE kind = 'template' AND status = 'failed'`) == 1
	})
	for _, m := range d.messages(t, chat.ID) {
		if m.Template != nil {
			failed = m.ID
		}
	}
	if status, _, _ := d.env.Post(t, d.client, "/chats/"+itoa(chat.ID)+"/end", url.Values{"status": {"solved"}}); status != http.StatusSeeOther {
		t.Fatalf("end: %d", status)
	}
	if _, list := d.env.Get(t, d.client, "/cases"); !strings.Contains(list, "Refund on its way today") {
		t.Fatalf("All cases does not show the failed template as the preview:\n%.1500s", list)
	}
	if status, _, _ := d.env.Post(t, d.client, "/chats/"+itoa(chat.ID)+"/messages/"+itoa(failed)+"/delete", nil); status != http.StatusSeeOther {
		t.Fatalf("delete on the ended case: %d", status)
	}
	if _, list := d.env.Get(t, d.client, "/cases"); strings.Contains(list, "Refund on its way") || !strings.Contains(list, "Where is my parcel?") {
		t.Error("All cases still shows the deleted message as the case's preview")
	}
}

// lateTemplate sends a template that the provider removes before the send
// job runs (the composer refuses one it no longer lists).
func lateTemplate(t *testing.T, d *demo, chatID int64, tpl channel.Template, key, value string) {
	t.Helper()
	r := conversation.Reply{Template: &conversation.TemplateUse{Template: tpl, Values: map[string]string{"1": value}}, IdempotencyKey: key}
	if _, err := d.env.App.Conversations.SendReply(t.Context(), d.admin.TenantID, d.admin.ID, chatID, r); err != nil {
		t.Fatalf("send: %v", err)
	}
}
