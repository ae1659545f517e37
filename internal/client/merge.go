package client

// Merging two profiles of one person: the merged-away profile's cases (and
// with them their messages and notes) move to the survivor, its contact
// fields are combined into the survivor's, and it stays behind, empty,
// pointing at the survivor (clients.merged_into). Every merge is recorded
// in client_merges with the fields before and after, so that it can be
// undone.

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"parley/internal/postgres"
	"parley/internal/problem"
	"parley/internal/realtime"
)

// MergeFields names the fields a merge combines.
var MergeFields = []string{"name", "email", "phone", "whatsapp"}

// numberFields are the fields a merge never asks about: a client keeps
// every number. A number the survivor lacks moves to it; one that
// differs from the survivor's stays on the merged-away profile, which
// keeps it for the survivor (a message from it lands on the survivor; the
// survivor's page lists it; an undo gives it back with the profile).
var numberFields = map[string]bool{"phone": true, "whatsapp": true}

// Conflict is a field both profiles fill with different values; the agent
// picks one.
type Conflict struct{ Field, Survivor, Merged string }

// MergePreview is what the confirm step shows.
type MergePreview struct {
	Survivor, Merged Client
	Conflicts        []Conflict
}

// Merge is one recorded merge.
type Merge struct {
	ID, SurvivorID, MergedID int64
	MergedName               string  // the merged-away profile's name at merge time
	AgentName                *string // who merged (nil if the agent was deleted)
	MovedCases               int
	At                       time.Time
	UndoneAt                 *time.Time
}

// Choices for a conflicting field in Merge's choose.
const (
	KeepSurvivor = "survivor"
	KeepMerged   = "merged"
)

// Problems a merge or an undo reports.
const (
	msgMergeIntoItself = "A profile cannot be merged into itself."
	msgNoSuchClient    = "No such client."
	msgAlreadyMerged   = "This profile was just merged into another one; reload the page."
	msgLiveChatClash   = "Both profiles have a live chat on the same WhatsApp number; end one of the chats first."
	msgNoSuchMerge     = "No such merge."
	msgAlreadyUndone   = "This merge was already undone."
	msgUndoLaterFirst  = "Undo the later merge of this profile first."
)

// profile is a client row as merges see it: its fields and where it was
// merged into. It is scanned here, column by column, so that merging does
// not depend on what the Client type carries.
type profile struct {
	Client
	mergedInto *int64
}

const selectProfile = `SELECT id, name, whatsapp, phone, email, notes, created_channel, created_at, merged_into FROM clients`

func scanProfile(row pgx.CollectableRow) (profile, error) {
	var p profile
	err := row.Scan(&p.ID, &p.Name, &p.WhatsApp, &p.Phone, &p.Email, &p.Notes, &p.CreatedChannel, &p.CreatedAt, &p.mergedInto)
	return p, err
}

// profileFields are the fields a merge combines and an undo restores, as
// recorded in client_merges (survivor_before, survivor_after,
// merged_fields): a JSON object {name, email, phone, whatsapp, notes}.
type profileFields struct {
	Name     string  `json:"name"`
	Email    *string `json:"email"`
	Phone    *string `json:"phone"`
	WhatsApp *string `json:"whatsapp"`
	Notes    string  `json:"notes"`
}

// allProfileFields are MergeFields and the notes.
var allProfileFields = []string{"name", "email", "phone", "whatsapp", "notes"}

func fieldsOf(c Client) profileFields {
	return profileFields{Name: c.Name, Email: c.Email, Phone: c.Phone, WhatsApp: c.WhatsApp, Notes: c.Notes}
}

// get returns a field's value, "" when it is empty.
func (f profileFields) get(field string) string {
	var p *string
	switch field {
	case "name":
		return f.Name
	case "notes":
		return f.Notes
	case "email":
		p = f.Email
	case "phone":
		p = f.Phone
	case "whatsapp":
		p = f.WhatsApp
	default:
		panic("client: unknown profile field " + field)
	}
	if p == nil {
		return ""
	}
	return *p
}

// set changes a field; "" empties a nullable one (NULL in the table).
func (f *profileFields) set(field, v string) {
	var p *string
	if v != "" {
		p = &v
	}
	switch field {
	case "name":
		f.Name = v
	case "notes":
		f.Notes = v
	case "email":
		f.Email = p
	case "phone":
		f.Phone = p
	case "whatsapp":
		f.WhatsApp = p
	default:
		panic("client: unknown profile field " + field)
	}
}

