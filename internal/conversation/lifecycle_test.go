package conversation_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"parley/internal/conversation"
	"parley/internal/problem"
	"parley/internal/tenant"
)

func TestChatEndsAfterIdleTimeout(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	r := f.receive(t, "SM1", "+15557654321", "hi")
	f.clock.Advance(10*time.Minute - time.Second)
	if n, err := f.Conv.EndIdleChats(ctx); err != nil || n != 0 {
		t.Fatalf("a second before the timeout: ended %d, %v", n, err)
	}
	f.clock.Advance(time.Second)
	if n, err := f.Conv.EndIdleChats(ctx); err != nil || n != 1 {
		t.Fatalf("at the timeout: ended %d, %v", n, err)
	}
	c, _ := f.Conv.Case(ctx, f.Admin.TenantID, r.CaseID)
	if c.State != conversation.StateEnded || c.Status != "solved" || c.EndedBy == nil || *c.EndedBy != conversation.IdleEndedBy {
		t.Fatalf("case = %+v", c)
	}
	if n, _ := f.Conv.EndIdleChats(ctx); n != 0 {
		t.Fatalf("a second sweep ended %d more", n)
	}
	ms, _ := f.Conv.Messages(ctx, f.Admin.TenantID, r.CaseID)
	if last := ms[len(ms)-1]; last.Kind != "event" || last.Body != "Chat ended by the idle timeout (10 minutes without messages) · status solved" {
		t.Fatalf("last entry = %q", last.Body)
	}
}

// The sweeps find chats by the 10-second bin of their activity but go by
// the time: a client writing at 9:00:35 (bin 9:00:30)
// keeps the chat live until 9:10:35, and a message at 9:10:35 keeps the
// window open until the next day's 9:10:35.
func TestSweepsGoByTheTimeNotItsBin(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	f.clock.Advance(35 * time.Second)
	r := f.receive(t, "SM1", "+15557654321", "hi")
	f.clock.Advance(10*time.Minute - time.Second)
	if n, err := f.Conv.EndIdleChats(ctx); err != nil || n != 0 {
		t.Fatalf("a second before the timeout, in its bin: ended %d, %v", n, err)
	}
	f.clock.Advance(time.Second)
	if n, err := f.Conv.EndIdleChats(ctx); err != nil || n != 1 {
		t.Fatalf("at the timeout: ended %d, %v", n, err)
	}

	if err := f.Tenants.UpdateChatSettings(ctx, f.Admin.TenantID, tenant.ChatSettings{IdleMinutes: 1440, EndStatus: "open"}); err != nil {
		t.Fatal(err)
	}
	f.receive(t, "SM2", "+15557654321", "a new chat")
	f.clock.Advance(24*time.Hour - time.Second)
	if n, err := f.Conv.CloseWindows(ctx); err != nil || n != 0 {
		t.Fatalf("a second before 24 hours, in its bin: closed %d, %v", n, err)
	}
	f.clock.Advance(time.Second)
	if n, err := f.Conv.CloseWindows(ctx); err != nil || n != 1 {
		t.Fatalf("at 24 hours: closed %d, %v", n, err)
	}
	if c, _ := f.Conv.Case(ctx, f.Admin.TenantID, r.CaseID); c.State != conversation.StateEnded {
		t.Fatalf("the first chat is %s, want ended", c.State)
	}
}

func TestAgentReplyKeepsTheChatAlive(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	r := f.receive(t, "SM1", "+15557654321", "hi")
	f.clock.Advance(9 * time.Minute)
	if _, err := f.Conv.SendReply(ctx, f.Admin.TenantID, f.Admin.ID, r.CaseID, conversation.Reply{Body: "one moment"}); err != nil {
		t.Fatal(err)
	}
	f.clock.Advance(9 * time.Minute)
	if n, _ := f.Conv.EndIdleChats(ctx); n != 0 {
		t.Fatal("a chat with an agent message 9 minutes ago was ended")
	}
}

func TestTenantsOwnIdleTimeout(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	for _, bad := range []int{0, 1441, 100000} {
		err := f.Tenants.UpdateChatSettings(ctx, f.Admin.TenantID, tenant.ChatSettings{IdleMinutes: bad, EndStatus: "open"})
		if p, ok := problem.As(err); !ok || p.Fields["idle_minutes"] == "" {
			t.Errorf("timeout %d accepted: %v", bad, err)
		}
	}
	if err := f.Tenants.UpdateChatSettings(ctx, f.Admin.TenantID, tenant.ChatSettings{IdleMinutes: 30, EndStatus: "pending"}); err != nil {
		t.Fatal(err)
	}
	r := f.receive(t, "SM1", "+15557654321", "hi")
	f.clock.Advance(29 * time.Minute)
	if n, _ := f.Conv.EndIdleChats(ctx); n != 0 {
		t.Fatal("ended before the tenant's 30 minutes")
	}
	f.clock.Advance(time.Minute)
	if n, _ := f.Conv.EndIdleChats(ctx); n != 1 {
		t.Fatal("not ended at the tenant's 30 minutes")
	}
	if c, _ := f.Conv.Case(ctx, f.Admin.TenantID, r.CaseID); c.Status != "pending" {
		t.Fatalf("status %q, want the tenant's end status", c.Status)
	}
}

