package client

import (
	"context"
	"errors"
	"fmt"
	"unicode/utf8"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"parley/internal/problem"
)

// ForWhatsApp returns, in tx (the transaction of the message that needs
// it), the client with this WhatsApp number; else the one with it as their
// phone number, who gets it as their WhatsApp (from the telephony channel,
// or typed in by an agent: the chat joins their history); else a new client
// named after the WhatsApp profile.
func ForWhatsApp(ctx context.Context, tx pgx.Tx, tid uuid.UUID, number, profileName string) (int64, error) {
	var id int64
	// Known clients are only read: no write, no lock on their row.
	const find = `SELECT id FROM clients WHERE whatsapp = $1`
	err := tx.QueryRow(ctx, find, number).Scan(&id)
	if errors.Is(err, pgx.ErrNoRows) {
		err = tx.QueryRow(ctx, `UPDATE clients SET whatsapp = $1, updated_at = now()
			WHERE id = (SELECT id FROM clients WHERE phone = $1 AND whatsapp IS NULL AND merged_into IS NULL ORDER BY id LIMIT 1)
			RETURNING id`, number).Scan(&id)
	}
	if errors.Is(err, pgx.ErrNoRows) {
		// ON CONFLICT makes two first messages of a new client create
		// one client; the loser reads the winner's.
		err = tx.QueryRow(ctx, `INSERT INTO clients (tenant_id, name, whatsapp, created_channel) VALUES ($1, $2, $3, 'whatsapp')
			ON CONFLICT (tenant_id, whatsapp) WHERE whatsapp IS NOT NULL DO NOTHING RETURNING id`, tid, nameFromProfile(profileName, number), number).Scan(&id)
		if errors.Is(err, pgx.ErrNoRows) {
			err = tx.QueryRow(ctx, find, number).Scan(&id)
		}
	}
	if err != nil {
		return 0, fmt.Errorf("find or create client %s: %w", number, err)
	}
	return id, nil
}

// GiveWhatsApp makes number, in tx, the WhatsApp number of client id, who
// must have none or this one, and which no other client may have (an agent
// starting a conversation from the client's page).
func GiveWhatsApp(ctx context.Context, tx pgx.Tx, id int64, number string) error {
	var wa *string
	err := tx.QueryRow(ctx, `SELECT whatsapp FROM clients WHERE id = $1 FOR UPDATE`, id).Scan(&wa)
	if errors.Is(err, pgx.ErrNoRows) {
		return problem.New(problem.NotFound, "No such client.")
	}
	switch {
	case err != nil:
		return fmt.Errorf("client %d: %w", id, err)
	case wa != nil && *wa != number:
		return problem.Field("number", "This client's WhatsApp number is "+*wa+".")
	case wa != nil:
		return nil
	}
	var other int64
	err = tx.QueryRow(ctx, `SELECT id FROM clients WHERE whatsapp = $1`, number).Scan(&other)
	if err == nil {
		return problem.Field("number", "Another client has this WhatsApp number; start the conversation from their page.")
	}
	if !errors.Is(err, pgx.ErrNoRows) {
		return err
	}
	if _, err := tx.Exec(ctx, `UPDATE clients SET whatsapp = $2, updated_at = now() WHERE id = $1`, id, number); err != nil {
		return fmt.Errorf("set WhatsApp of client %d: %w", id, err)
	}
	return nil
}

// nameFromProfile is a new client's name: their WhatsApp profile name, cut
// to the longest name a client may have, or their number without one.
func nameFromProfile(profileName, number string) string {
	if profileName == "" {
		return number
	}
	if utf8.RuneCountInString(profileName) <= maxNameRunes {
		return profileName
	}
	return string([]rune(profileName)[:maxNameRunes-1]) + "…"
}
