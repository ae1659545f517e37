package client

import (
	"context"
	"errors"
	"fmt"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"parley/internal/postgres"
	"parley/internal/problem"
	"parley/internal/realtime"
)

// MsgNumberKnown is why adding a client by hand was refused: a client has
// one of its numbers already.
const MsgNumberKnown = "A client with this number exists already. Nothing was saved: add these details to them (a merge you can undo), or change the number."

// Create adds a client by hand (name, phone, WhatsApp, email), matched as
// an edit is: a number another client has (phone or WhatsApp, theirs or
// one a profile merged into them keeps) creates no second client but
// comes back as a Conflict with those clients, the merge offer. With into
// (one of them, or any live client), the new details are added to that
// client instead: the new profile is created and merged into it in one
// transaction, recorded and undoable like any merge; where both have a
// name or email, theirs stays, and every new number is kept. id is the
// client the details are on.
func (s *Service) Create(ctx context.Context, tid uuid.UUID, agentID int64, f Form, into int64) (id int64, dups []Client, err error) {
	f, ph, wa, err := s.check(ctx, tid, f)
	if err != nil {
		return 0, nil, err
	}
	var nums []string
	for _, n := range []*string{ph, wa} {
		if n != nil {
			nums = append(nums, *n)
		}
	}
	if dups, err = s.Duplicates(ctx, tid, 0, nums...); err != nil {
		return 0, nil, err
	}
	if into == 0 && len(dups) > 0 {
		return 0, dups, problem.New(problem.Conflict, MsgNumberKnown)
	}
	err = s.db.InTenant(ctx, tid, func(tx pgx.Tx) error {
		if into != 0 {
			// Numbers the client has already stay where they are.
			ph, wa = notOf(ctx, tx, into, ph), notOf(ctx, tx, into, wa)
		}
		err := tx.QueryRow(ctx, `INSERT INTO clients (tenant_id, name, email, phone, whatsapp, created_channel)
			VALUES ($1, $2, nullif($3, ''), $4, $5, 'manual') RETURNING id`, tid, f.Name, f.Email, ph, wa).Scan(&id)
		if postgres.IsUniqueViolation(err, "clients_whatsapp_key") {
			// Another client took the number a moment ago.
			return problem.New(problem.Conflict, MsgNumberKnown)
		}
		if err != nil {
			return fmt.Errorf("add client: %w", err)
		}
		if into != 0 {
			keep := map[string]string{}
			for _, field := range MergeFields {
				keep[field] = KeepSurvivor
			}
			if _, err := mergeTx(ctx, tx, tid, agentID, into, id, keep); err != nil {
				return err
			}
			id = into
		}
		return realtime.Notify(ctx, tx, realtime.Event{TenantID: tid, Kind: "client"})
	})
	if err != nil {
		if p, ok := problem.As(err); ok && p.Kind == problem.Conflict && p.Msg == MsgNumberKnown && into == 0 {
			dups, _ = s.Duplicates(ctx, tid, 0, nums...)
		}
		return 0, dups, err
	}
	return id, nil, nil
}

// notOf is number, or nil when client id (or a profile merged into it)
// has it already.
func notOf(ctx context.Context, tx pgx.Tx, id int64, number *string) *string {
	if number == nil {
		return nil
	}
	var holder int64
	err := tx.QueryRow(ctx, `SELECT `+survivorOf+` FROM clients h WHERE h.whatsapp = $1 OR h.phone = $1 ORDER BY (`+survivorOf+`) = $2 DESC LIMIT 1`, *number, id).Scan(&holder)
	if errors.Is(err, pgx.ErrNoRows) || err != nil || holder != id {
		return number
	}
	return nil
}