func TestConcurrentSweepsEndEachChatOnce(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	for i := range 30 {
		f.receive(t, fmt.Sprintf("SM%d", i), fmt.Sprintf("+1555765%04d", i), "hi")
	}
	f.clock.Advance(time.Hour)
	var wg sync.WaitGroup
	var mu sync.Mutex
	total := 0
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			n, err := f.Conv.EndIdleChats(ctx)
			if err != nil {
				t.Error(err)
			}
			mu.Lock()
			total += n
			mu.Unlock()
		}()
	}
	wg.Wait()
	if total != 30 {
		t.Fatalf("sweeps ended %d chats in all, want each of 30 once", total)
	}
	if n := f.Count(t, `SELECT count(*) FROM messages WHERE kind = 'event' AND body LIKE 'Chat ended%'`); n != 30 {
		t.Fatalf("%d end events, want 30", n)
	}
}

func TestWindowCloseIsRecordedOnceAndReopens(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	// Keep the chat from ending while the window runs out.
	if err := f.Tenants.UpdateChatSettings(ctx, f.Admin.TenantID, tenant.ChatSettings{IdleMinutes: 1440, EndStatus: "open"}); err != nil {
		t.Fatal(err)
	}
	r := f.receive(t, "SM1", "+15557654321", "hi")
	f.clock.Advance(20 * time.Hour)
	if _, err := f.Conv.SendReply(ctx, f.Admin.TenantID, f.Admin.ID, r.CaseID, conversation.Reply{Body: "still here"}); err != nil {
		t.Fatal(err)
	}
	f.clock.Advance(4*time.Hour - time.Second)
	if n, _ := f.Conv.CloseWindows(ctx); n != 0 {
		t.Fatal("window closed early")
	}
	f.clock.Advance(time.Second)
	if n, _ := f.Conv.CloseWindows(ctx); n != 1 {
		t.Fatal("window not closed at 24 h")
	}
	if n, _ := f.Conv.CloseWindows(ctx); n != 0 {
		t.Fatal("window closed twice")
	}
	c, _ := f.Conv.Case(ctx, f.Admin.TenantID, r.CaseID)
	if c.WindowOpen(f.clock.Now()) {
		t.Fatal("window reported open")
	}
	f.receive(t, "SM2", "+15557654321", "back again")
	c, _ = f.Conv.Case(ctx, f.Admin.TenantID, r.CaseID)
	if !c.WindowOpen(f.clock.Now()) {
		t.Fatal("a client message did not reopen the window")
	}
	f.clock.Advance(24 * time.Hour)
	if n, _ := f.Conv.CloseWindows(ctx); n != 1 {
		t.Fatal("the reopened window did not close again")
	}
}

func TestAllCasesKeysetPagesAreStableAcrossTies(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	// 7 ended cases, five of them with the very same last activity.
	for i := range 7 {
		r := f.receive(t, fmt.Sprintf("SM%d", i), fmt.Sprintf("+1555765%04d", i), fmt.Sprintf("case %d", i))
		if err := f.Conv.EndChat(ctx, f.Admin.TenantID, r.CaseID, "solved", "Ada"); err != nil {
			t.Fatal(err)
		}
		if i >= 2 {
			continue
		}
		f.clock.Advance(time.Minute)
	}
	live := f.receive(t, "SMlive", "+15550000000", "still live")
	var seen []int64
	var after conversation.Cursor
	for page := 0; ; page++ {
		cs, next, err := f.Conv.Cases(ctx, f.Admin.TenantID, conversation.CaseFilter{After: after}, 3)
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range cs {
			if c.ID == live.CaseID {
				t.Fatal("a live chat is listed in All cases")
			}
			seen = append(seen, c.ID)
		}
		if next.ID == 0 {
			break
		}
		after = conversation.ParseCursor(next.String())
		if page > 5 {
			t.Fatal("paging does not end")
		}
	}
	if len(seen) != 7 {
		t.Fatalf("pages listed %d cases, want 7 each once: %v", len(seen), seen)
	}
	uniq := map[int64]bool{}
	for _, id := range seen {
		uniq[id] = true
	}
	if len(uniq) != 7 {
		t.Fatalf("a case appeared twice: %v", seen)
	}
	// Filters.
	cs, _, _ := f.Conv.Cases(ctx, f.Admin.TenantID, conversation.CaseFilter{Text: "case 3"}, 50)
	if len(cs) != 1 || cs[0].Preview != "case 3" {
		t.Fatalf("text filter: %+v", cs)
	}
	cs, _, _ = f.Conv.Cases(ctx, f.Admin.TenantID, conversation.CaseFilter{Client: "+15557650004"}, 50)
	if len(cs) != 1 {
		t.Fatalf("client filter: %d", len(cs))
	}
	cs, _, _ = f.Conv.Cases(ctx, f.Admin.TenantID, conversation.CaseFilter{Status: "open"}, 50)
	if len(cs) != 0 {
		t.Fatalf("status filter: %d", len(cs))
	}
}

