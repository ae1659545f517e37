package conversation

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"parley/internal/problem"
	"parley/internal/realtime"
	"parley/internal/ruleevent"
	"parley/internal/tenant"
)

// CaseFilter narrows All cases. Zero values match everything.
type CaseFilter struct {
	Status     string
	GroupID    int64
	AssigneeID int64
	Channel    string
	Client     string // name, WhatsApp or phone
	Text       string // in the conversation
	After      Cursor // keyset: the last case of the previous page
}

// Cursor is a position in All cases: newest activity first, ties by id.
type Cursor struct {
	At time.Time
	ID int64
}

// String encodes the cursor for a URL.
func (c Cursor) String() string {
	if c.ID == 0 {
		return ""
	}
	return strconv.FormatInt(c.At.UnixMicro(), 10) + "_" + strconv.FormatInt(c.ID, 10)
}

// ParseCursor reads what String wrote; anything else is the first page.
func ParseCursor(s string) Cursor {
	at, id, ok := strings.Cut(s, "_")
	if !ok {
		return Cursor{}
	}
	us, err1 := strconv.ParseInt(at, 10, 64)
	n, err2 := strconv.ParseInt(id, 10, 64)
	if err1 != nil || err2 != nil {
		return Cursor{}
	}
	return Cursor{At: time.UnixMicro(us).UTC(), ID: n}
}

// Cases lists ended chats and other cases, newest activity first, a page
// at a time. It never lists a live chat. next is zero on the last page.
func (s *Service) Cases(ctx context.Context, tid uuid.UUID, f CaseFilter, limit int) (page []Case, next Cursor, err error) {
	where := []string{"c.state = 'ended'"}
	args := []any{}
	arg := func(v any) string {
		args = append(args, v)
		return "$" + strconv.Itoa(len(args))
	}
	if f.Status != "" {
		where = append(where, "c.status = "+arg(f.Status))
	}
	if f.GroupID != 0 {
		where = append(where, "c.group_id = "+arg(f.GroupID))
	}
	if f.AssigneeID != 0 {
		where = append(where, "c.assignee_id = "+arg(f.AssigneeID))
	}
	if f.Channel != "" {
		where = append(where, "c.channel = "+arg(f.Channel))
	}
	if q := strings.TrimSpace(f.Client); q != "" {
		p := arg("%" + likeEscape(q) + "%")
		where = append(where, "(cl.name ILIKE "+p+" OR cl.whatsapp LIKE "+p+" OR cl.phone LIKE "+p+")")
	}
	if q := strings.TrimSpace(f.Text); q != "" {
		p := arg("%" + likeEscape(q) + "%")
		where = append(where, "(c.preview ILIKE "+p+" OR EXISTS (SELECT FROM messages m WHERE m.tenant_id = c.tenant_id AND m.case_id = c.id AND m.body ILIKE "+p+"))")
	}
	if f.After.ID != 0 {
		where = append(where, "(c.ended_activity_at, c.id) < ("+arg(f.After.At)+", "+arg(f.After.ID)+")")
	}
	q := selectCase + " WHERE " + strings.Join(where, " AND ") +
		" ORDER BY c.ended_activity_at DESC, c.id DESC LIMIT " + arg(limit+1)
	err = s.db.InTenant(ctx, tid, func(tx pgx.Tx) error {
		rows, _ := tx.Query(ctx, q, args...)
		var err error
		page, err = pgx.CollectRows(rows, pgx.RowToStructByName[Case])
		return err
	})
	if err != nil {
		return nil, Cursor{}, fmt.Errorf("list cases: %w", err)
	}
	if len(page) > limit {
		page = page[:limit]
		last := page[limit-1]
		next = Cursor{At: last.LastActivityAt, ID: last.ID}
	}
	return page, next, nil
}

