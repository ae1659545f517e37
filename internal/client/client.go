// Package client holds the tenant's clients: the people who write on
// WhatsApp (and other channels), their contact fields and their profiles.
package client

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"parley/internal/phone"
	"parley/internal/postgres"
	"parley/internal/problem"
	"parley/internal/realtime"
	"parley/internal/tenant"
)

// Client is one of the tenant's customers.
type Client struct {
	ID             int64
	Name           string
	WhatsApp       *string
	Phone          *string
	Email          *string
	Notes          string
	CreatedChannel string
	CreatedAt      time.Time
	// MergedInto is set on a profile merged into another one.
	MergedInto *int64
}

// Service is the client domain.
type Service struct{ db *postgres.DB }

// NewService returns the client service.
func NewService(db *postgres.DB) *Service { return &Service{db: db} }

const selectClient = `SELECT id, name, whatsapp, phone, email, notes, created_channel, created_at, merged_into FROM clients`

// List finds clients, newest first, a page at a time: by name or email, or
// by any part of a phone or WhatsApp number however it is typed
// ("+1 (555) 765-4321", "15557654321"). after is the last id of the
// previous page; next is 0 on the last page.
func (s *Service) List(ctx context.Context, tid uuid.UUID, query string, after int64, limit int) (cs []Client, next int64, err error) {
	where := []string{"merged_into IS NULL"}
	args := []any{}
	arg := func(v any) string { args = append(args, v); return "$" + strconv.Itoa(len(args)) }
	if q := strings.TrimSpace(query); q != "" {
		digits := strings.Map(func(r rune) rune {
			if unicode.IsDigit(r) {
				return r
			}
			return -1
		}, q)
		text := arg("%" + strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`).Replace(q) + "%")
		cond := "name ILIKE " + text + " OR email ILIKE " + text
		if len(digits) >= 4 {
			d := arg("%" + strings.TrimPrefix(digits, "00") + "%")
			// A number a profile merged into this one keeps finds it too.
			cond += " OR whatsapp LIKE " + d + " OR phone LIKE " + d +
				" OR id IN (SELECT m.merged_into FROM clients m WHERE m.merged_into IS NOT NULL AND (m.whatsapp LIKE " + d + " OR m.phone LIKE " + d + "))"
		}
		where = append(where, "("+cond+")")
	}
	if after > 0 {
		where = append(where, "id < "+arg(after))
	}
	q := selectClient + " WHERE " + strings.Join(where, " AND ") + " ORDER BY id DESC LIMIT " + arg(limit+1)
	err = s.db.InTenant(ctx, tid, func(tx pgx.Tx) error {
		rows, _ := tx.Query(ctx, q, args...)
		var err error
		cs, err = pgx.CollectRows(rows, pgx.RowToStructByName[Client])
		return err
	})
	if err != nil {
		return nil, 0, fmt.Errorf("list clients: %w", err)
	}
	if len(cs) > limit {
		cs = cs[:limit]
		next = cs[limit-1].ID
	}
	return cs, next, nil
}

// Get returns one client.
func (s *Service) Get(ctx context.Context, tid uuid.UUID, id int64) (Client, error) {
	var c Client
	err := s.db.InTenant(ctx, tid, func(tx pgx.Tx) error {
		rows, _ := tx.Query(ctx, selectClient+` WHERE id = $1`, id)
		var err error
		c, err = pgx.CollectExactlyOneRow(rows, pgx.RowToStructByName[Client])
		if err == pgx.ErrNoRows {
			return problem.New(problem.NotFound, "No such client.")
		}
		return err
	})
	return c, err
}

// Form is a client's fields as an agent edits them.
type Form struct {
	Name, Email, Phone, WhatsApp, Notes string
}

// Field limits.
const (
	maxNameRunes  = 200
	maxNotesRunes = 10000
)

// Update saves a client's fields: the email checked, numbers read in the
// tenant's default country and stored in E.164. A WhatsApp number another
// client has is refused, with that client among the duplicates, so that
// the agent can merge the two instead; a phone number another client has
// is saved, and the duplicates come back for the merge offer.
func (s *Service) Update(ctx context.Context, tid uuid.UUID, id int64, f Form) (dups []Client, err error) {
	f, ph, wa, err := s.check(ctx, tid, f)
	if err != nil {
		return nil, err
	}
	var nums []string
	for _, n := range []*string{ph, wa} {
		if n != nil {
			nums = append(nums, *n)
		}
	}
	if dups, err = s.Duplicates(ctx, tid, id, nums...); err != nil {
		return nil, err
	}
	taken := problem.Field("whatsapp", "Another client has this WhatsApp number: merge the two profiles instead.")
	for _, d := range dups {
		if wa != nil && d.WhatsApp != nil && *d.WhatsApp == *wa {
			taken = problem.Field("whatsapp", "Another client, "+d.Name+", has this WhatsApp number: merge the two profiles instead.")
			return dups, taken
		}
	}
	err = s.db.InTenant(ctx, tid, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `UPDATE clients SET name = $2, email = nullif($3, ''), phone = $4, whatsapp = $5, notes = $6, updated_at = now()
			WHERE id = $1 AND merged_into IS NULL`, id, f.Name, f.Email, ph, wa, f.Notes)
		switch {
		case postgres.IsUniqueViolation(err, "clients_whatsapp_key"):
			return taken // another profile took the number a moment ago
		case err != nil:
			return fmt.Errorf("update client %d: %w", id, err)
		case tag.RowsAffected() == 0:
			return problem.New(problem.NotFound, "No such client, or it was merged into another one; reload the page.")
		}
		// Other agents' open pages of the profile follow the edit.
		return realtime.Notify(ctx, tx, realtime.Event{TenantID: tid, Kind: "client"})
	})
	return dups, err
}

// check reads a client form: fields trimmed, the email checked, numbers
// read in the tenant's default country and returned in E.164 (nil when
// empty). A problem is Invalid with a message per field.
func (s *Service) check(ctx context.Context, tid uuid.UUID, f Form) (_ Form, ph, wa *string, err error) {
	country, err := s.DefaultCountry(ctx, tid)
	if err != nil {
		return f, nil, nil, err
	}
	fields := problem.Fields{}
	f.Name, f.Email, f.Notes = strings.TrimSpace(f.Name), strings.TrimSpace(f.Email), strings.TrimSpace(f.Notes)
	switch n := utf8.RuneCountInString(f.Name); {
	case n == 0:
		fields.Add("name", "Give the client a name.")
	case n > maxNameRunes:
		fields.Add("name", "A name is at most 200 characters.")
	}
	if f.Email != "" {
		if !tenant.ValidEmail(f.Email) {
			fields.Add("email", "This is not an email address, like casey@example.com.")
		}
	}
	if utf8.RuneCountInString(f.Notes) > maxNotesRunes {
		fields.Add("notes", "Notes are at most 10,000 characters.")
	}
	number := func(field, raw string) *string {
		raw = strings.TrimSpace(raw)
		if raw == "" {
			return nil
		}
		n, err := phone.Normalize(raw, country)
		if err != nil {
			fields.Add(field, "This is not a phone number. Type it with its country code, like +44 7700 900123, or as dialled in "+country+".")
			return nil
		}
		return &n
	}
	ph, wa = number("phone", f.Phone), number("whatsapp", f.WhatsApp)
	return f, ph, wa, fields.Err()
}

// DefaultCountry is the tenant's country for numbers typed without a
// country code (ISO 3166 code, e.g. "US").
func (s *Service) DefaultCountry(ctx context.Context, tid uuid.UUID) (string, error) {
	var c string
	err := s.db.InTenant(ctx, tid, func(tx pgx.Tx) error {
		return tx.QueryRow(ctx, `SELECT default_country FROM tenants WHERE id = $1`, tid).Scan(&c)
	})
	return c, err
}

// SetDefaultCountry changes it.
func (s *Service) SetDefaultCountry(ctx context.Context, tid uuid.UUID, country string) error {
	country = strings.ToUpper(strings.TrimSpace(country))
	if !phone.KnownRegion(country) {
		return problem.Field("default_country", "Choose a country.")
	}
	return s.db.InTenant(ctx, tid, func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, `UPDATE tenants SET default_country = $2 WHERE id = $1`, tid, country)
		return err
	})
}

// Version changes whenever the profile changes in a way its page shows:
// an edit, a merge into it or of it, an undo (each sets updated_at on the
// profiles it touches). Pages compare it to reload when another agent
// changed the profile.
func (s *Service) Version(ctx context.Context, tid uuid.UUID, id int64) (string, error) {
	var v string
	err := s.db.InTenant(ctx, tid, func(tx pgx.Tx) error {
		return tx.QueryRow(ctx, `SELECT extract(epoch FROM updated_at)::text FROM clients WHERE id = $1`, id).Scan(&v)
	})
	return v, err
}