// fieldLabels name the fields in problems.
var fieldLabels = map[string]string{"name": "name", "email": "email address", "phone": "phone number", "whatsapp": "WhatsApp number"}

// combine works out the survivor's fields after a merge: a field empty on
// one side takes the other's value, and a field both fill differently is a
// conflict that choose settles ("survivor" or "merged"). Notes are joined,
// the survivor's first. The conflicts come back in MergeFields order; err
// is an Invalid problem (fields "choose_<field>") when one is unsettled.
func combine(survivor, merged profileFields, choose map[string]string) (after profileFields, conflicts []Conflict, err error) {
	after = survivor
	errs := problem.Fields{}
	for _, f := range MergeFields {
		s, m := survivor.get(f), merged.get(f)
		switch {
		case m == "" || s == m:
			// Keep the survivor's.
		case s == "":
			after.set(f, m)
		case numberFields[f]:
			// Both kept: the merged profile holds its own.
		default:
			conflicts = append(conflicts, Conflict{Field: f, Survivor: s, Merged: m})
			switch choose[f] {
			case KeepSurvivor:
			case KeepMerged:
				after.set(f, m)
			case "":
				errs.Add("choose_"+f, "Both profiles have a "+fieldLabels[f]+": choose the one to keep.")
			default:
				errs.Add("choose_"+f, "Choose one of the two "+fieldLabels[f]+"s.")
			}
		}
	}
	switch s, m := strings.TrimSpace(survivor.Notes), strings.TrimSpace(merged.Notes); {
	case s != "" && m != "":
		after.Notes = survivor.Notes + "\n\n" + merged.Notes
	case m != "":
		after.Notes = merged.Notes
	}
	return after, conflicts, errs.Err()
}

// profiles reads the clients ids of the transaction's tenant, by id; with
// lock it locks their rows FOR UPDATE in ascending id order, so that two
// agents merging the same pair either way round queue instead of
// deadlocking. FOR UPDATE (not NO KEY UPDATE) also holds back a new case
// for either client: the cases_follow_merge trigger and the foreign key
// take FOR KEY SHARE on the client's row, and then see the merge.
func profiles(ctx context.Context, tx pgx.Tx, lock bool, ids ...int64) (map[int64]profile, error) {
	q := selectProfile + ` WHERE id = ANY($1) ORDER BY id`
	if lock {
		q += ` FOR UPDATE`
	}
	rows, _ := tx.Query(ctx, q, ids)
	ps, err := pgx.CollectRows(rows, scanProfile)
	if err != nil {
		return nil, fmt.Errorf("read clients %v: %w", ids, err)
	}
	byID := make(map[int64]profile, len(ps))
	for _, p := range ps {
		byID[p.ID] = p
	}
	return byID, nil
}

// mergeable reads (and with lock, locks) the two profiles of a merge and
// refuses a pair that cannot be merged.
func mergeable(ctx context.Context, tx pgx.Tx, lock bool, survivorID, mergedID int64) (survivor, merged profile, err error) {
	if survivorID == mergedID {
		return survivor, merged, problem.New(problem.Invalid, msgMergeIntoItself)
	}
	ps, err := profiles(ctx, tx, lock, survivorID, mergedID)
	if err != nil {
		return survivor, merged, err
	}
	survivor, okS := ps[survivorID]
	merged, okM := ps[mergedID]
	if !okS || !okM {
		// Row-level security makes another tenant's client unknown too.
		return survivor, merged, problem.New(problem.NotFound, msgNoSuchClient)
	}
	if survivor.mergedInto != nil || merged.mergedInto != nil {
		return survivor, merged, problem.New(problem.Conflict, msgAlreadyMerged)
	}
	return survivor, merged, nil
}

