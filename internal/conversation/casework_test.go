package conversation_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"parley/internal/channel"
	"parley/internal/conversation"
	"parley/internal/problem"
	"parley/internal/tenant"
)

// caseFixture is a fixture with an ended case of Casey's and a second
// agent, Bob, in the integration's group.
type caseFixture struct {
	*fixture
	caseID int64
	number int64
	bob    tenant.Agent
}

func newCaseFixture(t *testing.T) caseFixture {
	t.Helper()
	ctx := context.Background()
	f := newFixture(t)
	r := f.receive(t, "SM1", "+15557654321", "Where is my order?")
	tid := f.Admin.TenantID
	bob, _, err := f.Tenants.CreateAgent(ctx, tid, tenant.NewAgentForm{Email: "bob@acme.test", Name: "Bob", Role: "agent", Password: "bobs long password"})
	if err != nil {
		t.Fatal(err)
	}
	g, err := f.Tenants.Group(ctx, tid, f.IG.DefaultGroupID)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Tenants.UpdateGroup(ctx, tid, g.ID, g.Name, append(g.MemberIDs, bob.ID)); err != nil {
		t.Fatal(err)
	}
	if err := f.Conv.EndChat(ctx, tid, r.CaseID, "solved", "Ada"); err != nil {
		t.Fatal(err)
	}
	c, err := f.Conv.Case(ctx, tid, r.CaseID)
	if err != nil {
		t.Fatal(err)
	}
	return caseFixture{fixture: f, caseID: r.CaseID, number: c.Number, bob: bob}
}

func (f caseFixture) outgoing(t *testing.T) []conversation.Message {
	t.Helper()
	ms, err := f.Conv.Messages(context.Background(), f.Admin.TenantID, f.caseID)
	if err != nil {
		t.Fatal(err)
	}
	var out []conversation.Message
	for _, m := range ms {
		if m.Direction == "out" {
			out = append(out, m)
		}
	}
	return out
}

func (f caseFixture) events(t *testing.T) []string {
	t.Helper()
	ms, err := f.Conv.Messages(context.Background(), f.Admin.TenantID, f.caseID)
	if err != nil {
		t.Fatal(err)
	}
	var ev []string
	for _, m := range ms {
		if m.Kind == "event" || m.Kind == "note" {
			ev = append(ev, m.Kind+": "+m.Body)
		}
	}
	return ev
}

func hasEntry(entries []string, want string) bool {
	for _, e := range entries {
		if e == want {
			return true
		}
	}
	return false
}

func TestReplyFromCaseReopensItAndItEndsAgain(t *testing.T) {
	t.Parallel()
	f := newCaseFixture(t)
	ctx := context.Background()
	tid := f.Admin.TenantID
	f.clock.Advance(time.Hour)

	reply := conversation.Reply{Body: "We found your parcel.", IdempotencyKey: "case-reply-1", Seen: conversation.StateEnded}
	m1, err := f.Conv.SendReply(ctx, tid, f.bob.ID, f.caseID, reply)
	if err != nil {
		t.Fatal(err)
	}
	// A double click posts the same form again: stored once.
	m2, err := f.Conv.SendReply(ctx, tid, f.bob.ID, f.caseID, reply)
	if err != nil || m2.ID != m1.ID {
		t.Fatalf("the same reply again: %v, message %d (first %d)", err, m2.ID, m1.ID)
	}
	if out := f.outgoing(t); len(out) != 1 || out[0].Body != "We found your parcel." || out[0].Status != "queued" {
		t.Fatalf("outgoing = %+v", out)
	}
	c, _ := f.Conv.Case(ctx, tid, f.caseID)
	if c.State != conversation.StateLive || c.Number != f.number || c.AssigneeID == nil || *c.AssigneeID != f.bob.ID || c.EndedAt != nil || c.EndedBy != nil {
		t.Fatalf("reopened case = %+v", c)
	}
	if !hasEntry(f.events(t), "event: Case reopened by Bob with a reply · assigned to Bob") {
		t.Fatalf("events = %q", f.events(t))
	}
	ms, _ := f.Conv.Messages(ctx, tid, f.caseID)
	if ms[1].Body != "Where is my order?" {
		t.Fatalf("the history was not kept: %q", ms[1].Body)
	}
	// Back on the chats page, Bob's.
	live, _ := f.Conv.LiveChats(ctx, tid, f.bob.ID)
	if len(live) != 1 || live[0].ID != f.caseID {
		t.Fatalf("Bob's live chats = %+v", live)
	}
	// And out of All cases while live.
	if page, _, _ := f.Conv.Cases(ctx, tid, conversation.CaseFilter{}, 50); len(page) != 0 {
		t.Fatalf("All cases lists the live chat: %+v", page)
	}

	// It ends by the usual rules: the idle timeout counts from the reply.
	f.clock.Advance(10*time.Minute - time.Second)
	if n, err := f.Conv.EndIdleChats(ctx); err != nil || n != 0 {
		t.Fatalf("before the timeout: ended %d, %v", n, err)
	}
	f.clock.Advance(time.Second)
	if n, err := f.Conv.EndIdleChats(ctx); err != nil || n != 1 {
		t.Fatalf("at the timeout: ended %d, %v", n, err)
	}
	c, _ = f.Conv.Case(ctx, tid, f.caseID)
	if c.State != conversation.StateEnded || c.Number != f.number {
		t.Fatalf("after the timeout = %+v", c)
	}

	// Reopened a second time, it ends with End chat.
	if _, err := f.Conv.SendReply(ctx, tid, f.Admin.ID, f.caseID, conversation.Reply{Body: "One more thing", IdempotencyKey: "case-reply-2", Seen: conversation.StateEnded}); err != nil {
		t.Fatal(err)
	}
	if err := f.Conv.EndChat(ctx, tid, f.caseID, "closed", "Ada"); err != nil {
		t.Fatal(err)
	}
	c, _ = f.Conv.Case(ctx, tid, f.caseID)
	if c.State != conversation.StateEnded || c.Status != "closed" || *c.AssigneeID != f.Admin.ID {
		t.Fatalf("ended again = %+v", c)
	}
	if page, _, _ := f.Conv.Cases(ctx, tid, conversation.CaseFilter{}, 50); len(page) != 1 || page[0].ID != f.caseID {
		t.Fatalf("All cases = %+v", page)
	}
}

