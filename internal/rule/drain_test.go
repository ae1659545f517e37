package rule_test

import (
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"parley/internal/channel"
	"parley/internal/clock"
	"parley/internal/conversation"
	"parley/internal/conversation/convtest"
	"parley/internal/postgres"
	"parley/internal/postgres/pgtest"
	"parley/internal/rule"
	"parley/internal/ruleevent"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

// fixture is a tenant with a Twilio integration and one rule, "a client
// writes → add the note 'seen'", and Parley without workers: the tests
// run the rule events themselves.
type fixture struct {
	*convtest.Fixture
	rules *rule.Service
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	c := convtest.New(t, clock.Real{})
	f := &fixture{Fixture: c, rules: c.Rules}
	if err := f.DB.InTenant(t.Context(), f.Admin.TenantID, func(tx pgx.Tx) error {
		_, err := tx.Exec(t.Context(), `INSERT INTO rules (tenant_id, name, trigger, actions) VALUES (current_tenant(), 'Seen', 'client_message', '[{"kind":"add_note","value":"seen"}]')`)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	return f
}

// receive stores a client's message as a webhook would.
func (f *fixture) receive(t *testing.T, sid, from, body string) conversation.Received {
	t.Helper()
	r, err := f.Conv.Receive(t.Context(), f.IG, channel.Inbound{ProviderMessageID: sid, From: from, Body: body})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// drain runs the tenant's rule events until none is left.
func (f *fixture) drain(t *testing.T) {
	t.Helper()
	for f.Count(t, `SELECT count(*) FROM rule_event_list`) > 0 {
		if err := f.rules.Drain(t.Context(), f.Admin.TenantID); err != nil {
			t.Fatal(err)
		}
	}
}

// queuedRun says whether the tenant's rule run is marked queued and a job
// for it is waiting.
func (f *fixture) queuedRun(t *testing.T) bool {
	return f.Count(t, `SELECT count(*) FROM rule_queues WHERE queued`) == 1 &&
		f.Count(t, `SELECT count(*) FROM river_job WHERE kind = 'run_rules' AND state = 'available' AND args->>'tenant_id' = current_tenant()::text`) > 0
}

// failRulesIn makes every run of the rules fail on chat's events: a rule
// that names a deleted group, before "Seen", has each run record in the
// chat that it was skipped, which Postgres refuses for that chat.
func (f *fixture) failRulesIn(t *testing.T, chat int64) {
	t.Helper()
	ctx := t.Context()
	if err := f.DB.InTenant(ctx, f.Admin.TenantID, func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, `INSERT INTO rules (tenant_id, name, trigger, position, actions)
			VALUES (current_tenant(), 'Broken', 'client_message', -1, '[{"kind":"assign_group","value":"999999"}]')`)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	f.RuleCache.Forget() // changed behind the rule service's back
	owner, err := pgx.Connect(ctx, postgres.ConnString(f.URL))
	if err != nil {
		t.Fatal(err)
	}
	defer owner.Close(ctx)
	if _, err := owner.Exec(ctx, fmt.Sprintf(`CREATE FUNCTION refuse_event() RETURNS trigger LANGUAGE plpgsql AS $$
		BEGIN IF NEW.kind = 'event' AND NEW.case_id = %d THEN RAISE EXCEPTION 'no events here'; END IF; RETURN NEW; END $$;
		CREATE TRIGGER refuse_event BEFORE INSERT ON messages FOR EACH ROW EXECUTE FUNCTION refuse_event()`, chat)); err != nil {
		t.Fatal(err)
	}
}

// Clients write while rule runs take the events: every message's rules
// run exactly once, and whenever events wait, a run is queued for them —
// an event recorded just as a run finishes is not left behind.
func TestEventsRecordedWhileRunsTakeThemAllRunOnce(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := t.Context()
	const writers, each = 4, 40
	for round := range 3 {
		var wg sync.WaitGroup
		done := make(chan struct{})
		for w := range writers {
			wg.Go(func() {
				for i := range each {
					from := fmt.Sprintf("+1555000%02d%02d", w, i%5)
					if _, err := f.Conv.Receive(ctx, f.IG, channel.Inbound{ProviderMessageID: fmt.Sprintf("SM%d-%d-%d", round, w, i), From: from, Body: "hello"}); err != nil {
						t.Error(err)
					}
				}
			})
		}
		var runs sync.WaitGroup
		for range 2 {
			runs.Go(func() {
				for {
					select {
					case <-done:
						return
					default:
					}
					if err := f.rules.Drain(ctx, f.Admin.TenantID); err != nil && !errors.Is(err, rule.ErrBusy) {
						t.Error(err)
						return
					}
				}
			})
		}
		wg.Wait()
		close(done)
		runs.Wait()
		if f.Count(t, `SELECT count(*) FROM rule_event_list`) > 0 && !f.queuedRun(t) {
			t.Fatalf("round %d: rule events wait and no run is queued for them", round)
		}
		f.drain(t)
	}
	msgs := f.Count(t, `SELECT count(*) FROM messages WHERE direction = 'in'`)
	if notes := f.Count(t, `SELECT count(*) FROM messages WHERE kind = 'note' AND body = 'seen'`); msgs != 3*writers*each || notes != msgs {
		t.Errorf("%d client messages, %d notes: want %d of each", msgs, notes, 3*writers*each)
	}
	if n := f.Count(t, `SELECT count(*) FROM cases c WHERE (SELECT count(*) FROM messages m WHERE m.case_id = c.id AND m.kind = 'note')
		<> (SELECT count(*) FROM messages m WHERE m.case_id = c.id AND m.direction = 'in')`); n != 0 {
		t.Errorf("%d chats whose notes do not match their messages", n)
	}
}

// The race a queued run must not lose: a change records its event, sees a
// run queued and so queues none, and commits only after that run started.
// The run waits for the change's commit before it takes the events, so it
// runs that event too.
func TestARunStartingBeforeAChangeCommitsRunsItsEvent(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := t.Context()
	f.receive(t, "SM1", "+15550000001", "first")
	second := f.receive(t, "SM2", "+15550000002", "second")
	if !f.queuedRun(t) {
		t.Fatal("no run queued for the first events")
	}
	// The change: records an event while the run is queued, commits late.
	tx, err := f.DB.Pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(ctx)
	if err := f.DB.Scope(ctx, tx, f.Admin.TenantID); err != nil {
		t.Fatal(err)
	}
	if err := f.Events.Record(ctx, tx, f.Admin.TenantID, ruleevent.ClientMessage, 0,
		[]ruleevent.Event{{CaseID: second.CaseID, MessageID: second.MessageID, Chain: ruleevent.NewChain()}}); err != nil {
		t.Fatal(err)
	}
	ran := make(chan error, 1)
	go func() { ran <- f.rules.Drain(ctx, f.Admin.TenantID) }()
	// Let the run get as far as it can before the change commits: to its
	// end, or to waiting for the change.
	for waiting := 0; waiting == 0; {
		select {
		case err := <-ran:
			ran <- err
			waiting = 1
		case <-time.After(10 * time.Millisecond):
			waiting = f.Count(t, `SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted
				AND database = (SELECT oid FROM pg_database WHERE datname = current_database())`)
		}
	}
	if err := tx.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	if err := <-ran; err != nil {
		t.Fatal(err)
	}
	if f.Count(t, `SELECT count(*) FROM rule_event_list`) > 0 && !f.queuedRun(t) {
		t.Fatal("the change's event waits and no run is queued for it")
	}
	f.drain(t)
	if n := f.Count(t, `SELECT count(*) FROM messages WHERE kind = 'note'`); n != 3 {
		t.Errorf("%d notes, want 3", n)
	}
}

// While one run takes a tenant's events, another waits its turn; a run
// that died holding its turn lets the next in after its lease.
func TestRunsTakeTurns(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := t.Context()
	f.receive(t, "SM1", "+15550000001", "hello")
	lease := func(until string) {
		t.Helper()
		if err := f.DB.InTenant(ctx, f.Admin.TenantID, func(tx pgx.Tx) error {
			_, err := tx.Exec(ctx, `UPDATE rule_queues SET draining_until = now() + $1::interval`, until)
			return err
		}); err != nil {
			t.Fatal(err)
		}
	}
	lease("1 minute")
	if err := f.rules.Drain(ctx, f.Admin.TenantID); !errors.Is(err, rule.ErrBusy) {
		t.Fatalf("Drain during another run: %v, want ErrBusy", err)
	}
	if n := f.Count(t, `SELECT count(*) FROM rule_event_list`); n != 1 {
		t.Fatalf("%d events after a run that had to wait, want 1 untouched", n)
	}
	lease("-1 second") // the other run died
	f.drain(t)
	if n := f.Count(t, `SELECT count(*) FROM messages WHERE kind = 'note'`); n != 1 {
		t.Errorf("%d notes, want 1", n)
	}
}

// An event whose rules keep failing is tried a few times and then dropped
// (logged), so that it does not hold up the tenant's other events.
func TestAFailingEventIsDroppedAfterAttempts(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := t.Context()
	first := f.receive(t, "SM1", "+15550000001", "boom")
	f.failRulesIn(t, first.CaseID)
	f.receive(t, "SM2", "+15550000002", "fine")
	for i := range 5 {
		if err := f.rules.Drain(ctx, f.Admin.TenantID); err == nil {
			t.Fatalf("run %d: no error from a run Postgres refuses", i+1)
		}
		if n := f.Count(t, `SELECT count(*) FROM messages WHERE kind = 'note'`); n != 0 {
			t.Fatalf("run %d: the event after the failing one ran first", i+1)
		}
	}
	if !f.queuedRun(t) {
		t.Error("the failed runs left events without a queued run")
	}
	f.drain(t)
	if n := f.Count(t, `SELECT count(*) FROM messages WHERE kind = 'note'`); n != 1 {
		t.Errorf("%d notes after the failing event was dropped, want 1 (the other chat's)", n)
	}
}

// A client's message that no rule may fire for, told from the rules' text
// conditions, records no rule event — alone or in a batch; one that a rule
// may fire for does, and its rule runs. A broken rule is skipped, with the
// reason recorded, only for the messages whose text it would take.
func TestMessagesNoRuleMayFireForRecordNoEvent(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := t.Context()
	if err := f.DB.InTenant(ctx, f.Admin.TenantID, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `UPDATE rules SET conditions = '[{"field":"text_contains","value":"Refund"}]'`); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `INSERT INTO rules (tenant_id, name, trigger, conditions, actions) VALUES (current_tenant(), 'Broken', 'client_message',
			'[{"field":"text_contains","value":"invoice"}]', '[{"kind":"assign_group","value":"999999"}]')`)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	f.RuleCache.Forget()                                 // changed behind the rule service's back
	f.receive(t, "SM1", "+15550000001", "hello")         // opens the chat: stored alone
	f.receive(t, "SM2", "+15550000001", "hello again")   // a live chat's message: stored by a batch
	f.receive(t, "SM3", "+15550000001", "REFUND please") // the rule may fire
	f.receive(t, "SM4", "+15550000001", "my invoice?")   // only the broken rule would
	if n := f.Count(t, `SELECT count(*) FROM rule_event_list`); n != 2 {
		t.Errorf("%d rule events, want 2 (the refund and the invoice)", n)
	}
	f.drain(t)
	if n := f.Count(t, `SELECT count(*) FROM messages WHERE kind = 'note' AND body = 'seen'`); n != 1 {
		t.Errorf("%d notes, want 1 (the refund)", n)
	}
	if n := f.Count(t, `SELECT count(*) FROM messages WHERE kind = 'event' AND body = 'Rule ''Broken'' was skipped: its group was deleted'`); n != 1 {
		t.Errorf("the broken rule was recorded skipped %d times, want once (the invoice)", n)
	}
}

// record records, in one change, the client-message events of the chats
// (one row: a batch of messages records its events so).
func (f *fixture) record(t *testing.T, chats ...int64) {
	t.Helper()
	evs := make([]ruleevent.Event, len(chats))
	for i, c := range chats {
		evs[i] = ruleevent.Event{CaseID: c, Chain: ruleevent.NewChain()}
	}
	if err := f.DB.InTenant(t.Context(), f.Admin.TenantID, func(tx pgx.Tx) error {
		return f.Events.Record(t.Context(), tx, f.Admin.TenantID, ruleevent.ClientMessage, 0, evs)
	}); err != nil {
		t.Fatal(err)
	}
}

// A change's events are one row: an event that fails in its middle holds
// up the ones after it, not the ones before it, which do not run again;
// it is dropped after its attempts, and the ones after it then run.
func TestAnEventFailingInItsChangesMiddleHoldsUpOnlyTheRest(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := t.Context()
	var chats []int64
	for i := range 3 {
		chats = append(chats, f.receive(t, fmt.Sprintf("SM%d", i), fmt.Sprintf("+1555000000%d", i), "hello").CaseID)
	}
	f.drain(t)
	f.failRulesIn(t, chats[1])
	f.record(t, chats...)
	if rows := f.Count(t, `SELECT count(*) FROM rule_events`); rows != 1 {
		t.Fatalf("the change recorded %d rows, want one for its 3 events", rows)
	}
	notes := func(chat int64) int {
		return f.Count(t, `SELECT count(*) FROM messages WHERE kind = 'note' AND case_id = $1`, chat)
	}
	for i := range 5 {
		if err := f.rules.Drain(ctx, f.Admin.TenantID); err == nil {
			t.Fatalf("run %d: no error from a run Postgres refuses", i+1)
		}
		if a, c := notes(chats[0]), notes(chats[2]); a != 2 || c != 1 {
			t.Fatalf("after failed run %d: %d and %d notes in the first and last chats, want 2 (ran once) and 1 (held up)", i+1, a, c)
		}
	}
	f.drain(t)
	if a, b, c := notes(chats[0]), notes(chats[1]), notes(chats[2]); a != 2 || b != 1 || c != 2 {
		t.Errorf("notes %d, %d, %d after the failing event was dropped; want 2, 1, 2", a, b, c)
	}
	if n := f.Count(t, `SELECT count(*) FROM rule_events`); n != 0 {
		t.Errorf("%d rows of rule events left", n)
	}
}

// A change with more events than a run reads at once (a sweep's, say) has
// every one run exactly once, across reads.
func TestAChangeWithMoreEventsThanARunReadsRunsEachOnce(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	a := f.receive(t, "SM1", "+15550000001", "hello").CaseID
	b := f.receive(t, "SM2", "+15550000002", "hello").CaseID
	chats := []int64{b}
	for range rule.DrainChunk + 100 {
		chats = append(chats, a)
	}
	f.record(t, chats...) // after the two messages' own events
	f.drain(t)
	if na, nb := f.Count(t, `SELECT count(*) FROM messages WHERE kind = 'note' AND case_id = $1`, a),
		f.Count(t, `SELECT count(*) FROM messages WHERE kind = 'note' AND case_id = $1`, b); na != rule.DrainChunk+101 || nb != 2 {
		t.Errorf("%d and %d notes, want %d and 2", na, nb, rule.DrainChunk+101)
	}
}
