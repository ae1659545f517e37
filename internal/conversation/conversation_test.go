package conversation_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"parley/internal/channel"
	"parley/internal/clock"
	"parley/internal/conversation"
	"parley/internal/conversation/convtest"
	"parley/internal/postgres/pgtest"
	"parley/internal/problem"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

type fixture struct {
	*convtest.Fixture
	clock *clock.Fake
}

var t0 = time.Date(2026, 11, 25, 9, 0, 0, 0, time.UTC)

// newFixture makes a tenant with a Twilio integration on a fake clock.
func newFixture(t *testing.T) *fixture {
	t.Helper()
	clk := clock.NewFake(t0)
	return &fixture{Fixture: convtest.New(t, clk), clock: clk}
}

func (f *fixture) receive(t *testing.T, sid, from, body string) conversation.Received {
	t.Helper()
	r, err := f.Conv.Receive(context.Background(), f.IG, channel.Inbound{ProviderMessageID: sid, From: from, ProfileName: "Casey", Body: body, At: f.clock.Now()})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestClientMessageOpensChatInDefaultGroup(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	r := f.receive(t, "SM1", "+15557654321", "Hello, my order is late")
	if !r.NewChat || r.Duplicate {
		t.Fatalf("first message: %+v", r)
	}
	c, err := f.Conv.Case(context.Background(), f.Admin.TenantID, r.CaseID)
	if err != nil {
		t.Fatal(err)
	}
	if c.State != conversation.StateLive || c.GroupID != f.IG.DefaultGroupID || c.ClientName != "Casey" ||
		c.ClientWhatsApp == nil || *c.ClientWhatsApp != "+15557654321" || c.Unread != 1 || c.Number != 1 || !c.WindowOpen(f.clock.Now()) {
		t.Fatalf("chat = %+v", c)
	}
	r2 := f.receive(t, "SM2", "+15557654321", "Are you there?")
	if r2.NewChat || r2.CaseID != r.CaseID {
		t.Fatalf("second message opened another chat: %+v", r2)
	}
	ms, _ := f.Conv.Messages(context.Background(), f.Admin.TenantID, r.CaseID)
	var bodies []string
	for _, m := range ms {
		bodies = append(bodies, m.Kind+":"+m.Body)
	}
	if len(ms) != 3 || ms[1].Body != "Hello, my order is late" || ms[2].Body != "Are you there?" || ms[0].Kind != "event" {
		t.Fatalf("conversation = %v", bodies)
	}
}

func TestDuplicateDeliveriesUnderConcurrencyStoreOnce(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	var wg sync.WaitGroup
	results := make(chan conversation.Received, 16)
	for range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r, err := f.Conv.Receive(context.Background(), f.IG, channel.Inbound{ProviderMessageID: "SMdup", From: "+15557654321", Body: "once", At: t0})
			if err != nil {
				t.Error(err)
			}
			results <- r
		}()
	}
	wg.Wait()
	close(results)
	stored := 0
	for r := range results {
		if !r.Duplicate {
			stored++
		}
	}
	if stored != 1 {
		t.Fatalf("%d deliveries reported storing the message, want 1", stored)
	}
	if n := f.Count(t, `SELECT count(*) FROM messages WHERE direction = 'in'`); n != 1 {
		t.Fatalf("%d messages stored, want 1", n)
	}
	if n := f.Count(t, `SELECT count(*) FROM cases`); n != 1 {
		t.Fatalf("%d chats, want 1", n)
	}
}

func TestConcurrentFirstMessagesOfANewClientOpenOneChat(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	var wg sync.WaitGroup
	for i := range 10 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := f.Conv.Receive(context.Background(), f.IG, channel.Inbound{ProviderMessageID: fmt.Sprintf("SM%d", i), From: "+15557654321", Body: "hi", At: t0}); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	if n := f.Count(t, `SELECT count(*) FROM clients`); n != 1 {
		t.Fatalf("%d clients, want 1", n)
	}
	if n := f.Count(t, `SELECT count(*) FROM cases WHERE state = 'live'`); n != 1 {
		t.Fatalf("%d live chats, want 1", n)
	}
	if n := f.Count(t, `SELECT count(*) FROM messages WHERE direction = 'in'`); n != 10 {
		t.Fatalf("%d messages, want 10", n)
	}
}

