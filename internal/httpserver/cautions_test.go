package httpserver_test

import (
	"net/http"
	"strings"
	"testing"

	"parley/internal/channel/onemsg"
	"parley/internal/sandbox"
)

// The article's cautions are said where the admin acts: the 1msg form
// says a paid channel is needed, and a trial channel's refusal to send
// says it in those words; the Twilio integration page says what an
// Official Business Account changes.
func TestCautionsWhereTheAdminActs(t *testing.T) {
	t.Parallel()
	d := startDemo(t)
	if _, page := d.env.Get(t, d.client, "/settings/integrations/new/1msg"); !strings.Contains(page, "You need a paid channel in 1msg") || !strings.Contains(page, "sends messages only to its own number") {
		t.Error("the 1msg connect form does not say a paid channel is needed")
	}
	if _, page := d.env.Get(t, d.client, "/settings/integrations/"+itoa(d.ig.ID)); !strings.Contains(page, "Official Business Account") || !strings.Contains(page, "company name in their WhatsApp chat list") {
		t.Error("the Twilio integration page does not say what an Official Business Account changes")
	}

	d.omsim.SetTrial(sandbox.DemoOneMsgInstance, true)
	d.customerWrites1msg(t, sandbox.OneMsgInbound{From: "+4915200000123", Body: "Hello from a trial"})
	chat := d.chatOn(t, d.om.ID)
	if status, body := d.reply(t, chat.ID, "Hi there", "trial-1", nil, ""); status != http.StatusOK {
		t.Fatalf("reply: %d %.300s", status, body)
	}
	eventually(t, "the reply failed", func() bool {
		return d.count(t, `SELECT count(*) FROM messages WHERE body = 'Hi there' AND status = 'failed'`) == 1
	})
	for _, m := range d.messages(t, chat.ID) {
		if m.Body == "Hi there" && (m.ErrorMessage == nil || !strings.HasPrefix(*m.ErrorMessage, onemsg.TrialRefusal) || !strings.Contains(*m.ErrorMessage, "Parley needs a paid channel")) {
			t.Fatalf("the trial refusal reads %v", m.ErrorMessage)
		}
	}
	if _, page := d.env.Get(t, d.client, "/chats/"+itoa(chat.ID)); !strings.Contains(page, "Parley needs a paid channel") {
		t.Error("the chat does not show the trial refusal in words")
	}
}
