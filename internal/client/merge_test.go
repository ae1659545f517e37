package client_test

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"parley/internal/client"
	"parley/internal/clock"
	"parley/internal/postgres"
	"parley/internal/postgres/pgtest"
	"parley/internal/problem"
	"parley/internal/tenant"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

type fixture struct {
	db      *postgres.DB
	clients *client.Service
	tenants *tenant.Service
	tid     uuid.UUID
	admin   tenant.Agent
	group   int64
	ig      int64
}

// newFixture makes a tenant (with its default group) and a WhatsApp
// integration, stored directly: no provider is called here.
func newFixture(t *testing.T) *fixture {
	t.Helper()
	db, _ := pgtest.New(t)
	return tenantFixture(t, db)
}

// otherTenant is a second tenant in f's database.
func (f *fixture) otherTenant(t *testing.T) *fixture {
	t.Helper()
	return tenantFixture(t, f.db)
}

func tenantFixture(t *testing.T, db *postgres.DB) *fixture {
	t.Helper()
	ctx := context.Background()
	f := &fixture{db: db, clients: client.NewService(db), tenants: tenant.NewService(db, clock.NewFake(time.Now()))}
	admin, err := f.tenants.SignUp(ctx, tenant.SignUpForm{Company: "Acme", Name: "Ada", Email: fmt.Sprintf("ada%d@acme.test", time.Now().UnixNano()), Password: "long enough password"})
	if err != nil {
		t.Fatal(err)
	}
	f.admin, f.tid = admin, admin.TenantID
	err = db.InTenant(ctx, f.tid, func(tx pgx.Tx) error {
		if err := tx.QueryRow(ctx, `SELECT min(id) FROM groups`).Scan(&f.group); err != nil {
			return err
		}
		return tx.QueryRow(ctx, `INSERT INTO integrations (tenant_id, provider, webhook_token, account, credentials, credentials_hint, sender, default_group_id)
			VALUES ($1, 'twilio', $2, 'AC-' || $2, '\x00', '', '+15550001111', $3) RETURNING id`, f.tid, "hook-"+f.tid.String(), f.group).Scan(&f.ig)
	})
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func (f *fixture) exec(t *testing.T, q string, args ...any) {
	t.Helper()
	err := f.db.InTenant(context.Background(), f.tid, func(tx pgx.Tx) error {
		_, err := tx.Exec(context.Background(), q, args...)
		return err
	})
	if err != nil {
		t.Fatalf("%s: %v", q, err)
	}
}

func (f *fixture) count(t *testing.T, q string, args ...any) int {
	t.Helper()
	var n int
	err := f.db.InTenant(context.Background(), f.tid, func(tx pgx.Tx) error {
		return tx.QueryRow(context.Background(), q, args...).Scan(&n)
	})
	if err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	return n
}

// profile is a client's row as the tests compare it.
type profile struct {
	Name, WhatsApp, Phone, Email, Notes string
	MergedInto                          int64
}

// client creates a client; "" leaves a number or the email empty.
func (f *fixture) client(t *testing.T, p profile) int64 {
	t.Helper()
	var id int64
	err := f.db.InTenant(context.Background(), f.tid, func(tx pgx.Tx) error {
		return tx.QueryRow(context.Background(), `INSERT INTO clients (tenant_id, name, whatsapp, phone, email, notes)
			VALUES ($1, $2, nullif($3, ''), nullif($4, ''), nullif($5, ''), $6) RETURNING id`,
			f.tid, p.Name, p.WhatsApp, p.Phone, p.Email, p.Notes).Scan(&id)
	})
	if err != nil {
		t.Fatal(err)
	}
	return id
}

func (f *fixture) profile(t *testing.T, id int64) profile {
	t.Helper()
	var p profile
	err := f.db.InTenant(context.Background(), f.tid, func(tx pgx.Tx) error {
		return tx.QueryRow(context.Background(), `SELECT name, coalesce(whatsapp, ''), coalesce(phone, ''), coalesce(email, ''), notes, coalesce(merged_into, 0)
			FROM clients WHERE id = $1`, id).Scan(&p.Name, &p.WhatsApp, &p.Phone, &p.Email, &p.Notes, &p.MergedInto)
	})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// chat opens a case for the client with one message in it: live on the
// integration, or ended.
func (f *fixture) chat(t *testing.T, clientID int64, live bool) int64 {
	t.Helper()
	ctx := context.Background()
	var id int64
	err := f.db.InTenant(ctx, f.tid, func(tx pgx.Tx) error {
		var err error
		id, err = insertCase(ctx, tx, f.tid, clientID, f.group, f.ig, live)
		if err != nil {
			return err
		}
		_, err = tx.Exec(ctx, `INSERT INTO messages (tenant_id, case_id, direction, kind, body, status, created_at, updated_at)
			VALUES ($1, $2, 'in', 'text', 'hello', 'received', now(), now())`, f.tid, id)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return id
}

func insertCase(ctx context.Context, tx pgx.Tx, tid uuid.UUID, clientID, group, ig int64, live bool) (int64, error) {
	state, integration := "ended", any(nil)
	if live {
		state, integration = "live", ig
	}
	var id int64
	err := tx.QueryRow(ctx, `WITH n AS (UPDATE tenants SET case_seq = case_seq + 1 RETURNING case_seq)
		INSERT INTO cases (tenant_id, number, client_id, integration_id, group_id, state, status, created_at, last_activity_at)
		SELECT $1, n.case_seq, $2, $3, $4, $5, 'open', now(), now() FROM n RETURNING id`,
		tid, clientID, integration, group, state).Scan(&id)
	return id, err
}

// cases returns the client's cases, by id.
func (f *fixture) cases(t *testing.T, clientID int64) []int64 {
	t.Helper()
	var ids []int64
	err := f.db.InTenant(context.Background(), f.tid, func(tx pgx.Tx) error {
		rows, _ := tx.Query(context.Background(), `SELECT id FROM cases WHERE client_id = $1 ORDER BY id`, clientID)
		var err error
		ids, err = pgx.CollectRows(rows, pgx.RowTo[int64])
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return ids
}

func wantProblem(t *testing.T, err error, kind problem.Kind, msg string) *problem.Error {
	t.Helper()
	p, ok := problem.As(err)
	if !ok || p.Kind != kind || (msg != "" && p.Msg != msg) {
		t.Fatalf("err = %v, want a problem of kind %d %q", err, kind, msg)
	}
	return p
}

func TestMergeCombinesFieldsAndMovesCases(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	survivor := f.client(t, profile{Name: "Casey Jones", Phone: "+15550000001", Email: "casey@example.test", Notes: "VIP"})
	merged := f.client(t, profile{Name: "Casey", WhatsApp: "+15557654321", Phone: "+15550000002", Email: "casey@example.test", Notes: "Prefers mornings"})
	own := f.chat(t, survivor, false)
	moving := []int64{f.chat(t, merged, false), f.chat(t, merged, true)}
	before := map[int64]profile{survivor: f.profile(t, survivor), merged: f.profile(t, merged)}

	pv, err := f.clients.PreviewMerge(ctx, f.tid, survivor, merged)
	if err != nil {
		t.Fatal(err)
	}
	// Numbers never conflict: the client keeps both phones.
	want := []client.Conflict{{Field: "name", Survivor: "Casey Jones", Merged: "Casey"}}
	if pv.Survivor.ID != survivor || pv.Merged.ID != merged || !slices.Equal(pv.Conflicts, want) {
		t.Fatalf("preview = %+v", pv)
	}

	// Without a choice for each conflict, or with a choice that is
	// neither side, nothing changes.
	for _, tc := range []struct {
		choose map[string]string
		fields []string
	}{
		{nil, []string{"choose_name"}},
		{map[string]string{"name": "both"}, []string{"choose_name"}},
		{map[string]string{"name": "theirs", "phone": "survivor", "email": "merged"}, []string{"choose_name"}},
	} {
		_, err = f.clients.Merge(ctx, f.tid, f.admin.ID, survivor, merged, tc.choose)
		p := wantProblem(t, err, problem.Invalid, "")
		var fields []string
		for k := range p.Fields {
			fields = append(fields, k)
		}
		slices.Sort(fields)
		if !slices.Equal(fields, tc.fields) {
			t.Errorf("choose %v: problem fields %v, want %v", tc.choose, p.Fields, tc.fields)
		}
	}
	for id, p := range before {
		if got := f.profile(t, id); got != p {
			t.Fatalf("a refused merge changed client %d: %+v, was %+v", id, got, p)
		}
	}
	if got := f.cases(t, merged); !slices.Equal(got, moving) {
		t.Fatalf("a refused merge moved cases: %v", got)
	}
	if n := f.count(t, `SELECT count(*) FROM client_merges`); n != 0 {
		t.Fatalf("a refused merge recorded %d merges", n)
	}

	m, err := f.clients.Merge(ctx, f.tid, f.admin.ID, survivor, merged, map[string]string{"name": "merged"})
	if err != nil {
		t.Fatal(err)
	}
	if m.SurvivorID != survivor || m.MergedID != merged || m.MergedName != "Casey" || m.AgentName == nil || *m.AgentName != "Ada" ||
		m.MovedCases != 2 || m.At.IsZero() || m.UndoneAt != nil {
		t.Fatalf("merge = %+v", m)
	}
	if got, want := f.profile(t, survivor), (profile{Name: "Casey", WhatsApp: "+15557654321", Phone: "+15550000001", Email: "casey@example.test", Notes: "VIP\n\nPrefers mornings"}); got != want {
		t.Fatalf("survivor = %+v, want %+v", got, want)
	}
	// The merged profile keeps the phone the survivor did not take, for
	// the survivor.
	if got, want := f.profile(t, merged), (profile{Name: "Casey", Phone: "+15550000002", MergedInto: survivor}); got != want {
		t.Fatalf("merged profile = %+v, want %+v", got, want)
	}
	if ns, err := f.clients.MoreNumbers(ctx, f.tid, survivor); err != nil || !slices.Equal(ns, []client.Number{{Kind: "phone", Number: "+15550000002", From: "Casey"}}) {
		t.Fatalf("the survivor's other numbers = %+v, %v", ns, err)
	}
	if got := f.cases(t, survivor); !slices.Equal(got, append([]int64{own}, moving...)) {
		t.Fatalf("survivor's cases = %v", got)
	}
	if got := f.cases(t, merged); len(got) != 0 {
		t.Fatalf("merged profile still has cases %v", got)
	}
	if n := f.count(t, `SELECT count(*) FROM messages WHERE case_id = ANY($1)`, moving); n != 2 {
		t.Fatalf("the moved cases have %d messages, want 2", n)
	}
	// The record holds the fields before and after, and what was merged.
	if n := f.count(t, `SELECT count(*) FROM client_merges WHERE id = $1
		AND survivor_before = '{"name": "Casey Jones", "email": "casey@example.test", "phone": "+15550000001", "whatsapp": null, "notes": "VIP"}'
		AND survivor_after = '{"name": "Casey", "email": "casey@example.test", "phone": "+15550000001", "whatsapp": "+15557654321", "notes": "VIP\n\nPrefers mornings"}'
		AND merged_fields = '{"name": "Casey", "email": "casey@example.test", "phone": "+15550000002", "whatsapp": "+15557654321", "notes": "Prefers mornings"}'
		AND moved_cases = $2`, m.ID, moving); n != 1 {
		t.Fatal("client_merges does not record the merge's fields and cases")
	}

	ms, err := f.clients.Merges(ctx, f.tid, survivor)
	if err != nil || len(ms) != 1 || ms[0].ID != m.ID || ms[0].MergedName != "Casey" || *ms[0].AgentName != "Ada" || ms[0].MovedCases != 2 || !ms[0].At.Equal(m.At) {
		t.Fatalf("merges into survivor = %+v, %v; want [%+v]", ms, err, m)
	}
	if ms, err := f.clients.Merges(ctx, f.tid, merged); err != nil || len(ms) != 0 {
		t.Fatalf("merges into the merged profile = %+v, %v", ms, err)
	}
	// The merged-away profile is no duplicate of anyone.
	other := f.client(t, profile{Name: "Other"})
	dups, err := f.clients.Duplicates(ctx, f.tid, other, "+15557654321", "+15550000002")
	if err != nil || len(dups) != 1 || dups[0].ID != survivor {
		t.Fatalf("duplicates = %+v, %v; want the survivor only", dups, err)
	}
}

func TestMergeTakesEmptyFieldsAndJoinsNotes(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	for _, tc := range []struct {
		survivor, merged, want profile
	}{
		{profile{Name: "Ana"}, profile{Name: "Ana", WhatsApp: "+15550000003", Phone: "+15550000004", Email: "ana@example.test", Notes: "note"},
			profile{Name: "Ana", WhatsApp: "+15550000003", Phone: "+15550000004", Email: "ana@example.test", Notes: "note"}},
		{profile{Name: "Bo", Phone: "+15550000005", Notes: "first"}, profile{Name: "Bo", Phone: "+15550000005", WhatsApp: "+15550000006"},
			profile{Name: "Bo", Phone: "+15550000005", WhatsApp: "+15550000006", Notes: "first"}},
		{profile{Name: "Cy", Notes: "a"}, profile{Name: "", Notes: "b"},
			profile{Name: "Cy", Notes: "a\n\nb"}},
	} {
		s, m := f.client(t, tc.survivor), f.client(t, tc.merged)
		pv, err := f.clients.PreviewMerge(ctx, f.tid, s, m)
		if err != nil || len(pv.Conflicts) != 0 {
			t.Fatalf("preview %+v: %v", pv, err)
		}
		if _, err := f.clients.Merge(ctx, f.tid, f.admin.ID, s, m, nil); err != nil {
			t.Fatal(err)
		}
		if got := f.profile(t, s); got != tc.want {
			t.Errorf("merged %+v into %+v: %+v, want %+v", tc.merged, tc.survivor, got, tc.want)
		}
	}
}

func TestMergeRefusals(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	a, b, c := f.client(t, profile{Name: "A"}), f.client(t, profile{Name: "A"}), f.client(t, profile{Name: "A"})

	_, err := f.clients.Merge(ctx, f.tid, f.admin.ID, a, a, nil)
	wantProblem(t, err, problem.Invalid, "A profile cannot be merged into itself.")
	_, err = f.clients.Merge(ctx, f.tid, f.admin.ID, a, 1<<40, nil)
	wantProblem(t, err, problem.NotFound, "No such client.")
	_, err = f.clients.PreviewMerge(ctx, f.tid, 1<<40, a)
	wantProblem(t, err, problem.NotFound, "No such client.")

	// Another tenant's client is unknown here, either way round.
	g := f.otherTenant(t)
	theirs := g.client(t, profile{Name: "A"})
	_, err = f.clients.Merge(ctx, f.tid, f.admin.ID, a, theirs, nil)
	wantProblem(t, err, problem.NotFound, "No such client.")
	_, err = g.clients.Merge(ctx, g.tid, g.admin.ID, theirs, a, nil)
	wantProblem(t, err, problem.NotFound, "No such client.")
	if g.profile(t, theirs).MergedInto != 0 || f.profile(t, a).MergedInto != 0 {
		t.Fatal("a cross-tenant merge changed something")
	}

	// A profile merged away already can be neither side of a merge.
	if _, err := f.clients.Merge(ctx, f.tid, f.admin.ID, b, a, nil); err != nil {
		t.Fatal(err)
	}
	const merged = "This profile was just merged into another one; reload the page."
	_, err = f.clients.Merge(ctx, f.tid, f.admin.ID, c, a, nil)
	wantProblem(t, err, problem.Conflict, merged)
	_, err = f.clients.Merge(ctx, f.tid, f.admin.ID, a, c, nil)
	wantProblem(t, err, problem.Conflict, merged)
	_, err = f.clients.PreviewMerge(ctx, f.tid, c, a)
	wantProblem(t, err, problem.Conflict, merged)

	// Two live chats on one number cannot become one client's; ended
	// cases, or a live chat on one side only, can.
	d, e := f.client(t, profile{Name: "D"}), f.client(t, profile{Name: "D"})
	f.chat(t, d, true)
	f.chat(t, d, false)
	ePrev := f.chat(t, e, false)
	eLive := f.chat(t, e, true)
	const clash = "Both profiles have a live chat on the same WhatsApp number; end one of the chats first."
	_, err = f.clients.PreviewMerge(ctx, f.tid, d, e)
	wantProblem(t, err, problem.Conflict, clash)
	_, err = f.clients.Merge(ctx, f.tid, f.admin.ID, d, e, nil)
	wantProblem(t, err, problem.Conflict, clash)
	if got := f.cases(t, e); !slices.Equal(got, []int64{ePrev, eLive}) || f.profile(t, e).MergedInto != 0 {
		t.Fatalf("a refused merge changed the merged profile: cases %v", got)
	}
	f.exec(t, `UPDATE cases SET state = 'ended', ended_at = now() WHERE id = $1`, eLive)
	if _, err := f.clients.Merge(ctx, f.tid, f.admin.ID, d, e, nil); err != nil {
		t.Fatalf("after the chat ended: %v", err)
	}
	if n := f.count(t, `SELECT count(*) FROM client_merges`); n != 2 {
		t.Fatalf("%d merges recorded, want 2", n)
	}
}

func TestResolveFollowsMerges(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	a, b, c := f.client(t, profile{Name: "A"}), f.client(t, profile{Name: "A"}), f.client(t, profile{Name: "A"})
	if _, err := f.clients.Merge(ctx, f.tid, f.admin.ID, b, a, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := f.clients.Merge(ctx, f.tid, f.admin.ID, c, b, nil); err != nil {
		t.Fatal(err)
	}
	for _, id := range []int64{a, b, c} {
		if got, err := f.clients.Resolve(ctx, f.tid, id); err != nil || got != c {
			t.Errorf("Resolve(%d) = %d, %v; want %d", id, got, err, c)
		}
	}
	_, err := f.clients.Resolve(ctx, f.tid, 1<<40)
	wantProblem(t, err, problem.NotFound, "No such client.")
	// A case opened for A now goes to C (the trigger follows the chain).
	id := f.chat(t, a, true)
	if got := f.cases(t, c); !slices.Equal(got, []int64{id}) {
		t.Fatalf("C's cases = %v, want [%d]", got, id)
	}
}

func TestUndoRestoresBothProfiles(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	s := profile{Name: "Casey Jones", Phone: "+15550000001", Email: "old@example.test", Notes: "VIP"}
	m := profile{Name: "Casey", WhatsApp: "+15557654321", Email: "casey@example.test", Notes: "Prefers mornings"}
	survivor, merged := f.client(t, s), f.client(t, m)
	sCases := []int64{f.chat(t, survivor, false), f.chat(t, survivor, true)}
	mCases := []int64{f.chat(t, merged, false), f.chat(t, merged, false)}

	mg, err := f.clients.Merge(ctx, f.tid, f.admin.ID, survivor, merged, map[string]string{"name": "survivor", "email": "merged"})
	if err != nil {
		t.Fatal(err)
	}
	// After the merge: an agent changes the survivor's email, and a new
	// chat of the survivor starts.
	f.exec(t, `UPDATE clients SET email = 'new@example.test' WHERE id = $1`, survivor)
	f.exec(t, `UPDATE cases SET state = 'ended' WHERE id = $1`, sCases[1])
	later := f.chat(t, survivor, true)

	if err := f.clients.Undo(ctx, f.tid, f.admin.ID, mg.ID); err != nil {
		t.Fatal(err)
	}
	// The later email stays; everything else is as it was.
	if got, want := f.profile(t, survivor), (profile{Name: "Casey Jones", Phone: "+15550000001", Email: "new@example.test", Notes: "VIP"}); got != want {
		t.Fatalf("survivor = %+v, want %+v", got, want)
	}
	if got := f.profile(t, merged); got != m {
		t.Fatalf("merged profile = %+v, want %+v", got, m)
	}
	if got := f.cases(t, survivor); !slices.Equal(got, append(sCases, later)) {
		t.Fatalf("survivor's cases = %v, want %v", got, append(sCases, later))
	}
	if got := f.cases(t, merged); !slices.Equal(got, mCases) {
		t.Fatalf("merged profile's cases = %v, want %v", got, mCases)
	}
	ms, err := f.clients.Merges(ctx, f.tid, survivor)
	if err != nil || len(ms) != 1 || ms[0].UndoneAt == nil {
		t.Fatalf("merges = %+v, %v", ms, err)
	}
	if n := f.count(t, `SELECT count(*) FROM client_merges WHERE undone_by = $1`, f.admin.ID); n != 1 {
		t.Fatal("undone_by not recorded")
	}

	err = f.clients.Undo(ctx, f.tid, f.admin.ID, mg.ID)
	wantProblem(t, err, problem.Conflict, "This merge was already undone.")
	err = f.clients.Undo(ctx, f.tid, f.admin.ID, 1<<40)
	wantProblem(t, err, problem.NotFound, "")
	// Another tenant cannot see the merge.
	g := f.otherTenant(t)
	err = g.clients.Undo(ctx, g.tid, g.admin.ID, mg.ID)
	wantProblem(t, err, problem.NotFound, "")

	// The two can be merged again.
	if _, err := f.clients.Merge(ctx, f.tid, f.admin.ID, survivor, merged, map[string]string{"name": "survivor", "email": "merged"}); err != nil {
		t.Fatalf("merge again: %v", err)
	}
}

func TestUndoInChainOrder(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	a := f.client(t, profile{Name: "A", WhatsApp: "+15550000010", Notes: "a"})
	b := f.client(t, profile{Name: "B", Phone: "+15550000011", Notes: "b"})
	c := f.client(t, profile{Name: "C", Email: "c@example.test"})
	for _, id := range []int64{a, a, b, c} {
		f.chat(t, id, false)
	}
	f.chat(t, a, true)
	initial := map[int64]profile{}
	initialCases := map[int64][]int64{}
	for _, id := range []int64{a, b, c} {
		initial[id], initialCases[id] = f.profile(t, id), f.cases(t, id)
	}

	ab, err := f.clients.Merge(ctx, f.tid, f.admin.ID, b, a, map[string]string{"name": "survivor"})
	if err != nil {
		t.Fatal(err)
	}
	bc, err := f.clients.Merge(ctx, f.tid, f.admin.ID, c, b, map[string]string{"name": "merged"})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := f.profile(t, c), (profile{Name: "B", WhatsApp: "+15550000010", Phone: "+15550000011", Email: "c@example.test", Notes: "b\n\na"}); got != want {
		t.Fatalf("C = %+v, want %+v", got, want)
	}
	if got := f.cases(t, c); len(got) != 5 {
		t.Fatalf("C has cases %v, want all 5", got)
	}

	err = f.clients.Undo(ctx, f.tid, f.admin.ID, ab.ID)
	wantProblem(t, err, problem.Conflict, "Undo the later merge of this profile first.")
	if err := f.clients.Undo(ctx, f.tid, f.admin.ID, bc.ID); err != nil {
		t.Fatal(err)
	}
	if got, want := f.profile(t, b), (profile{Name: "B", WhatsApp: "+15550000010", Phone: "+15550000011", Notes: "b\n\na"}); got != want {
		t.Fatalf("B after undoing B into C = %+v, want %+v", got, want)
	}
	if err := f.clients.Undo(ctx, f.tid, f.admin.ID, ab.ID); err != nil {
		t.Fatal(err)
	}
	for _, id := range []int64{a, b, c} {
		if got := f.profile(t, id); got != initial[id] {
			t.Errorf("client %d = %+v, want %+v", id, got, initial[id])
		}
		if got := f.cases(t, id); !slices.Equal(got, initialCases[id]) {
			t.Errorf("client %d's cases = %v, want %v", id, got, initialCases[id])
		}
	}
}

func TestUndoRefusesANumberTakenMeanwhile(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	survivor := f.client(t, profile{Name: "S"})
	merged := f.client(t, profile{Name: "S", WhatsApp: "+15550000021"})
	mg, err := f.clients.Merge(ctx, f.tid, f.admin.ID, survivor, merged, nil)
	if err != nil {
		t.Fatal(err)
	}
	// The survivor took the number, then it was changed by hand, and a
	// newcomer writes from the merged profile's old number.
	f.exec(t, `UPDATE clients SET whatsapp = '+15550000022' WHERE id = $1`, survivor)
	third := f.client(t, profile{Name: "Newcomer", WhatsApp: "+15550000021"})
	before := map[int64]profile{survivor: f.profile(t, survivor), merged: f.profile(t, merged), third: f.profile(t, third)}
	err = f.clients.Undo(ctx, f.tid, f.admin.ID, mg.ID)
	wantProblem(t, err, problem.Conflict, "The WhatsApp number +15550000021 now belongs to another profile, Newcomer; change it there before undoing this merge.")
	for id, p := range before {
		if got := f.profile(t, id); got != p {
			t.Fatalf("a refused undo changed client %d: %+v, was %+v", id, got, p)
		}
	}
	f.exec(t, `UPDATE clients SET whatsapp = NULL WHERE id = $1`, third)
	if err := f.clients.Undo(ctx, f.tid, f.admin.ID, mg.ID); err != nil {
		t.Fatal(err)
	}
	if got := f.profile(t, merged); got.WhatsApp != "+15550000021" || got.MergedInto != 0 {
		t.Fatalf("merged profile = %+v", got)
	}
	if got := f.profile(t, survivor); got.WhatsApp != "+15550000022" {
		t.Fatalf("survivor = %+v: its later number should stay", got)
	}
}

func TestMergeAuthorDeleted(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	agent, _, err := f.tenants.CreateAgent(ctx, f.tid, tenant.NewAgentForm{Email: fmt.Sprintf("bo%d@acme.test", time.Now().UnixNano()), Name: "Bo", Role: "agent", Invite: true})
	if err != nil {
		t.Fatal(err)
	}
	a, b := f.client(t, profile{Name: "A"}), f.client(t, profile{Name: "A"})
	if _, err := f.clients.Merge(ctx, f.tid, agent.ID, b, a, nil); err != nil {
		t.Fatal(err)
	}
	f.exec(t, `DELETE FROM agents WHERE id = $1`, agent.ID)
	ms, err := f.clients.Merges(ctx, f.tid, b)
	if err != nil || len(ms) != 1 || ms[0].AgentName != nil || ms[0].MergedName != "A" {
		t.Fatalf("merges = %+v, %v", ms, err)
	}
}

// Two agents merge the same pair at once, either way round: one wins, the
// other is told, and no deadlock or half merge is left.
func TestOppositeMergesAtOnce(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	for i := range 10 {
		a := f.client(t, profile{Name: "Same", WhatsApp: fmt.Sprintf("+1555100%04d", i)})
		b := f.client(t, profile{Name: "Same", Phone: fmt.Sprintf("+1555200%04d", i)})
		f.chat(t, a, true)
		f.chat(t, b, false)
		start := make(chan struct{})
		errs := make([]error, 2)
		var wg sync.WaitGroup
		for j, pair := range [][2]int64{{a, b}, {b, a}} {
			wg.Go(func() {
				<-start
				_, errs[j] = f.clients.Merge(ctx, f.tid, f.admin.ID, pair[0], pair[1], nil)
			})
		}
		close(start)
		wg.Wait()
		if (errs[0] == nil) == (errs[1] == nil) {
			t.Fatalf("round %d: errors %v; want exactly one merge to succeed", i, errs)
		}
		for _, err := range errs {
			if err != nil {
				wantProblem(t, err, problem.Conflict, "This profile was just merged into another one; reload the page.")
			}
		}
		if n := f.count(t, `SELECT count(*) FROM clients WHERE id = ANY($1) AND merged_into IS NULL`, []int64{a, b}); n != 1 {
			t.Fatalf("round %d: %d of the two are live", i, n)
		}
	}
	if n := f.count(t, `SELECT count(*) FROM cases c JOIN clients cl ON cl.id = c.client_id WHERE cl.merged_into IS NOT NULL`); n != 0 {
		t.Fatalf("%d cases belong to merged-away clients", n)
	}
	if n := f.count(t, `SELECT count(*) FROM client_merges`); n != 10 {
		t.Fatalf("%d merges recorded, want 10", n)
	}
}

// A chat that opens for a client while the client is being merged away
// waits for the merge and goes to the survivor (the cases_follow_merge
// trigger).
func TestCaseOpenedDuringMergeGoesToSurvivor(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	a, b := f.client(t, profile{Name: "A"}), f.client(t, profile{Name: "B"})

	// A merge held open: it has locked A, as Merge does, and commits a
	// moment later.
	locked, inserted := make(chan struct{}), make(chan struct{})
	var (
		wg      sync.WaitGroup
		merging error
	)
	wg.Go(func() {
		merging = f.db.InTenant(ctx, f.tid, func(tx pgx.Tx) error {
			if _, err := tx.Exec(ctx, `SELECT FROM clients WHERE id = ANY($1) ORDER BY id FOR UPDATE`, []int64{a, b}); err != nil {
				return err
			}
			if _, err := tx.Exec(ctx, `UPDATE clients SET merged_into = $2 WHERE id = $1`, a, b); err != nil {
				return err
			}
			if _, err := tx.Exec(ctx, `UPDATE cases SET client_id = $2 WHERE client_id = $1`, a, b); err != nil {
				return err
			}
			close(locked)
			// Commit once the insert waits for the client's row.
			deadline := time.Now().Add(10 * time.Second)
			for {
				var waiting bool
				if err := f.db.Pool.QueryRow(ctx, `SELECT EXISTS (SELECT FROM pg_locks l JOIN pg_stat_activity a USING (pid)
					WHERE NOT l.granted AND a.datname = current_database())`).Scan(&waiting); err != nil {
					return err
				}
				select {
				case <-inserted:
					return fmt.Errorf("the case was inserted while the merge held the client")
				default:
				}
				if waiting {
					return nil
				}
				if time.Now().After(deadline) {
					return fmt.Errorf("the insert never waited for the merge")
				}
				time.Sleep(10 * time.Millisecond)
			}
		})
	})
	<-locked
	var (
		caseID    int64
		inserting error
	)
	wg.Go(func() {
		inserting = f.db.InTenant(ctx, f.tid, func(tx pgx.Tx) error {
			var err error
			caseID, err = insertCase(ctx, tx, f.tid, a, f.group, f.ig, true)
			return err
		})
		close(inserted)
	})
	wg.Wait()
	if merging != nil || inserting != nil {
		t.Fatalf("merge: %v; insert: %v", merging, inserting)
	}
	if got := f.cases(t, b); !slices.Equal(got, []int64{caseID}) {
		t.Fatalf("B's cases = %v, want [%d]", got, caseID)
	}
	if got := f.cases(t, a); len(got) != 0 {
		t.Fatalf("A still has cases %v", got)
	}
}

// Chats opening for a client while Merge runs all end up on the survivor.
func TestMergeWhileChatsOpen(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	a, b := f.client(t, profile{Name: "A"}), f.client(t, profile{Name: "A"})
	var wg sync.WaitGroup
	start := make(chan struct{})
	errs := make(chan error, 21)
	for range 20 {
		wg.Go(func() {
			<-start
			errs <- f.db.InTenant(ctx, f.tid, func(tx pgx.Tx) error {
				_, err := insertCase(ctx, tx, f.tid, a, f.group, f.ig, false)
				return err
			})
		})
	}
	wg.Go(func() {
		<-start
		_, err := f.clients.Merge(ctx, f.tid, f.admin.ID, b, a, nil)
		errs <- err
	})
	close(start)
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if got := f.cases(t, b); len(got) != 20 {
		t.Fatalf("B has %d cases, want 20", len(got))
	}
	if got := f.cases(t, a); len(got) != 0 {
		t.Fatalf("A, merged away, has cases %v", got)
	}
}

func TestDuplicates(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	me := f.client(t, profile{Name: "Me", WhatsApp: "+15550000030"})
	byPhone := f.client(t, profile{Name: "P", Phone: "+15550000030"})
	byWhatsApp := f.client(t, profile{Name: "W", WhatsApp: "+15550000031"})
	f.client(t, profile{Name: "Unrelated", Phone: "+15550000032"})
	gone := f.client(t, profile{Name: "Gone", Phone: "+15550000031"})
	if _, err := f.clients.Merge(ctx, f.tid, f.admin.ID, me, gone, map[string]string{"name": "survivor"}); err != nil {
		t.Fatal(err)
	}
	// Merged away, it would match by its number, if it had one.
	f.exec(t, `UPDATE clients SET phone = '+15550000031' WHERE id = $1`, gone)
	dups, err := f.clients.Duplicates(ctx, f.tid, me, "+15550000030", "+15550000031", "")
	if err != nil {
		t.Fatal(err)
	}
	var ids []int64
	for _, d := range dups {
		ids = append(ids, d.ID)
	}
	if !slices.Equal(ids, []int64{byPhone, byWhatsApp}) {
		t.Fatalf("duplicates = %v, want [%d %d]", ids, byPhone, byWhatsApp)
	}
	if dups, err := f.clients.Duplicates(ctx, f.tid, me); err != nil || len(dups) != 0 {
		t.Fatalf("no numbers: %v, %v", dups, err)
	}
}