func TestStaleReplyToACaseIsRefusedAndSendsNothing(t *testing.T) {
	t.Parallel()
	f := newCaseFixture(t)
	ctx := context.Background()
	tid := f.Admin.TenantID

	// Ada reopens the case; Bob's page still shows it ended.
	if _, err := f.Conv.SendReply(ctx, tid, f.Admin.ID, f.caseID, conversation.Reply{Body: "Ada here", IdempotencyKey: "ada", Seen: conversation.StateEnded}); err != nil {
		t.Fatal(err)
	}
	_, err := f.Conv.SendReply(ctx, tid, f.bob.ID, f.caseID, conversation.Reply{Body: "Bob here", IdempotencyKey: "bob", Seen: conversation.StateEnded})
	if p, ok := problem.As(err); !ok || p.Kind != problem.Conflict || !strings.Contains(p.Msg, "Ada reopened this case a moment ago") || !strings.Contains(p.Msg, "Nothing was sent") {
		t.Fatalf("stale reply to a reopened case: %v", err)
	}
	c, _ := f.Conv.Case(ctx, tid, f.caseID)
	if out := f.outgoing(t); len(out) != 1 || *c.AssigneeID != f.Admin.ID {
		t.Fatalf("outgoing = %d, assignee %d", len(out), *c.AssigneeID)
	}

	// The chat ends; a reply from a chats page that still shows it live.
	if err := f.Conv.EndChat(ctx, tid, f.caseID, "solved", "Ada"); err != nil {
		t.Fatal(err)
	}
	_, err = f.Conv.SendReply(ctx, tid, f.Admin.ID, f.caseID, conversation.Reply{Body: "Still there?", IdempotencyKey: "ada-2", Seen: conversation.StateLive})
	if p, ok := problem.As(err); !ok || p.Kind != problem.Conflict || !strings.Contains(p.Msg, "ended meanwhile") {
		t.Fatalf("stale reply to an ended chat: %v", err)
	}
	c, _ = f.Conv.Case(ctx, tid, f.caseID)
	if out := f.outgoing(t); len(out) != 1 || c.State != conversation.StateEnded {
		t.Fatalf("outgoing = %d, state %s", len(out), c.State)
	}
}