func TestMessageAfterChatEndedOpensNewChatLinkedToOld(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	first := f.receive(t, "SM1", "+15557654321", "hi")
	if err := f.Conv.EndChat(ctx, f.Admin.TenantID, first.CaseID, "solved", "Ada"); err != nil {
		t.Fatal(err)
	}
	if err := f.Conv.EndChat(ctx, f.Admin.TenantID, first.CaseID, "solved", "Ada"); !problem.Is(err, problem.Conflict) {
		t.Fatalf("ending an ended chat = %v, want a conflict", err)
	}
	second := f.receive(t, "SM2", "+15557654321", "one more thing")
	if !second.NewChat || second.CaseID == first.CaseID {
		t.Fatalf("message after the end: %+v", second)
	}
	c, _ := f.Conv.Case(ctx, f.Admin.TenantID, second.CaseID)
	if c.PreviousCaseID == nil || *c.PreviousCaseID != first.CaseID || c.Number != 2 {
		t.Fatalf("new chat = %+v, want it linked to case %d", c, first.CaseID)
	}
	// A redelivery of the old message after the end opens nothing.
	if r := f.receive(t, "SM1", "+15557654321", "hi"); !r.Duplicate {
		t.Fatalf("redelivery after the end: %+v", r)
	}
	if n := f.Count(t, `SELECT count(*) FROM cases`); n != 2 {
		t.Fatalf("%d cases, want 2", n)
	}
}

func TestReplyIsRefusedOutsideTheWindowBeforeAnyProvider(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	r := f.receive(t, "SM1", "+15557654321", "hi")
	f.clock.Advance(conversation.Window - time.Second)
	if _, err := f.Conv.SendReply(ctx, f.Admin.TenantID, f.Admin.ID, r.CaseID, conversation.Reply{Body: "just in time"}); err != nil {
		t.Fatalf("reply a second before the window closes: %v", err)
	}
	f.clock.Advance(time.Second)
	_, err := f.Conv.SendReply(ctx, f.Admin.TenantID, f.Admin.ID, r.CaseID, conversation.Reply{Body: "too late"})
	p, ok := problem.As(err)
	if !ok || p.Kind != problem.Conflict || p.Msg != channel.WindowClosedMessage {
		t.Fatalf("reply after 24 h = %v, want the window-closed conflict", err)
	}
	if n := f.Count(t, `SELECT count(*) FROM messages WHERE direction = 'out'`); n != 1 {
		t.Fatalf("%d outgoing messages stored, want only the one in time", n)
	}
	// A new client message reopens the window.
	f.receive(t, "SM2", "+15557654321", "hello again")
	if _, err := f.Conv.SendReply(ctx, f.Admin.TenantID, f.Admin.ID, r.CaseID, conversation.Reply{Body: "welcome back"}); err != nil {
		t.Fatalf("reply after the client wrote again: %v", err)
	}
}

func TestReplyWithTheSameKeyIsStoredOnceWithOneSendJob(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	r := f.receive(t, "SM1", "+15557654321", "hi")
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := f.Conv.SendReply(ctx, f.Admin.TenantID, f.Admin.ID, r.CaseID, conversation.Reply{Body: "on my way", IdempotencyKey: "k-1"}); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	if n := f.Count(t, `SELECT count(*) FROM messages WHERE direction = 'out'`); n != 1 {
		t.Fatalf("%d replies stored, want 1", n)
	}
	if n := f.Count(t, `SELECT count(*) FROM river_job WHERE kind = 'send_message'`); n != 1 {
		t.Fatalf("%d send jobs, want 1", n)
	}
}

func TestReplyValidation(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	r := f.receive(t, "SM1", "+15557654321", "hi")
	big := conversation.UploadOf("big.bin", "", make([]byte, channel.MaxOutboundFileBytes+1))
	for _, tc := range []struct {
		reply conversation.Reply
		field string
	}{
		{conversation.Reply{Body: "   "}, "body"},
		{conversation.Reply{File: big}, "file"},
	} {
		_, err := f.Conv.SendReply(ctx, f.Admin.TenantID, f.Admin.ID, r.CaseID, tc.reply)
		if p, ok := problem.As(err); !ok || p.Fields[tc.field] == "" {
			t.Errorf("reply %q: %v, want a problem with %s", tc.reply.Body, err, tc.field)
		}
	}
	if err := f.Conv.EndChat(ctx, f.Admin.TenantID, r.CaseID, "solved", "Ada"); err != nil {
		t.Fatal(err)
	}
	if _, err := f.Conv.SendReply(ctx, f.Admin.TenantID, f.Admin.ID, r.CaseID, conversation.Reply{Body: "late"}); !problem.Is(err, problem.Conflict) {
		t.Fatalf("reply to an ended chat = %v", err)
	}
	if n := f.Count(t, `SELECT count(*) FROM messages WHERE direction = 'out'`); n != 0 {
		t.Fatalf("%d replies stored, want none", n)
	}
}

