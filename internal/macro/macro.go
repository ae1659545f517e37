// Package macro holds macros: canned replies agents insert from the
// composer. General macros are managed by admins and used by everyone;
// personal macros belong to one agent. A macro may set the chat's status
// when the reply it went into is sent.
package macro

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"parley/internal/postgres"
	"parley/internal/problem"
	"parley/internal/tenant"
)

// Macro is a title, a text and optionally a status to set.
type Macro struct {
	ID      int64
	OwnerID *int64 // nil: a general macro
	Title   string
	Body    string
	Status  *string
}

// Form is what an agent types to create or edit a macro.
type Form struct {
	Title  string
	Body   string
	Status string // "" for none
}

// Owner says whose macros a call is about: the general ones (Agent 0) or
// one agent's personal ones.
type Owner struct{ Agent int64 }

// General is the owner of the tenant's general macros.
var General = Owner{}

func (o Owner) id() *int64 {
	if o.Agent == 0 {
		return nil
	}
	return &o.Agent
}

// Service is the macro domain.
type Service struct{ db *postgres.DB }

// NewService returns the macro service.
func NewService(db *postgres.DB) *Service { return &Service{db: db} }

// Panel is what the macros panel lists for an agent: general macros, then
// the agent's personal ones, each sorted by title.
type Panel struct {
	General, Personal []Macro
}

// ForAgent returns the macros an agent can use.
func (s *Service) ForAgent(ctx context.Context, tid uuid.UUID, agentID int64) (Panel, error) {
	var p Panel
	err := s.db.InTenant(ctx, tid, func(tx pgx.Tx) error {
		rows, _ := tx.Query(ctx, `SELECT id, owner_id, title, body, set_status FROM macros
			WHERE owner_id IS NULL OR owner_id = $1 ORDER BY owner_id NULLS FIRST, lower(title), id`, agentID)
		ms, err := pgx.CollectRows(rows, scan)
		for _, m := range ms {
			if m.OwnerID == nil {
				p.General = append(p.General, m)
			} else {
				p.Personal = append(p.Personal, m)
			}
		}
		return err
	})
	if err != nil {
		return p, fmt.Errorf("macros of agent %d: %w", agentID, err)
	}
	return p, nil
}