func TestTakeTransferAndNotes(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	r := f.receive(t, "SM1", "+15557654321", "hi")
	c, _ := f.Conv.Case(ctx, f.Admin.TenantID, r.CaseID)
	if err := f.Conv.Assign(ctx, f.Admin.TenantID, r.CaseID, c.GroupID, &f.Admin.ID, "Ada"); err != nil {
		t.Fatal(err)
	}
	var otherGroup int64
	err := f.DB.InTenant(ctx, f.Admin.TenantID, func(tx pgx.Tx) error {
		return tx.QueryRow(ctx, `INSERT INTO groups (tenant_id, name) VALUES ($1, 'Billing') RETURNING id`, f.Admin.TenantID).Scan(&otherGroup)
	})
	if err != nil {
		t.Fatal(err)
	}
	// Ada is not in Billing: she cannot be the assignee there.
	if err := f.Conv.Assign(ctx, f.Admin.TenantID, r.CaseID, otherGroup, &f.Admin.ID, "Ada"); !problem.Is(err, problem.Invalid) {
		t.Fatalf("assign outside the group: %v", err)
	}
	if err := f.Conv.Assign(ctx, f.Admin.TenantID, r.CaseID, otherGroup, nil, "Ada"); err != nil {
		t.Fatal(err)
	}
	if err := f.Conv.AddNote(ctx, f.Admin.TenantID, f.Admin.ID, r.CaseID, "VIP client, be quick"); err != nil {
		t.Fatal(err)
	}
	c, _ = f.Conv.Case(ctx, f.Admin.TenantID, r.CaseID)
	if c.GroupID != otherGroup || c.AssigneeID != nil {
		t.Fatalf("after transfer: %+v", c)
	}
	ms, _ := f.Conv.Messages(ctx, f.Admin.TenantID, r.CaseID)
	var kinds []string
	for _, m := range ms {
		kinds = append(kinds, m.Kind+":"+m.Body)
	}
	want := []string{"event:Chat started on WhatsApp (+15550001111)", "text:hi", "event:Ada took the chat", "event:Ada transferred the chat to Billing", "note:VIP client, be quick"}
	if fmt.Sprint(kinds) != fmt.Sprint(want) {
		t.Fatalf("conversation = %q\nwant %q", kinds, want)
	}
}

// TestEndChatForRules is the service function the automation rules call
// for "end chat and set status".
func TestEndChatForRules(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	r := f.receive(t, "SM1", "+15557654321", "hi")
	if err := f.Conv.EndChat(ctx, f.Admin.TenantID, r.CaseID, "open", "rule 'After hours'"); err != nil {
		t.Fatal(err)
	}
	cs, _, _ := f.Conv.Cases(ctx, f.Admin.TenantID, conversation.CaseFilter{Status: "open"}, 10)
	if len(cs) != 1 || cs[0].ID != r.CaseID || *cs[0].EndedBy != "rule 'After hours'" {
		t.Fatalf("All cases after the rule: %+v", cs)
	}
	if err := f.Conv.EndChat(ctx, f.Admin.TenantID, r.CaseID, "nonsense", "x"); !problem.Is(err, problem.Invalid) {
		t.Fatalf("unknown status: %v", err)
	}
}

// TestSendQueuedInsideWindowFailsAfterItClosed: a reply stored while the
// window was open, but attempted after it closed, fails with the window
// message and never reaches the provider (this fixture has none).
func TestSendQueuedInsideWindowFailsAfterItClosed(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	r := f.receive(t, "SM1", "+15557654321", "hi")
	f.clock.Advance(conversation.Window - time.Minute)
	m, err := f.Conv.SendReply(ctx, f.Admin.TenantID, f.Admin.ID, r.CaseID, conversation.Reply{Body: "almost too late"})
	if err != nil {
		t.Fatal(err)
	}
	f.clock.Advance(2 * time.Minute)
	if err := f.Conv.Deliver(ctx, f.Admin.TenantID, m.ID, false); err != nil {
		t.Fatal(err)
	}
	ms, _ := f.Conv.Messages(ctx, f.Admin.TenantID, r.CaseID)
	last := ms[len(ms)-1]
	if last.Status != "failed" || last.ErrorMessage == nil || *last.ErrorMessage != "The 24-hour window is closed: only an approved template can be sent" || last.ProviderMessageID != nil {
		t.Fatalf("late send: %+v", last)
	}
	// Running the job again changes nothing.
	if err := f.Conv.Deliver(ctx, f.Admin.TenantID, m.ID, false); err != nil {
		t.Fatal(err)
	}
}