func TestReplyFromCaseOutsideTheWindowNeedsATemplate(t *testing.T) {
	t.Parallel()
	f := newCaseFixture(t)
	ctx := context.Background()
	tid := f.Admin.TenantID
	f.clock.Advance(25 * time.Hour)

	_, err := f.Conv.SendReply(ctx, tid, f.bob.ID, f.caseID, conversation.Reply{Body: "Hello again", IdempotencyKey: "text", Seen: conversation.StateEnded})
	if p, ok := problem.As(err); !ok || p.Msg != channel.WindowClosedMessage {
		t.Fatalf("free text outside the window: %v", err)
	}
	if c, _ := f.Conv.Case(ctx, tid, f.caseID); c.State != conversation.StateEnded {
		t.Fatalf("a refused reply reopened the case: %s", c.State)
	}
	tpl := &conversation.TemplateUse{Template: channel.Template{ID: "HXfollowup", Name: "follow_up", Language: "en", Body: "Hello {{1}}, any news?",
		Variables: []channel.Variable{{Key: "1"}}}, Values: map[string]string{"1": "Casey"}}
	if _, err := f.Conv.SendReply(ctx, tid, f.bob.ID, f.caseID, conversation.Reply{Template: tpl, IdempotencyKey: "tpl", Seen: conversation.StateEnded}); err != nil {
		t.Fatal(err)
	}
	c, _ := f.Conv.Case(ctx, tid, f.caseID)
	out := f.outgoing(t)
	if c.State != conversation.StateLive || len(out) != 1 || out[0].Kind != "template" || out[0].Body != "Hello Casey, any news?" {
		t.Fatalf("case %s, outgoing %+v", c.State, out)
	}
}

func TestReplyToAnotherTenantsCaseIsNotFound(t *testing.T) {
	t.Parallel()
	f := newCaseFixture(t)
	ctx := context.Background()
	other, err := f.Tenants.SignUp(ctx, tenant.SignUpForm{Company: "Rival", Name: "Eve", Email: "eve@rival.test", Password: "long enough password"})
	if err != nil {
		t.Fatal(err)
	}
	_, err = f.Conv.SendReply(ctx, other.TenantID, other.ID, f.caseID, conversation.Reply{Body: "hi", IdempotencyKey: "eve", Seen: conversation.StateEnded})
	if !problem.Is(err, problem.NotFound) {
		t.Fatalf("reply to another tenant's case: %v", err)
	}
	for name, err := range map[string]error{
		"status": f.Conv.SetStatus(ctx, other.TenantID, f.caseID, "open", "Eve"),
		"tag":    f.Conv.Tag(ctx, other.TenantID, f.caseID, "x", false, "Eve"),
		"note":   f.Conv.AddNote(ctx, other.TenantID, other.ID, f.caseID, "x"),
	} {
		if !problem.Is(err, problem.NotFound) {
			t.Errorf("%s on another tenant's case: %v", name, err)
		}
	}
	if out := f.outgoing(t); len(out) != 0 {
		t.Fatalf("outgoing = %+v", out)
	}
	if c, _ := f.Conv.Case(ctx, f.Admin.TenantID, f.caseID); c.State != conversation.StateEnded || c.Status != "solved" || len(c.Tags) != 0 {
		t.Fatalf("case = %+v", c)
	}
}

func TestWorkingACaseRecordsEachChange(t *testing.T) {
	t.Parallel()
	f := newCaseFixture(t)
	ctx := context.Background()
	tid := f.Admin.TenantID

	if err := f.Conv.SetStatus(ctx, tid, f.caseID, "pending", "Ada"); err != nil {
		t.Fatal(err)
	}
	if err := f.Conv.Tag(ctx, tid, f.caseID, "  VIP ", false, "Ada"); err != nil {
		t.Fatal(err)
	}
	if err := f.Conv.Tag(ctx, tid, f.caseID, "refund", false, "Ada"); err != nil {
		t.Fatal(err)
	}
	if err := f.Conv.Tag(ctx, tid, f.caseID, "refund", true, "Bob"); err != nil {
		t.Fatal(err)
	}
	if err := f.Conv.AddNote(ctx, tid, f.bob.ID, f.caseID, "Called the courier."); err != nil {
		t.Fatal(err)
	}
	bob := f.bob.ID
	if err := f.Conv.Assign(ctx, tid, f.caseID, f.IG.DefaultGroupID, &bob, "Ada"); err != nil {
		t.Fatal(err)
	}
	c, _ := f.Conv.Case(ctx, tid, f.caseID)
	if c.Status != "pending" || len(c.Tags) != 1 || c.Tags[0] != "vip" || c.AssigneeID == nil || *c.AssigneeID != bob || c.State != conversation.StateEnded {
		t.Fatalf("case = %+v", c)
	}
	ev := f.events(t)
	for _, want := range []string{
		"event: Status set to pending by Ada", "event: Tag vip added by Ada", "event: Tag refund added by Ada",
		"event: Tag refund removed by Bob", "note: Called the courier.", "event: Ada assigned the case to Bob (" + c.GroupName + ")",
	} {
		if !hasEntry(ev, want) {
			t.Errorf("no %q in %q", want, ev)
		}
	}

	// Bad input changes nothing and says why.
	n := len(ev)
	err := f.Conv.Tag(ctx, tid, f.caseID, strings.Repeat("x", 200), false, "Ada")
	if p, ok := problem.As(err); !ok || p.Kind != problem.Invalid || p.Fields["tag"] != "A tag is at most 50 characters; this one has 200. Shorten it." {
		t.Fatalf("a tag of 200 characters: %v", err)
	}
	err = f.Conv.SetStatus(ctx, tid, f.caseID, "escalated", "Ada")
	if p, ok := problem.As(err); !ok || p.Kind != problem.Invalid || !strings.Contains(p.Fields["status"], "“escalated” is not one of this workspace's statuses (open, pending, solved, closed)") {
		t.Fatalf("a status not in the list: %v", err)
	}
	if err := f.Conv.SetStatus(ctx, tid, f.caseID, "pending", "Ada"); err != nil {
		t.Fatal(err) // already so: no event
	}
	c, _ = f.Conv.Case(ctx, tid, f.caseID)
	if got := len(f.events(t)); got != n || c.Status != "pending" || len(c.Tags) != 1 {
		t.Fatalf("refused changes changed the case: %d entries (was %d), %+v", got, n, c)
	}
}

