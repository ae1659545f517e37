package conversation_test

import (
	"context"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"parley/internal/channel"
	"parley/internal/conversation"
	"parley/internal/integration"
	"parley/internal/problem"
)

// hello is an approved plain-text template.
var hello = conversation.TemplateUse{Template: channel.Template{ID: "HX00000000000000000000000000000001", Name: "hello", Language: "en", Body: "Hello, we are writing about your order."}}

// secondNumber connects a second business number (integration) to the
// fixture's tenant, stored directly like the first.
func (f *fixture) secondNumber(t *testing.T) integration.Integration {
	t.Helper()
	ctx := context.Background()
	var id int64
	err := f.DB.InTenant(ctx, f.Admin.TenantID, func(tx pgx.Tx) error {
		return tx.QueryRow(ctx, `INSERT INTO integrations (tenant_id, provider, webhook_token, account, credentials, credentials_hint, sender, default_group_id)
			SELECT tenant_id, provider, 'hook-b-'||tenant_id, account, credentials, credentials_hint, '+15550002222', default_group_id
			FROM integrations WHERE id = $1 RETURNING id`, f.IG.ID).Scan(&id)
	})
	if err != nil {
		t.Fatal(err)
	}
	ig, err := f.Integrations.Get(ctx, f.Admin.TenantID, id)
	if err != nil {
		t.Fatal(err)
	}
	return ig
}

