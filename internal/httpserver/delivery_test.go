package httpserver_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"parley/internal/channel"
	"parley/internal/conversation"
	"parley/internal/sandbox"
)

// The double-send probe: Twilio takes the message, then its answer is
// lost (the connection breaks, a 5xx, a 201 that cannot be read). Parley
// must not send it again blindly: it asks Twilio, adopts the message it
// finds, and the client gets it once.
func TestTwilioAnswerLostAfterAcceptingSendsOnce(t *testing.T) {
	t.Parallel()
	for i, lost := range []sandbox.LostAnswer{sandbox.LostReset, sandbox.LostServerError, sandbox.LostUnreadable} {
		t.Run(string(lost), func(t *testing.T) {
			t.Parallel()
			d := startDemo(t)
			customer := fmt.Sprintf("+1555765%04d", i)
			d.customerWrites(t, customer, "Hello?")
			chat := d.liveChats(t)[0]
			d.sim.SetFaults(sandbox.TwilioFaults{LostAnswerRate: 1, LostAnswers: []sandbox.LostAnswer{lost}})
			if status, _ := d.reply(t, chat.ID, "Your order left the warehouse.", "lost-"+string(lost), nil, ""); status != http.StatusOK {
				t.Fatal(status)
			}
			m := waitForOutgoing(t, d, chat.ID, "the reply to be settled", func(m conversation.Message) bool {
				return m.ProviderMessageID != nil && (m.Status == "delivered" || m.Status == "read")
			})
			sent := d.sim.Sent(sandbox.DemoTwilioAccountSID)
			if len(sent) != 1 {
				t.Fatalf("Twilio received %d creates, want 1", len(sent))
			}
			if *m.ProviderMessageID != sent[0].Sid {
				t.Errorf("Parley recorded %s, Twilio created %s", *m.ProviderMessageID, sent[0].Sid)
			}
			if phone := d.sim.Conversation(sandbox.DemoTwilioSender, customer); len(phone) != 2 {
				t.Errorf("the client's phone shows %d messages, want their own and one reply", len(phone))
			}
		})
	}
}

// The same probe through 1msg.
func TestOneMsgAnswerLostAfterAcceptingSendsOnce(t *testing.T) {
	t.Parallel()
	d := startDemo(t)
	d.customerWrites1msg(t, sandbox.OneMsgInbound{From: "+15557650101", Body: "Hi there"})
	chat := d.chatOn(t, d.om.ID)
	d.omsim.SetFaults(sandbox.OneMsgFaults{LostAnswerRate: 1, LostAnswers: []sandbox.LostAnswer{sandbox.LostReset, sandbox.LostUnreadable}})
	if status, _ := d.reply(t, chat.ID, "We are on it.", "lost-1msg", nil, ""); status != http.StatusOK {
		t.Fatal(status)
	}
	m := waitForOutgoing(t, d, chat.ID, "the reply to be settled", func(m conversation.Message) bool {
		return m.ProviderMessageID != nil && m.Status != "queued"
	})
	if m.Status == "failed" || m.Status == "unconfirmed" {
		t.Fatalf("the reply ended %s: %s", m.Status, deref(m.ErrorMessage))
	}
	if n := len(d.omsim.Sent(sandbox.DemoOneMsgInstance)); n != 1 {
		t.Fatalf("1msg received %d sends, want 1", n)
	}
}

// Twilio does not promise the order of status callbacks: "undelivered"
// may come before "sent". The message ends failed, with the reason in
// plain words, and never moves back.
func TestCallbacksOutOfOrderEndingUndelivered(t *testing.T) {
	t.Parallel()
	d := startDemo(t)
	d.customerWrites(t, "+15557659999", "Hello?")
	chat := d.liveChats(t)[0]
	d.sim.SetFaults(sandbox.TwilioFaults{ShuffleCallbacks: true, UndeliveredRate: 1})
	if status, _ := d.reply(t, chat.ID, "Are you there?", "undelivered", nil, ""); status != http.StatusOK {
		t.Fatal(status)
	}
	m := waitForOutgoing(t, d, chat.ID, "the reply to fail", func(m conversation.Message) bool { return m.Status == "failed" })
	d.sim.WaitIdle()
	eventually(t, "the statuses that overtook the send to be applied", func() bool {
		return d.count(t, `SELECT count(*) FROM river_job WHERE kind = 'apply_status' AND finalized_at IS NULL`) == 0
	})
	m = waitForOutgoing(t, d, chat.ID, "the reply to stay failed", func(conversation.Message) bool { return true })
	if m.Status != "failed" || deref(m.ErrorCode) != "63024" || deref(m.ErrorMessage) != channel.Explain("63024", "") {
		t.Fatalf("the reply is %s %s %q, want failed 63024 explained", m.Status, deref(m.ErrorCode), deref(m.ErrorMessage))
	}
}