// liveChatsApart refuses a merge of two clients who each have a live chat
// on the same integration: a client has one live chat per integration
// (cases_one_live_chat), and neither chat is ended behind the agents'
// backs.
func liveChatsApart(ctx context.Context, tx pgx.Tx, survivorID, mergedID int64) error {
	var clash bool
	if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT FROM cases m JOIN cases s USING (integration_id)
		WHERE m.client_id = $1 AND m.state = 'live' AND s.client_id = $2 AND s.state = 'live')`, mergedID, survivorID).Scan(&clash); err != nil {
		return fmt.Errorf("look for live chats on both sides: %w", err)
	}
	if clash {
		return problem.New(problem.Conflict, msgLiveChatClash)
	}
	return nil
}

// PreviewMerge shows what merging mergedID into survivorID would do: both
// profiles, and the fields the agent must choose between. It refuses what
// Merge would refuse as things stand (Merge checks again under its locks).
func (s *Service) PreviewMerge(ctx context.Context, tid uuid.UUID, survivorID, mergedID int64) (MergePreview, error) {
	var pv MergePreview
	err := s.db.InTenant(ctx, tid, func(tx pgx.Tx) error {
		survivor, merged, err := mergeable(ctx, tx, false, survivorID, mergedID)
		if err != nil {
			return err
		}
		if err := liveChatsApart(ctx, tx, survivorID, mergedID); err != nil {
			return err
		}
		pv.Survivor, pv.Merged = survivor.Client, merged.Client
		_, pv.Conflicts, _ = combine(fieldsOf(survivor.Client), fieldsOf(merged.Client), nil)
		return nil
	})
	if err != nil {
		return pv, fmt.Errorf("preview merge of client %d into %d: %w", mergedID, survivorID, err)
	}
	return pv, nil
}

// Merge merges client mergedID into survivorID, in one transaction: the
// survivor's fields are combined with the merged profile's (choose maps a
// conflicting field to "survivor" or "merged"; a conflict without a choice
// is an Invalid problem with a field error "choose_<field>" per conflict,
// and nothing changes), every case of the merged profile moves to the
// survivor, and the merged profile is emptied and points at the survivor.
// Merging a profile into itself, an unknown profile, one merged away
// already, or two profiles that each have a live chat on the same
// integration is refused and changes nothing.
func (s *Service) Merge(ctx context.Context, tid uuid.UUID, agentID, survivorID, mergedID int64, choose map[string]string) (Merge, error) {
	var m Merge
	err := s.db.InTenant(ctx, tid, func(tx pgx.Tx) error {
		var err error
		m, err = mergeTx(ctx, tx, tid, agentID, survivorID, mergedID, choose)
		return err
	})
	if err != nil {
		return m, fmt.Errorf("merge client %d into %d: %w", mergedID, survivorID, err)
	}
	return m, nil
}

// mergeTx is Merge in tx.
func mergeTx(ctx context.Context, tx pgx.Tx, tid uuid.UUID, agentID, survivorID, mergedID int64, choose map[string]string) (Merge, error) {
	var m Merge
	err := func() error {
		survivor, merged, err := mergeable(ctx, tx, true, survivorID, mergedID)
		if err != nil {
			return err
		}
		before, from := fieldsOf(survivor.Client), fieldsOf(merged.Client)
		after, _, err := combine(before, from, choose)
		if err != nil {
			return err
		}
		// The locks above keep new chats of either client out until this
		// transaction ends.
		if err := liveChatsApart(ctx, tx, survivorID, mergedID); err != nil {
			return err
		}
		// The merged profile lets go of its WhatsApp number before the
		// survivor takes it (clients_whatsapp_key), keeping only its name.
		// Its WhatsApp user id (BSUID) goes to the survivor when the
		// survivor has none (clients_whatsapp_user_id_key).
		// A number the survivor did not take stays with the merged profile
		// (numberFields).
		keepWA := from.WhatsApp != nil && (after.WhatsApp == nil || *after.WhatsApp != *from.WhatsApp)
		keepPhone := from.Phone != nil && (after.Phone == nil || *after.Phone != *from.Phone)
		var userID *string
		if err := tx.QueryRow(ctx, `WITH m AS (SELECT whatsapp_user_id FROM clients WHERE id = $1)
			UPDATE clients SET whatsapp = CASE WHEN $3 THEN whatsapp END, whatsapp_user_id = NULL, phone = CASE WHEN $4 THEN phone END,
				email = NULL, notes = '', merged_into = $2, updated_at = now()
			WHERE id = $1 RETURNING (SELECT whatsapp_user_id FROM m)`, mergedID, survivorID, keepWA, keepPhone).Scan(&userID); err != nil {
			return fmt.Errorf("empty the merged profile: %w", err)
		}
		if userID != nil {
			if _, err := tx.Exec(ctx, `UPDATE clients SET whatsapp_user_id = $2 WHERE id = $1 AND whatsapp_user_id IS NULL`, survivorID, *userID); err != nil {
				return fmt.Errorf("give the survivor the WhatsApp user id: %w", err)
			}
		}
		if err := writeFields(ctx, tx, survivorID, after); err != nil {
			return err
		}
		// Messages and notes belong to cases: they move with them.
		rows, _ := tx.Query(ctx, `UPDATE cases SET client_id = $2 WHERE client_id = $1 RETURNING id`, mergedID, survivorID)
		moved, err := pgx.CollectRows(rows, pgx.RowTo[int64])
		if postgres.IsUniqueViolation(err, "cases_one_live_chat") {
			return problem.New(problem.Conflict, msgLiveChatClash)
		}
		if err != nil {
			return fmt.Errorf("move cases: %w", err)
		}
		if moved == nil {
			moved = []int64{} // moved_cases is NOT NULL
		}
		slices.Sort(moved)
		var id int64
		err = tx.QueryRow(ctx, `INSERT INTO client_merges (tenant_id, survivor_id, merged_id, agent_id, survivor_before, survivor_after, merged_fields, moved_cases, created_at)
			VALUES ($1, $2, $3, nullif($4::bigint, 0), $5, $6, $7, $8, now()) RETURNING id`,
			tid, survivorID, mergedID, agentID, before, after, from, moved).Scan(&id)
		if err != nil {
			return fmt.Errorf("record merge: %w", err)
		}
		if err := realtime.Notify(ctx, tx, realtime.Event{TenantID: tid, Kind: "client"}); err != nil {
			return err
		}
		m, err = mergeByID(ctx, tx, id)
		return err
	}()
	return m, err
}

// writeFields saves a profile's combined or restored fields.
func writeFields(ctx context.Context, tx pgx.Tx, id int64, f profileFields) error {
	_, err := tx.Exec(ctx, `UPDATE clients SET name = $2, email = $3, phone = $4, whatsapp = $5, notes = $6, updated_at = now() WHERE id = $1`,
		id, f.Name, f.Email, f.Phone, f.WhatsApp, f.Notes)
	if postgres.IsUniqueViolation(err, "clients_whatsapp_key") {
		// A client created from a WhatsApp message between our check
		// and this update.
		return problem.New(problem.Conflict, "Another profile has just taken this WhatsApp number; reload the page.")
	}
	if err != nil {
		return fmt.Errorf("update client %d: %w", id, err)
	}
	return nil
}

// Undo undoes a merge, in one transaction: the cases it moved that the
// survivor still has go back, the merged profile gets its fields back and
// is live again, and the survivor's fields return to what they were before
// the merge, except those changed since (a later change stays). A merge
// undone already, or whose survivor has been merged away since (undo that
// merge first), is refused; so is giving a WhatsApp number back that
// another profile has taken meanwhile.
func (s *Service) Undo(ctx context.Context, tid uuid.UUID, agentID, mergeID int64) error {
	err := s.db.InTenant(ctx, tid, func(tx pgx.Tx) error {
		// The merge's row is locked first: a second undo of it waits,
		// then sees it undone.
		var (
			survivorID, mergedID  int64
			before, after, fields profileFields
			moved                 []int64
			undone                bool
		)
		err := tx.QueryRow(ctx, `SELECT survivor_id, merged_id, survivor_before, survivor_after, merged_fields, moved_cases, undone_at IS NOT NULL
			FROM client_merges WHERE id = $1 FOR UPDATE`, mergeID).Scan(&survivorID, &mergedID, &before, &after, &fields, &moved, &undone)
		if errors.Is(err, pgx.ErrNoRows) {
			return problem.New(problem.NotFound, msgNoSuchMerge)
		}
		if err != nil {
			return fmt.Errorf("read merge: %w", err)
		}
		if undone {
			return problem.New(problem.Conflict, msgAlreadyUndone)
		}
		ps, err := profiles(ctx, tx, true, survivorID, mergedID)
		if err != nil {
			return err
		}
		survivor, merged := ps[survivorID], ps[mergedID]
		if survivor.mergedInto != nil {
			return problem.New(problem.Conflict, msgUndoLaterFirst)
		}
		if merged.mergedInto == nil || *merged.mergedInto != survivorID {
			return fmt.Errorf("client %d is not merged into %d, yet merge %d is not undone", mergedID, survivorID, mergeID)
		}

		// The survivor first: it may give back the WhatsApp number the
		// merged profile gets back below (clients_whatsapp_key).
		now := fieldsOf(survivor.Client)
		restored := now
		for _, f := range allProfileFields {
			if now.get(f) == after.get(f) {
				restored.set(f, before.get(f))
			}
		}
		if restored.WhatsApp != nil && (now.WhatsApp == nil || *now.WhatsApp != *restored.WhatsApp) {
			if err := whatsappFree(ctx, tx, *restored.WhatsApp, survivorID, mergedID); err != nil {
				return err
			}
		}
		if err := writeFields(ctx, tx, survivorID, restored); err != nil {
			return err
		}
		if fields.WhatsApp != nil {
			if err := whatsappFree(ctx, tx, *fields.WhatsApp, mergedID); err != nil {
				return err
			}
		}
		if _, err := tx.Exec(ctx, `UPDATE clients SET merged_into = NULL WHERE id = $1`, mergedID); err != nil {
			return fmt.Errorf("revive client %d: %w", mergedID, err)
		}
		if err := writeFields(ctx, tx, mergedID, fields); err != nil {
			return err
		}
		// The merged profile has no cases of its own meanwhile (new ones
		// followed the merge), so its live chats cannot clash.
		if _, err := tx.Exec(ctx, `UPDATE cases SET client_id = $2 WHERE client_id = $1 AND id = ANY($3)`, survivorID, mergedID, moved); err != nil {
			return fmt.Errorf("move cases back: %w", err)
		}
		if _, err := tx.Exec(ctx, `UPDATE client_merges SET undone_at = now(), undone_by = nullif($2::bigint, 0) WHERE id = $1`, mergeID, agentID); err != nil {
			return fmt.Errorf("record undo: %w", err)
		}
		return realtime.Notify(ctx, tx, realtime.Event{TenantID: tid, Kind: "client"})
	})
	if err != nil {
		return fmt.Errorf("undo merge %d: %w", mergeID, err)
	}
	return nil
}

// whatsappFree refuses with a Conflict when a client other than except
// has number as their WhatsApp number.
func whatsappFree(ctx context.Context, tx pgx.Tx, number string, except ...int64) error {
	var name string
	err := tx.QueryRow(ctx, `SELECT name FROM clients WHERE whatsapp = $1 AND id <> ALL($2)`, number, except).Scan(&name)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("look up WhatsApp number %s: %w", number, err)
	}
	if name != "" {
		name = ", " + name
	}
	return problem.New(problem.Conflict, fmt.Sprintf("The WhatsApp number %s now belongs to another profile%s; change it there before undoing this merge.", number, name))
}

const selectMerge = `SELECT m.id, m.survivor_id, m.merged_id, coalesce(m.merged_fields->>'name', ''), a.name,
		cardinality(m.moved_cases), m.created_at, m.undone_at
	FROM client_merges m LEFT JOIN agents a ON a.id = m.agent_id`

func scanMerge(row pgx.CollectableRow) (Merge, error) {
	var m Merge
	err := row.Scan(&m.ID, &m.SurvivorID, &m.MergedID, &m.MergedName, &m.AgentName, &m.MovedCases, &m.At, &m.UndoneAt)
	return m, err
}

func mergeByID(ctx context.Context, tx pgx.Tx, id int64) (Merge, error) {
	rows, _ := tx.Query(ctx, selectMerge+` WHERE m.id = $1`, id)
	m, err := pgx.CollectExactlyOneRow(rows, scanMerge)
	if err != nil {
		return m, fmt.Errorf("read merge %d: %w", id, err)
	}
	return m, nil
}

// Merges lists the merges into clientID, newest first, undone ones
// included (for the profile's history).
func (s *Service) Merges(ctx context.Context, tid uuid.UUID, clientID int64) ([]Merge, error) {
	var ms []Merge
	err := s.db.InTenant(ctx, tid, func(tx pgx.Tx) error {
		rows, _ := tx.Query(ctx, selectMerge+` WHERE m.survivor_id = $1 ORDER BY m.id DESC`, clientID)
		var err error
		ms, err = pgx.CollectRows(rows, scanMerge)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("merges into client %d: %w", clientID, err)
	}
	return ms, nil
}

// Resolve follows merged_into to the profile that holds a merged-away
// client now (A merged into B, then B into C: C), or returns id itself
// when it was not merged. An unknown id is NotFound.
func (s *Service) Resolve(ctx context.Context, tid uuid.UUID, id int64) (int64, error) {
	var (
		to   int64
		live bool
	)
	err := s.db.InTenant(ctx, tid, func(tx pgx.Tx) error {
		// Bounded like the cases_follow_merge trigger.
		return tx.QueryRow(ctx, `WITH RECURSIVE chain (id, merged_into, hop) AS (
				SELECT id, merged_into, 0 FROM clients WHERE id = $1
				UNION ALL
				SELECT c.id, c.merged_into, chain.hop + 1 FROM clients c JOIN chain ON c.id = chain.merged_into WHERE chain.hop < 100)
			SELECT id, merged_into IS NULL FROM chain ORDER BY hop DESC LIMIT 1`, id).Scan(&to, &live)
	})
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, problem.New(problem.NotFound, msgNoSuchClient)
	}
	if err != nil {
		return 0, fmt.Errorf("resolve client %d: %w", id, err)
	}
	if !live {
		return 0, fmt.Errorf("resolve client %d: merge chain longer than 100", id)
	}
	return to, nil
}

// survivorOf is the SQL for the profile that holds clients row h now:
// h's merged_into chain followed to its end (bounded like the
// cases_follow_merge trigger).
const survivorOf = `(WITH RECURSIVE chain (id, merged_into, hop) AS (
		SELECT h.id, h.merged_into, 0
		UNION ALL
		SELECT c.id, c.merged_into, chain.hop + 1 FROM clients c JOIN chain ON c.id = chain.merged_into WHERE chain.hop < 100)
	SELECT id FROM chain ORDER BY hop DESC LIMIT 1)`

// Number is one of a client's numbers held by a profile merged into it.
type Number struct {
	Kind   string // "whatsapp" or "phone"
	Number string // E.164
	From   string // the merged profile's name at merge time
}

// MoreNumbers lists the WhatsApp and phone numbers that profiles merged
// into client id (directly or through another merge) keep for it.
func (s *Service) MoreNumbers(ctx context.Context, tid uuid.UUID, id int64) ([]Number, error) {
	var ns []Number
	err := s.db.InTenant(ctx, tid, func(tx pgx.Tx) error {
		rows, _ := tx.Query(ctx, `WITH RECURSIVE m (id, hop) AS (
				SELECT id, 0 FROM clients WHERE merged_into = $1
				UNION ALL
				SELECT c.id, m.hop + 1 FROM clients c JOIN m ON c.merged_into = m.id WHERE m.hop < 100)
			SELECT k.kind, k.number, coalesce((SELECT g.merged_fields->>'name' FROM client_merges g WHERE g.merged_id = c.id AND g.undone_at IS NULL ORDER BY g.id DESC LIMIT 1), c.name)
			FROM m JOIN clients c ON c.id = m.id,
				LATERAL (VALUES ('whatsapp', c.whatsapp), ('phone', c.phone)) k (kind, number)
			WHERE k.number IS NOT NULL ORDER BY k.kind DESC, c.id`, id)
		var err error
		ns, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (Number, error) {
			var n Number
			return n, r.Scan(&n.Kind, &n.Number, &n.From)
		})
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("numbers of client %d: %w", id, err)
	}
	return ns, nil
}

// Duplicates lists the other live (not merged-away) clients whose phone
// or WhatsApp number is one of numbers (E.164), oldest first: the offer to
// merge when an agent enters a number.
func (s *Service) Duplicates(ctx context.Context, tid uuid.UUID, clientID int64, numbers ...string) ([]Client, error) {
	numbers = slices.DeleteFunc(slices.Clone(numbers), func(n string) bool { return n == "" })
	if len(numbers) == 0 {
		return nil, nil
	}
	var cs []Client
	err := s.db.InTenant(ctx, tid, func(tx pgx.Tx) error {
		// A number kept by a merged-away profile is its survivor's.
		rows, _ := tx.Query(ctx, selectProfile+` WHERE id <> $1 AND merged_into IS NULL AND id IN (
				SELECT `+survivorOf+` FROM clients h WHERE h.phone = ANY($2) OR h.whatsapp = ANY($2))
			ORDER BY id`, clientID, numbers)
		ps, err := pgx.CollectRows(rows, scanProfile)
		for _, p := range ps {
			cs = append(cs, p.Client)
		}
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("duplicates of client %d: %w", clientID, err)
	}
	return cs, nil
}