func TestStatusesOnlyMoveForward(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	r := f.receive(t, "SM1", "+15557654321", "hi")
	m, err := f.Conv.SendReply(ctx, f.Admin.TenantID, f.Admin.ID, r.CaseID, conversation.Reply{Body: "hello"})
	if err != nil {
		t.Fatal(err)
	}
	err = f.DB.InTenant(ctx, f.Admin.TenantID, func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, `UPDATE messages SET provider_message_id = 'SMout' WHERE id = $1`, m.ID)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	status := func() string {
		ms, _ := f.Conv.Messages(ctx, f.Admin.TenantID, r.CaseID)
		for _, x := range ms {
			if x.ID == m.ID {
				return x.Status
			}
		}
		return "gone"
	}
	steps := []struct{ in, want string }{
		{"delivered", "delivered"},
		{"sent", "delivered"}, // late "sent" does not move it back
		{"failed", "delivered"},
		{"read", "read"},
		{"delivered", "read"},
	}
	for _, s := range steps {
		found, err := f.Conv.ApplyStatus(ctx, f.IG, channel.Status{ProviderMessageID: "SMout", Status: s.in})
		if err != nil || !found {
			t.Fatalf("apply %s: %v %v", s.in, found, err)
		}
		if got := status(); got != s.want {
			t.Fatalf("after %s: status %s, want %s", s.in, got, s.want)
		}
	}
	if found, _ := f.Conv.ApplyStatus(ctx, f.IG, channel.Status{ProviderMessageID: "SMunknown", Status: "sent"}); found {
		t.Fatal("a status for an unknown message found one")
	}
}

// Statuses applied in one batch end where the same statuses applied one by
// one end: each message moves forward in the order its statuses arrived,
// a failure is explained in plain words, and a status for a message that
// is not known (yet) is reported not found, for the caller to defer.
func TestStatusesAppliedInOneBatch(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	r := f.receive(t, "SM1", "+15557654321", "hi")
	ids := map[string]int64{}
	for _, sid := range []string{"SMa", "SMb", "SMc"} {
		m, err := f.Conv.SendReply(ctx, f.Admin.TenantID, f.Admin.ID, r.CaseID, conversation.Reply{Body: "hello " + sid})
		if err != nil {
			t.Fatal(err)
		}
		ids[sid] = m.ID
		if err := f.DB.InTenant(ctx, f.Admin.TenantID, func(tx pgx.Tx) error {
			_, err := tx.Exec(ctx, `UPDATE messages SET provider_message_id = $2 WHERE id = $1`, m.ID, sid)
			return err
		}); err != nil {
			t.Fatal(err)
		}
	}
	batch := []channel.Status{
		{ProviderMessageID: "SMb", Status: "sent"},
		{ProviderMessageID: "SMa", Status: "delivered"},
		{ProviderMessageID: "SMa", Status: "sent"}, // late: stays delivered
		{ProviderMessageID: "SMb", Status: "failed", ErrorCode: "63016"},
		{ProviderMessageID: "SMa", Status: "read"},
		{ProviderMessageID: "SMnew", Status: "sent"},                     // overtook its send
		{ProviderMessageID: "SMa", Status: "failed", ErrorCode: "63016"}, // after read: ignored
		{ProviderMessageID: "SMb", Status: "delivered"},                  // after failed: ignored
	}
	found, errs := f.Conv.ApplyStatuses(ctx, f.IG, batch)
	for i, st := range batch {
		if errs[i] != nil {
			t.Fatalf("status %d: %v", i, errs[i])
		}
		if want := st.ProviderMessageID != "SMnew"; found[i] != want {
			t.Errorf("status %d (%s %s): found %v, want %v", i, st.ProviderMessageID, st.Status, found[i], want)
		}
	}
	ms, err := f.Conv.Messages(ctx, f.Admin.TenantID, r.CaseID)
	if err != nil {
		t.Fatal(err)
	}
	want := map[int64]string{ids["SMa"]: "read", ids["SMb"]: "failed", ids["SMc"]: "queued"}
	for _, m := range ms {
		w, ok := want[m.ID]
		if !ok {
			continue
		}
		if m.Status != w {
			t.Errorf("message %d: status %s, want %s", m.ID, m.Status, w)
		}
		if m.ID == ids["SMb"] && (m.ErrorMessage == nil || *m.ErrorMessage != channel.WindowClosedMessage || m.ErrorCode == nil || *m.ErrorCode != "63016") {
			t.Errorf("the failed message says %v (code %v), want the window's words", m.ErrorMessage, m.ErrorCode)
		}
		if m.ID != ids["SMb"] && m.ErrorMessage != nil {
			t.Errorf("message %d has an error: %s", m.ID, *m.ErrorMessage)
		}
	}
}
