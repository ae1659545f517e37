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

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"parley/internal/postgres"
	"parley/internal/problem"
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
}

// Service is the client domain.
type Service struct{ db *postgres.DB }

// NewService returns the client service.
func NewService(db *postgres.DB) *Service { return &Service{db: db} }

const selectClient = `SELECT id, name, whatsapp, phone, email, notes, created_channel, created_at FROM clients`

// List finds clients, newest first, a page at a time: by name or email, or
// by any part of a phone or WhatsApp number however it is typed
// ("+1 (555) 765-4321", "15557654321"). after is the last id of the
// previous page; next is 0 on the last page.
func (s *Service) List(ctx context.Context, tid uuid.UUID, query string, after int64, limit int) (cs []Client, next int64, err error) {
	where := []string{"true"}
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
			cond += " OR whatsapp LIKE " + d + " OR phone LIKE " + d
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