// ClientCases lists a client's other chats and cases, newest first.
func (s *Service) ClientCases(ctx context.Context, tid uuid.UUID, clientID, except int64) ([]Case, error) {
	var cs []Case
	err := s.db.InTenant(ctx, tid, func(tx pgx.Tx) error {
		rows, _ := tx.Query(ctx, selectCase+` WHERE c.client_id = $1 AND c.id <> $2 ORDER BY c.last_activity_at DESC, c.id DESC LIMIT 20`, clientID, except)
		var err error
		cs, err = pgx.CollectRows(rows, pgx.RowToStructByName[Case])
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("cases of client %d: %w", clientID, err)
	}
	return cs, nil
}

func likeEscape(s string) string {
	return strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`).Replace(s)
}

// Assign gives a chat or case to a group and optionally an agent of it (a
// transfer), or to the agent taking it; the conversation records it.
func (s *Service) Assign(ctx context.Context, tid uuid.UUID, caseID, groupID int64, agentID *int64, by string) error {
	return s.db.InTenant(ctx, tid, func(tx pgx.Tx) error {
		c, err := caseTx(ctx, tx, caseID, true)
		if err != nil {
			return err
		}
		what := "chat"
		if c.State != StateLive {
			what = "case"
		}
		var groupName string
		if err := tx.QueryRow(ctx, `SELECT name FROM groups WHERE id = $1`, groupID).Scan(&groupName); err != nil {
			return notFound(err, "No such group.")
		}
		text := fmt.Sprintf("%s transferred the %s to %s", by, what, groupName)
		if agentID != nil {
			var name string
			var member bool
			err := tx.QueryRow(ctx, `SELECT a.name, EXISTS (SELECT FROM group_members m WHERE m.agent_id = a.id AND m.group_id = $2)
				FROM agents a WHERE a.id = $1 AND a.active`, *agentID, groupID).Scan(&name, &member)
			if err != nil {
				return notFound(err, "No such agent.")
			}
			if !member {
				return problem.Field("agent", name+" is not in the group "+groupName+".")
			}
			text = fmt.Sprintf("%s assigned the %s to %s (%s)", by, what, name, groupName)
			if name == by {
				text = fmt.Sprintf("%s took the %s", by, what)
			}
		}
		if _, err := tx.Exec(ctx, `UPDATE cases SET group_id = $2, assignee_id = $3 WHERE id = $1`, caseID, groupID, agentID); err != nil {
			return fmt.Errorf("assign chat %d: %w", caseID, err)
		}
		if err := addEvent(ctx, tx, tid, caseID, text, s.clock.Now()); err != nil {
			return err
		}
		return realtime.Notify(ctx, tx, realtime.Event{TenantID: tid, Kind: "case", CaseID: caseID})
	})
}

// SetStatus sets a chat's or case's status; by says who or what ("rule
// 'After hours'") in the conversation's event.
func (s *Service) SetStatus(ctx context.Context, tid uuid.UUID, caseID int64, status, by string) error {
	return s.db.InTenant(ctx, tid, func(tx pgx.Tx) error {
		c, err := caseTx(ctx, tx, caseID, true)
		if err != nil {
			return err
		}
		if err := tenant.CheckStatusTx(ctx, tx, "status", status); err != nil {
			return err
		}
		if c.Status == status {
			return nil // already so
		}
		if _, err := tx.Exec(ctx, `UPDATE cases SET status = $2 WHERE id = $1`, caseID, status); err != nil {
			return fmt.Errorf("set status of case %d: %w", caseID, err)
		}
		if err := addEvent(ctx, tx, tid, caseID, "Status set to "+status+" by "+by, s.clock.Now()); err != nil {
			return err
		}
		if err := s.events.Fire(ctx, tx, tid, ruleevent.StatusChanged, caseID, 0); err != nil {
			return err
		}
		return realtime.Notify(ctx, tx, realtime.Event{TenantID: tid, Kind: "case", CaseID: caseID})
	})
}

// MaxTagRunes is the longest tag.
const MaxTagRunes = 50

// Tag adds (or with remove, takes off) a tag of a chat or case; by says
// who or what in the conversation's event. Tags are kept in lower case.
func (s *Service) Tag(ctx context.Context, tid uuid.UUID, caseID int64, tag string, remove bool, by string) error {
	tag = strings.ToLower(strings.Join(strings.Fields(tag), " "))
	switch n := utf8.RuneCountInString(tag); {
	case n == 0:
		return problem.Field("tag", "Write the tag.")
	case n > MaxTagRunes:
		return problem.Field("tag", fmt.Sprintf("A tag is at most %d characters; this one has %d. Shorten it.", MaxTagRunes, n))
	}
	return s.db.InTenant(ctx, tid, func(tx pgx.Tx) error {
		if _, err := caseTx(ctx, tx, caseID, true); err != nil {
			return err
		}
		q, text := `UPDATE cases SET tags = array_append(tags, $2) WHERE id = $1 AND NOT $2 = ANY(tags)`, "Tag "+tag+" added by "+by
		if remove {
			q, text = `UPDATE cases SET tags = array_remove(tags, $2) WHERE id = $1 AND $2 = ANY(tags)`, "Tag "+tag+" removed by "+by
		}
		res, err := tx.Exec(ctx, q, caseID, tag)
		if err != nil {
			return fmt.Errorf("tag case %d: %w", caseID, err)
		}
		if res.RowsAffected() == 0 {
			return nil // already so
		}
		if err := addEvent(ctx, tx, tid, caseID, text, s.clock.Now()); err != nil {
			return err
		}
		return realtime.Notify(ctx, tx, realtime.Event{TenantID: tid, Kind: "case", CaseID: caseID})
	})
}

// RecordEvent adds a system event to a conversation ("Rule 'X' did not
// send …").
func (s *Service) RecordEvent(ctx context.Context, tid uuid.UUID, caseID int64, text string) error {
	return s.db.InTenant(ctx, tid, func(tx pgx.Tx) error {
		var exists bool
		if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT FROM cases WHERE id = $1)`, caseID).Scan(&exists); err != nil {
			return err
		}
		if !exists {
			return problem.New(problem.NotFound, "No such chat or case.")
		}
		if err := addEvent(ctx, tx, tid, caseID, text, s.clock.Now()); err != nil {
			return err
		}
		return realtime.Notify(ctx, tx, realtime.Event{TenantID: tid, Kind: "message", CaseID: caseID})
	})
}

// AddNote adds an internal note: agents see it, the client never does.
func (s *Service) AddNote(ctx context.Context, tid uuid.UUID, agentID, caseID int64, body string) error {
	body = strings.TrimSpace(body)
	if body == "" {
		return problem.Field("note", "Write the note.")
	}
	if utf8.RuneCountInString(body) > 10000 {
		return problem.Field("note", "A note is at most 10,000 characters.")
	}
	return s.db.InTenant(ctx, tid, func(tx pgx.Tx) error {
		if _, err := caseTx(ctx, tx, caseID, false); err != nil {
			return err
		}
		now := s.clock.Now()
		if _, err := tx.Exec(ctx, `INSERT INTO messages (tenant_id, case_id, direction, kind, agent_id, body, status, created_at, updated_at)
			VALUES ($1, $2, 'internal', 'note', nullif($3, 0), $4, 'none', $5, $5)`, tid, caseID, agentID, body, now); err != nil {
			return fmt.Errorf("add note: %w", err)
		}
		return realtime.Notify(ctx, tx, realtime.Event{TenantID: tid, Kind: "message", CaseID: caseID})
	})
}