func (f *fixture) start(t *testing.T, ig integration.Integration, number string) conversation.Case {
	t.Helper()
	ctx := context.Background()
	id, err := f.Conv.StartConversation(ctx, f.Admin.TenantID, f.Admin.ID, conversation.Start{IntegrationID: ig.ID, Number: number, Template: hello})
	if err != nil {
		t.Fatal(err)
	}
	c, err := f.Conv.Case(ctx, f.Admin.TenantID, id)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func refusal(err error) string {
	if p, ok := problem.As(err); ok && p.Kind == problem.Conflict {
		return p.Msg
	}
	if err == nil {
		return "<accepted>"
	}
	return err.Error()
}

// The window belongs to the client and the business number: a template
// that opens a new chat two minutes after the client wrote (in a chat
// that has ended) is followed by free text at once, and the window ends
// 24 hours after the client's message, not after the template.
func TestTemplateTwoMinutesAfterTheClientWroteAllowsFreeTextAtOnce(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	wrote := f.clock.Now()
	r := f.receive(t, "SM1", "+15557654321", "is my order on its way?")
	if err := f.Conv.EndChat(ctx, f.Admin.TenantID, r.CaseID, "solved", "Ada"); err != nil {
		t.Fatal(err)
	}
	f.clock.Advance(2 * time.Minute)
	c := f.start(t, f.IG, "+1 555 765 4321")
	if c.ID == r.CaseID {
		t.Fatal("the template joined the ended case")
	}
	if !c.WindowOpen(f.clock.Now()) || !c.WindowEnds().Equal(wrote.Add(conversation.Window)) {
		t.Fatalf("new chat's window open=%v ends %s, want open until %s", c.WindowOpen(f.clock.Now()), c.WindowEnds(), wrote.Add(conversation.Window))
	}
	if _, err := f.Conv.SendReply(ctx, f.Admin.TenantID, f.Admin.ID, c.ID, conversation.Reply{Body: "Yes, it ships today."}); err != nil {
		t.Fatalf("free text 2 minutes after the client wrote: %v", err)
	}
	// The sweep closes that window at 24 h from the client's message, once.
	f.clock.Set(wrote.Add(conversation.Window - time.Second))
	if n, _ := f.Conv.CloseWindows(ctx); n != 0 {
		t.Fatal("window closed early")
	}
	f.clock.Set(wrote.Add(conversation.Window))
	if n, _ := f.Conv.CloseWindows(ctx); n != 1 {
		t.Fatalf("closed %d windows at 24 h from the client's message, want the new chat's", n)
	}
	if n, _ := f.Conv.CloseWindows(ctx); n != 0 {
		t.Fatal("window closed twice")
	}
	_, err := f.Conv.SendReply(ctx, f.Admin.TenantID, f.Admin.ID, c.ID, conversation.Reply{Body: "still there?"})
	if got := refusal(err); got != conversation.AwaitingClientMessage {
		t.Fatalf("free text after the window = %q, want %q", got, conversation.AwaitingClientMessage)
	}
}

// 24 hours after the client's last message on number A, free text to them
// on number B is refused if they never wrote to B, however recently they
// wrote to A; and a template conversation the business started on B says
// it waits for the client's reply, not that a window closed.
func TestTheWindowIsPerBusinessNumber(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	b := f.secondNumber(t)
	onA := f.receive(t, "SM1", "+15557654321", "hello A")
	f.clock.Advance(time.Minute)
	onB := f.start(t, b, "+15557654321")
	if a, _ := f.Conv.Case(ctx, f.Admin.TenantID, onA.CaseID); onB.ClientID != a.ClientID {
		t.Fatal("the template went to another client")
	}
	if onB.WindowOpen(f.clock.Now()) || !onB.AwaitingClient() {
		t.Fatalf("chat on B: window open=%v awaiting=%v; the client never wrote to B", onB.WindowOpen(f.clock.Now()), onB.AwaitingClient())
	}
	_, err := f.Conv.SendReply(ctx, f.Admin.TenantID, f.Admin.ID, onB.ID, conversation.Reply{Body: "free text on B"})
	if got := refusal(err); got != conversation.AwaitingClientMessage {
		t.Fatalf("free text on B while A's window is open = %q, want %q", got, conversation.AwaitingClientMessage)
	}
	if _, err := f.Conv.SendReply(ctx, f.Admin.TenantID, f.Admin.ID, onA.CaseID, conversation.Reply{Body: "free text on A"}); err != nil {
		t.Fatalf("free text on A inside its window: %v", err)
	}
	f.clock.Advance(conversation.Window)
	_, err = f.Conv.SendReply(ctx, f.Admin.TenantID, f.Admin.ID, onA.CaseID, conversation.Reply{Body: "late on A"})
	if got := refusal(err); got != channel.WindowClosedMessage {
		t.Fatalf("free text on A after 24 h = %q, want %q", got, channel.WindowClosedMessage)
	}
	_, err = f.Conv.SendReply(ctx, f.Admin.TenantID, f.Admin.ID, onB.ID, conversation.Reply{Body: "late on B"})
	if got := refusal(err); got != conversation.AwaitingClientMessage {
		t.Fatalf("free text on B after 24 h = %q, want %q", got, conversation.AwaitingClientMessage)
	}
	// The sweep closes A's window and leaves B alone: it never had one.
	if n, _ := f.Conv.CloseWindows(ctx); n != 1 {
		t.Fatalf("closed %d windows, want A's only", n)
	}
	if n := f.Count(t, `SELECT count(*) FROM cases WHERE id = $1 AND window_closed_at IS NOT NULL`, onB.ID); n != 0 {
		t.Fatal("B's chat was marked as a closed window")
	}
	// The client answers on B: B's window opens, A's stays closed.
	if _, err := f.Conv.Receive(ctx, b, channel.Inbound{ProviderMessageID: "SM2", From: "+15557654321", Body: "hi B", At: f.clock.Now()}); err != nil {
		t.Fatal(err)
	}
	if _, err := f.Conv.SendReply(ctx, f.Admin.TenantID, f.Admin.ID, onB.ID, conversation.Reply{Body: "thanks for answering"}); err != nil {
		t.Fatalf("free text on B after the client answered there: %v", err)
	}
	a, _ := f.Conv.Case(ctx, f.Admin.TenantID, onA.CaseID)
	if a.WindowOpen(f.clock.Now()) {
		t.Fatal("a message to B opened A's window")
	}
}
