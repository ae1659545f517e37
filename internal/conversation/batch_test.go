package conversation_test

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"sync"
	"testing"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"parley/internal/channel"
	"parley/internal/postgres"
	"parley/internal/realtime"
	"parley/internal/ruleevent"
)

// Messages that arrive together are stored by one batch, each exactly as
// alone: duplicates recognised, a new client's chat opened, files queued.
func TestBatchStoresEachMessageAsAlone(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	const ann, bob, cyd = "+15550000001", "+15550000002", "+15550000003"
	chatA := f.receive(t, "A1", ann, "first from Ann").CaseID
	chatB := f.receive(t, "B1", bob, "first from Bob").CaseID
	in := func(sid, from, body string) channel.Inbound {
		return channel.Inbound{ProviderMessageID: sid, From: from, Body: body, At: f.clock.Now()}
	}
	loc := in("B2", bob, "")
	loc.Location = &channel.Location{Latitude: "52.52", Longitude: "13.40", Label: "Office"}
	tap := in("B3", bob, "Yes, please")
	tap.ButtonPayload = "confirm"
	photo := in("C2", cyd, "")
	photo.Media = []channel.MediaRef{{URL: "https://api.twilio.com/media/ME1", ContentType: "image/jpeg"}}

	res, errs := f.Conv.StoreBatch(ctx, f.IG, []channel.Inbound{
		in("A2", ann, "second from Ann"),
		loc,
		in("C1", cyd, "hello"), // a new client
		in("A3", ann, "third from Ann"),
		in("A2", ann, "second from Ann"), // delivered twice in the batch
		in("A1", ann, "first from Ann"),  // stored before
		photo,                            // the new client again, with a file
		tap,
	})
	chatC := res[2].CaseID
	want := []struct {
		caseID    int64
		stored    bool
		duplicate bool
		newChat   bool
	}{
		{chatA, true, false, false},
		{chatB, true, false, false},
		{chatC, true, false, true},
		{chatA, true, false, false},
		{0, false, true, false},
		{0, false, true, false},
		{chatC, true, false, false},
		{chatB, true, false, false},
	}
	if chatC == 0 || chatC == chatA || chatC == chatB {
		t.Fatalf("the new client's message went to chat %d", chatC)
	}
	for i, w := range want {
		r := res[i]
		if r.CaseID != w.caseID || (r.MessageID != 0) != w.stored || r.Duplicate != w.duplicate || r.NewChat != w.newChat || errs[i] != nil {
			t.Errorf("message %d: %+v (%v), want %+v", i, r, errs[i], w)
		}
	}
	if n := f.Count(t, `SELECT count(*) FROM attachments a JOIN messages m ON m.id = a.message_id WHERE m.provider_message_id = 'C2' AND a.state = 'pending'`); n != 1 {
		t.Errorf("%d pending files of the photo, want 1", n)
	}
	if n := f.Count(t, `SELECT count(*) FROM river_job WHERE kind = 'fetch_media'`); n != 1 {
		t.Errorf("%d file downloads queued, want 1", n)
	}
	if n := f.Count(t, `SELECT count(*) FROM cases WHERE number > 0`); n != 3 {
		t.Errorf("%d numbered chats, want 3", n)
	}
	if n := f.Count(t, `SELECT count(*) FROM messages WHERE direction = 'in'`); n != 8 {
		t.Fatalf("%d inbound messages stored, want 8 (2 before, 6 by the batch)", n)
	}
	// The chats show what a one-by-one store would show.
	for _, c := range []struct {
		id      int64
		unread  int
		preview string
		bodies  []string
	}{
		{chatA, 3, "third from Ann", []string{"first from Ann", "second from Ann", "third from Ann"}},
		{chatB, 3, "Yes, please", []string{"first from Bob", "Office 52.52,13.40", "Yes, please"}},
	} {
		got, err := f.Conv.Case(ctx, f.Admin.TenantID, c.id)
		if err != nil {
			t.Fatal(err)
		}
		if got.Unread != c.unread || got.Preview != c.preview || got.LastClientMessageAt == nil {
			t.Errorf("chat %d: unread %d, preview %q; want %d, %q", c.id, got.Unread, got.Preview, c.unread, c.preview)
		}
		ms, err := f.Conv.Messages(ctx, f.Admin.TenantID, c.id)
		if err != nil {
			t.Fatal(err)
		}
		var bodies []string
		for _, m := range ms {
			if m.Direction == "in" {
				bodies = append(bodies, m.Body)
			}
		}
		if fmt.Sprint(bodies) != fmt.Sprint(c.bodies) {
			t.Errorf("chat %d reads %q, want %q", c.id, bodies, c.bodies)
		}
	}
	var kind, meta string
	err := f.DB.InTenant(ctx, f.Admin.TenantID, func(tx pgx.Tx) error {
		return tx.QueryRow(ctx, `SELECT kind, meta::text FROM messages WHERE provider_message_id = 'B3'`).Scan(&kind, &meta)
	})
	if err != nil || kind != "text" || meta != `{"button_payload": "confirm"}` {
		t.Fatalf("tapped button stored as %s %s (%v)", kind, meta, err)
	}
}