// List returns one owner's macros, sorted by title.
func (s *Service) List(ctx context.Context, tid uuid.UUID, o Owner) ([]Macro, error) {
	var ms []Macro
	err := s.db.InTenant(ctx, tid, func(tx pgx.Tx) error {
		rows, _ := tx.Query(ctx, `SELECT id, owner_id, title, body, set_status FROM macros
			WHERE owner_id IS NOT DISTINCT FROM $1 ORDER BY lower(title), id`, o.id())
		var err error
		ms, err = pgx.CollectRows(rows, scan)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("list macros: %w", err)
	}
	return ms, nil
}

// Get returns one of the owner's macros; another owner's is NotFound.
func (s *Service) Get(ctx context.Context, tid uuid.UUID, o Owner, id int64) (Macro, error) {
	var m Macro
	err := s.db.InTenant(ctx, tid, func(tx pgx.Tx) error {
		rows, _ := tx.Query(ctx, `SELECT id, owner_id, title, body, set_status FROM macros
			WHERE id = $1 AND owner_id IS NOT DISTINCT FROM $2`, id, o.id())
		var err error
		m, err = pgx.CollectExactlyOneRow(rows, scan)
		return err
	})
	if errors.Is(err, pgx.ErrNoRows) {
		return m, problem.New(problem.NotFound, "No such macro.")
	}
	return m, err
}

// Create stores a new macro for the owner.
func (s *Service) Create(ctx context.Context, tid uuid.UUID, o Owner, f Form) (Macro, error) {
	var m Macro
	err := s.db.InTenant(ctx, tid, func(tx pgx.Tx) (err error) { m, err = insert(ctx, tx, tid, o, f); return err })
	if _, ok := problem.As(err); ok {
		return m, err
	}
	if err != nil {
		return m, fmt.Errorf("create macro: %w", err)
	}
	return m, nil
}

// CreateTx is Create inside tx, a transaction of tenant tid (for a change
// that stores a macro with other things, as rule's examples do).
func CreateTx(ctx context.Context, tx pgx.Tx, tid uuid.UUID, o Owner, f Form) (Macro, error) {
	return insert(ctx, tx, tid, o, f)
}

func insert(ctx context.Context, tx pgx.Tx, tid uuid.UUID, o Owner, f Form) (Macro, error) {
	if err := f.validate(ctx, tx); err != nil {
		return Macro{}, err
	}
	rows, _ := tx.Query(ctx, `INSERT INTO macros (tenant_id, owner_id, title, body, set_status) VALUES ($1, $2, $3, $4, nullif($5, ''))
		RETURNING id, owner_id, title, body, set_status`, tid, o.id(), f.Title, f.Body, f.Status)
	return pgx.CollectExactlyOneRow(rows, scan)
}

// SelectGeneralIDs is a query of the ids of the tenant's general macros,
// for a caller that reads them with other things in one statement (rule's
// check of the macros its rules name).
const SelectGeneralIDs = `SELECT id FROM macros WHERE owner_id IS NULL`

// GeneralBodyTx is the text of general macro id, read in tx, a tenant
// transaction; pgx.ErrNoRows when there is none (it was deleted).
func GeneralBodyTx(ctx context.Context, tx pgx.Tx, id int64) (string, error) {
	var body string
	err := tx.QueryRow(ctx, `SELECT body FROM macros WHERE id = $1 AND owner_id IS NULL`, id).Scan(&body)
	return body, err
}

// Update changes one of the owner's macros.
func (s *Service) Update(ctx context.Context, tid uuid.UUID, o Owner, id int64, f Form) error {
	return s.db.InTenant(ctx, tid, func(tx pgx.Tx) error {
		if err := f.validate(ctx, tx); err != nil {
			return err
		}
		tag, err := tx.Exec(ctx, `UPDATE macros SET title = $3, body = $4, set_status = nullif($5, ''), updated_at = now()
			WHERE id = $1 AND owner_id IS NOT DISTINCT FROM $2`, id, o.id(), f.Title, f.Body, f.Status)
		if err != nil {
			return fmt.Errorf("update macro %d: %w", id, err)
		}
		if tag.RowsAffected() == 0 {
			return problem.New(problem.NotFound, "No such macro.")
		}
		return nil
	})
}

// Delete removes one of the owner's macros.
func (s *Service) Delete(ctx context.Context, tid uuid.UUID, o Owner, id int64) error {
	return s.db.InTenant(ctx, tid, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `DELETE FROM macros WHERE id = $1 AND owner_id IS NOT DISTINCT FROM $2`, id, o.id())
		if err != nil {
			return fmt.Errorf("delete macro %d: %w", id, err)
		}
		if tag.RowsAffected() == 0 {
			return problem.New(problem.NotFound, "No such macro.")
		}
		return nil
	})
}

func (f *Form) check() error {
	f.Title = strings.TrimSpace(f.Title)
	f.Body = strings.TrimSpace(f.Body)
	f.Status = strings.TrimSpace(f.Status)
	errs := problem.Fields{}
	switch n := utf8.RuneCountInString(f.Title); {
	case n == 0:
		errs.Add("title", "Give the macro a title.")
	case n > 100:
		errs.Add("title", "A title is at most 100 characters.")
	}
	switch n := utf8.RuneCountInString(f.Body); {
	case n == 0:
		errs.Add("body", "Write the macro's text.")
	case n > 4096:
		errs.Add("body", "A macro's text is at most 4,096 characters, as a WhatsApp message.")
	}
	return errs.Err()
}

// validate checks the form and its status (against tx's tenant's list),
// each problem next to its field, all at once.
func (f *Form) validate(ctx context.Context, tx pgx.Tx) error {
	err := f.check()
	serr := f.checkStatus(ctx, tx)
	sp, ok := problem.As(serr)
	if serr == nil || !ok {
		if serr != nil {
			return serr
		}
		return err
	}
	p, ok := problem.As(err)
	if !ok {
		return serr
	}
	if p.Fields == nil {
		p.Fields = map[string]string{}
	}
	for k, v := range sp.Fields {
		p.Fields[k] = v
	}
	return p
}

// checkStatus refuses a status not in the tenant's list (tx's tenant).
func (f *Form) checkStatus(ctx context.Context, tx pgx.Tx) error {
	if f.Status == "" {
		return nil
	}
	return tenant.CheckStatusTx(ctx, tx, "status", f.Status)
}

func scan(row pgx.CollectableRow) (Macro, error) {
	var m Macro
	err := row.Scan(&m.ID, &m.OwnerID, &m.Title, &m.Body, &m.Status)
	return m, err
}