// When an attempt may have gone out and Twilio cannot say whether it has
// the message, the last attempt leaves it "not confirmed" in plain words:
// never sent again by itself, and the agent can delete it.
func TestSendThatCannotBeConfirmedSaysSo(t *testing.T) {
	t.Parallel()
	d := startDemo(t)
	ctx := context.Background()
	d.customerWrites(t, "+15557658888", "Hello?")
	chat := d.liveChats(t)[0]
	// A reply whose earlier attempt handed it to Twilio a minute ago and
	// never learned the outcome, with no job of its own.
	var msgID int64
	err := d.env.App.DB.InTenant(ctx, d.admin.TenantID, func(tx pgx.Tx) error {
		return tx.QueryRow(ctx, `INSERT INTO messages (tenant_id, case_id, integration_id, direction, kind, agent_id, body, status, send_attempted_at, created_at, updated_at)
			VALUES ($1, $2, $3, 'out', 'text', $4, 'Did this go out?', 'queued', now() - interval '1 minute', now(), now()) RETURNING id`,
			d.admin.TenantID, chat.ID, d.ig.ID, d.admin.ID).Scan(&msgID)
	})
	if err != nil {
		t.Fatal(err)
	}
	d.sim.SetFaults(sandbox.TwilioFaults{ServerErrorRate: 1})
	if err := d.env.App.Conversations.Deliver(ctx, d.admin.TenantID, msgID, true); err != nil {
		t.Fatal(err)
	}
	m := waitForOutgoing(t, d, chat.ID, "the reply to be unconfirmed", func(m conversation.Message) bool { return m.ID == msgID })
	if m.Status != "unconfirmed" || !strings.Contains(deref(m.ErrorMessage), "ask the client before sending it again") {
		t.Fatalf("the reply is %s %q, want unconfirmed in plain words", m.Status, deref(m.ErrorMessage))
	}
	if n := len(d.sim.Sent(sandbox.DemoTwilioAccountSID)); n != 0 {
		t.Fatalf("Twilio received %d creates, want none", n)
	}
	_, page := d.env.Get(t, d.client, fmt.Sprintf("/chats/%d", chat.ID))
	if !strings.Contains(page, "not confirmed") || !strings.Contains(page, "Delete message") {
		t.Fatal("the unconfirmed reply is not shown as such with its delete link")
	}
}

// A provider that gives up posting a reply's statuses (every retry of the
// callback failed) left it "queued" for good. Some minutes on, Parley asks
// the provider once where it stands and shows that: read, as the client's
// phone has it.
func TestStatusesTheProviderGaveUpPostingAreAskedFor(t *testing.T) {
	t.Parallel()
	for _, provider := range []string{"twilio", "1msg"} {
		t.Run(provider, func(t *testing.T) {
			t.Parallel()
			d := startDemo(t)
			ctx := context.Background()
			var chat conversation.Case
			if provider == "twilio" {
				d.customerWrites(t, "+15557657777", "Hello?")
				chat = d.liveChats(t)[0]
				d.sim.SetFaults(sandbox.TwilioFaults{CallbackLossRate: 1})
			} else {
				d.customerWrites1msg(t, sandbox.OneMsgInbound{From: "+15557657778", Body: "Hello?"})
				chat = d.chatOn(t, d.om.ID)
				d.omsim.SetFaults(sandbox.OneMsgFaults{AckLossRate: 1})
			}
			if status, _ := d.reply(t, chat.ID, "It ships today.", "gave-up-"+provider, nil, ""); status != http.StatusOK {
				t.Fatal(status)
			}
			m := waitForOutgoing(t, d, chat.ID, "the provider to take the reply", func(m conversation.Message) bool { return m.ProviderMessageID != nil })
			d.sim.WaitIdle()
			d.omsim.WaitIdle()
			check := func() int {
				t.Helper()
				n, err := d.env.App.Conversations.CheckStalledStatuses(ctx)
				if err != nil {
					t.Fatal(err)
				}
				return n
			}
			if n := check(); n != 0 {
				t.Fatalf("a reply sent a moment ago was asked about (%d)", n)
			}
			if m = waitForOutgoing(t, d, chat.ID, "the reply", func(conversation.Message) bool { return true }); m.Status != "queued" {
				t.Fatalf("with no callback the reply is %s", m.Status)
			}
			// Its callbacks never come: some minutes pass.
			err := d.env.App.DB.InTenant(ctx, d.admin.TenantID, func(tx pgx.Tx) error {
				_, err := tx.Exec(ctx, `UPDATE messages SET created_at = created_at - $2::interval WHERE id = $1`, m.ID, conversation.StatusPatience+time.Minute)
				return err
			})
			if err != nil {
				t.Fatal(err)
			}
			if n := check(); n != 1 {
				t.Fatalf("the stalled reply was settled %d times, want 1", n)
			}
			if m = waitForOutgoing(t, d, chat.ID, "the reply", func(conversation.Message) bool { return true }); m.Status != "read" {
				t.Fatalf("after asking the provider the reply is %s, want read", m.Status)
			}
			if n := check(); n != 0 {
				t.Fatalf("the reply was asked about again (%d)", n)
			}
		})
	}
}

// waitForOutgoing waits until the chat's last outgoing message meets cond
// and returns it. An unknown outcome settles after conversation.SendSettle.
func waitForOutgoing(t *testing.T, d *demo, caseID int64, what string, cond func(conversation.Message) bool) conversation.Message {
	t.Helper()
	var last conversation.Message
	deadline := time.Now().Add(conversation.SendSettle + 20*time.Second)
	for {
		for _, m := range d.messages(t, caseID) {
			if m.Direction == "out" {
				last = m
			}
		}
		if last.ID != 0 && cond(last) {
			return last
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s: last outgoing message %+v", what, last)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}