// A batch records its messages' rule events, in order and each in its own
// chain, and queues one rule run for them, in the transaction that stores
// them.
func TestBatchRecordsItsRuleEventsAndOneRun(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	chat := f.receive(t, "A1", "+15550000001", "hi").CaseID
	err := f.DB.InTenant(ctx, f.Admin.TenantID, func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, `INSERT INTO rules (tenant_id, name, trigger) VALUES ($1, 'Tag', 'client_message')`, f.Admin.TenantID)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	f.RuleCache.Forget() // the rule was added behind the rule service's back
	var ins []channel.Inbound
	for i := range 3 {
		ins = append(ins, channel.Inbound{ProviderMessageID: fmt.Sprintf("A%d", i+2), From: "+15550000001", Body: "more", At: f.clock.Now()})
	}
	res, _ := f.Conv.StoreBatch(ctx, f.IG, ins)
	type event struct {
		Trigger   string
		CaseID    int64
		MessageID int64
		Chain     uuid.UUID
		Depth     int
	}
	var evs []event
	err = f.DB.InTenant(ctx, f.Admin.TenantID, func(tx pgx.Tx) error {
		rows, _ := tx.Query(ctx, `SELECT trigger, case_id, message_id, chain, depth FROM rule_event_list ORDER BY id, ord`)
		evs, err = pgx.CollectRows(rows, pgx.RowToStructByPos[event])
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	const ruleJobs = `SELECT count(*) FROM river_job WHERE kind = 'run_rules' AND args->>'tenant_id' = current_tenant()::text`
	if jobs := f.Count(t, ruleJobs); jobs != 1 {
		t.Errorf("%d rule jobs, want 1 for the batch", jobs)
	}
	if len(evs) != 3 {
		t.Fatalf("rule events %+v: want the 3 client messages", evs)
	}
	for i, ev := range evs {
		if ev.Trigger != ruleevent.ClientMessage || ev.CaseID != chat || ev.MessageID != res[i].MessageID || ev.Depth != 1 {
			t.Errorf("event %d = %+v, want message %d of chat %d", i, ev, res[i].MessageID, chat)
		}
	}
	if evs[0].Chain == evs[1].Chain {
		t.Error("two messages share a rule chain: a rule could fire for only one of them")
	}
	// A second batch while the run is still queued records its events and
	// no second job.
	f.Conv.StoreBatch(ctx, f.IG, []channel.Inbound{{ProviderMessageID: "A9", From: "+15550000001", Body: "again", At: f.clock.Now()}})
	if n, jobs := f.Count(t, `SELECT count(*) FROM rule_event_list`), f.Count(t, ruleJobs); n != 4 || jobs != 1 {
		t.Errorf("after a second batch: %d events and %d rule jobs, want 4 and 1", n, jobs)
	}
}

// A batch tells the agents' browsers once, with the statement that stores
// it, naming its senders (whose chats the statement finds): every listening
// connection reads every notification, so one per message cost each of them
// a read per message.
func TestBatchNotifiesOnceNamingItsSenders(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := t.Context()
	f.receive(t, "A1", "+15550000001", "hello")
	f.receive(t, "B1", "+15550000002", "hello")
	conn, err := pgx.Connect(ctx, postgres.ConnString(f.URL))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "LISTEN "+realtime.Channel); err != nil {
		t.Fatal(err)
	}
	in := func(sid, from string) channel.Inbound {
		return channel.Inbound{ProviderMessageID: sid, From: from, Body: "again", At: f.clock.Now()}
	}
	f.Conv.StoreBatch(ctx, f.IG, []channel.Inbound{in("A2", "+15550000001"), in("B2", "+15550000002"), in("A3", "+15550000001")})
	// A marker after the batch: what arrives before it is the batch's.
	if _, err := conn.Exec(ctx, `SELECT pg_notify($1, 'end')`, realtime.Channel); err != nil {
		t.Fatal(err)
	}
	var got []realtime.Event
	for {
		n, err := conn.WaitForNotification(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if n.Payload == "end" {
			break
		}
		var ev realtime.Event
		if err := json.Unmarshal([]byte(n.Payload), &ev); err != nil {
			t.Fatalf("notification %q: %v", n.Payload, err)
		}
		got = append(got, ev)
	}
	want := []realtime.Sender{{IntegrationID: f.IG.ID, Number: "+15550000001"}, {IntegrationID: f.IG.ID, Number: "+15550000002"}}
	if len(got) != 1 || got[0].TenantID != f.Admin.TenantID || got[0].Kind != "message" || !slices.Equal(got[0].Senders, want) {
		t.Errorf("notifications %+v; want one message event of the tenant naming senders %v", got, want)
	}
}

// Many clients writing at once: every message is stored exactly once in
// its chat, whatever batches the deliveries fall into, and one that
// Postgres refuses fails alone (its batch is stored again one by one).
func TestConcurrentMessagesAreStoredOnceAndABadOneFailsAlone(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	const clients, each = 8, 6
	for c := range clients {
		f.receive(t, fmt.Sprintf("C%d-0", c), fmt.Sprintf("+1555000%04d", c), "hello")
	}
	var wg sync.WaitGroup
	for c := range clients {
		for m := 1; m <= each; m++ {
			for range 2 { // every message delivered twice
				wg.Go(func() {
					body := fmt.Sprintf("message %d", m)
					if c == 0 && m == 1 {
						body = "nul \x00 byte" // Postgres text cannot hold it
					}
					_, err := f.Conv.Receive(context.Background(), f.IG, channel.Inbound{
						ProviderMessageID: fmt.Sprintf("C%d-%d", c, m), From: fmt.Sprintf("+1555000%04d", c), Body: body, At: f.clock.Now()})
					if (err != nil) != (c == 0 && m == 1) {
						t.Errorf("client %d message %d: err = %v", c, m, err)
					}
				})
			}
		}
	}
	wg.Wait()
	if n := f.Count(t, `SELECT count(*) FROM messages WHERE direction = 'in'`); n != clients*(1+each)-1 {
		t.Fatalf("%d inbound messages, want %d", n, clients*(1+each)-1)
	}
	if n := f.Count(t, `SELECT count(DISTINCT provider_message_id) FROM messages WHERE direction = 'in'`); n != clients*(1+each)-1 {
		t.Fatalf("%d distinct messages: some stored twice", n)
	}
	if n := f.Count(t, `SELECT count(*) FROM cases WHERE unread <> 1 + $1 - (CASE WHEN number = 1 THEN 1 ELSE 0 END)`, each); n != 0 {
		t.Fatalf("%d chats with a wrong unread count", n)
	}
}

// Chats opened at the same time get the tenant's next numbers, each once:
// the number is taken at the end of the transaction that opens the chat.
func TestChatsOpenedAtOnceAreNumberedOneToN(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	const n = 20
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			if _, err := f.Conv.Receive(context.Background(), f.IG, channel.Inbound{ProviderMessageID: fmt.Sprintf("N%d", i), From: fmt.Sprintf("+1555111%04d", i), Body: "hello", At: f.clock.Now()}); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if got := f.Count(t, `SELECT count(DISTINCT number) FROM cases WHERE number BETWEEN 1 AND $1`, n); got != n {
		t.Fatalf("%d chats numbered 1 to %d, want all %d", got, n, n)
	}
	if got := f.Count(t, `SELECT count(*) FROM cases`); got != n {
		t.Fatalf("%d chats, want %d", got, n)
	}
}