func TestStatusesAreTheTenantsList(t *testing.T) {
	t.Parallel()
	f := newCaseFixture(t)
	ctx := context.Background()
	tid := f.Admin.TenantID

	// The status End chat proposes (solved) cannot be removed.
	err := f.Tenants.UpdateStatuses(ctx, tid, []string{"open", "waiting on client"})
	if p, ok := problem.As(err); !ok || !strings.Contains(p.Fields["statuses"], "“solved” is the status End chat proposes") {
		t.Fatalf("removing the end status: %v", err)
	}
	if err := f.Tenants.UpdateStatuses(ctx, tid, []string{"open", " Waiting   on client ", "solved", "open", ""}); err != nil {
		t.Fatal(err)
	}
	if st, _ := f.Tenants.Statuses(ctx, tid); strings.Join(st, "|") != "open|waiting on client|solved" {
		t.Fatalf("statuses = %q", st)
	}
	err = f.Tenants.UpdateStatuses(ctx, tid, []string{strings.Repeat("y", 31), "solved"})
	if p, ok := problem.As(err); !ok || p.Kind != problem.Invalid {
		t.Fatalf("a status of 31 characters: %v", err)
	}

	// The case page, End chat and a macro's status on a reply use the list.
	if err := f.Conv.SetStatus(ctx, tid, f.caseID, "waiting on client", "Ada"); err != nil {
		t.Fatal(err)
	}
	if err := f.Conv.SetStatus(ctx, tid, f.caseID, "pending", "Ada"); !problem.Is(err, problem.Invalid) {
		t.Fatalf("a removed status: %v", err)
	}
	_, err = f.Conv.SendReply(ctx, tid, f.Admin.ID, f.caseID, conversation.Reply{Body: "hi", Status: "pending", IdempotencyKey: "k", Seen: conversation.StateEnded})
	if !problem.Is(err, problem.Invalid) {
		t.Fatalf("a macro's removed status: %v", err)
	}
	if c, _ := f.Conv.Case(ctx, tid, f.caseID); c.State != conversation.StateEnded || len(f.outgoing(t)) != 0 {
		t.Fatalf("a refused reply changed the case: %+v", c)
	}
	if _, err := f.Conv.SendReply(ctx, tid, f.Admin.ID, f.caseID, conversation.Reply{Body: "hi", Status: "open", IdempotencyKey: "k2", Seen: conversation.StateEnded}); err != nil {
		t.Fatal(err)
	}
	if err := f.Conv.EndChat(ctx, tid, f.caseID, "pending", "Ada"); !problem.Is(err, problem.Invalid) {
		t.Fatalf("End chat with a removed status: %v", err)
	}
	if err := f.Conv.EndChat(ctx, tid, f.caseID, "waiting on client", "Ada"); err != nil {
		t.Fatal(err)
	}
	if c, _ := f.Conv.Case(ctx, tid, f.caseID); c.Status != "waiting on client" {
		t.Fatalf("status = %q", c.Status)
	}
}
