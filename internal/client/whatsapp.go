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

// WhatsAppIdentity is who a WhatsApp message says its sender is: their
// number and, or only, their business-scoped user id (BSUID: WhatsApp
// hides the number of a user with a username), with what else WhatsApp
// tells of them.
type WhatsAppIdentity struct {
	Number      string // E.164, or "" when hidden
	UserID      string // BSUID, or ""
	WaID        string // WhatsApp's id (Twilio's WaId)
	Username    string
	ProfileName string
}

// ForWhatsApp returns, in tx (the transaction of the message that needs
// it), the client with this WhatsApp number, else the one with this
// business-scoped user id; else the one with the number as their phone
// number, who gets it as their WhatsApp (from the telephony channel, or
// typed in by an agent: the chat joins their history); else a new client
// named after the WhatsApp profile. The client found keeps what they
// lacked of the identity: a client known only by their user id gets the
// number when a message carries both, and the other way round.
func ForWhatsApp(ctx context.Context, tx pgx.Tx, tid uuid.UUID, who WhatsAppIdentity) (int64, error) {
	if who.Number == "" && who.UserID == "" {
		return 0, errors.New("find or create client: neither a WhatsApp number nor a user id")
	}
	var id int64
	// Known clients are only read: no write, no lock on their row, unless
	// they lack a part of the identity.
	const find = `SELECT id FROM clients WHERE ($1 <> '' AND whatsapp = $1) OR ($2 <> '' AND whatsapp_user_id = $2)
		ORDER BY whatsapp = $1 DESC NULLS LAST LIMIT 1`
	err := tx.QueryRow(ctx, find, who.Number, who.UserID).Scan(&id)
	if errors.Is(err, pgx.ErrNoRows) && who.Number != "" {
		err = tx.QueryRow(ctx, `UPDATE clients SET whatsapp = $1, updated_at = now()
			WHERE id = (SELECT id FROM clients WHERE phone = $1 AND whatsapp IS NULL ORDER BY merged_into IS NULL DESC, id LIMIT 1)
			RETURNING id`, who.Number).Scan(&id)
	}
	if errors.Is(err, pgx.ErrNoRows) {
		// ON CONFLICT makes two first messages of a new client create
		// one client; the loser reads the winner's.
		err = tx.QueryRow(ctx, `INSERT INTO clients (tenant_id, name, whatsapp, whatsapp_user_id, whatsapp_wa_id, whatsapp_username, created_channel)
			VALUES ($1, $2, nullif($3, ''), nullif($4, ''), nullif($5, ''), nullif($6, ''), 'whatsapp')
			ON CONFLICT DO NOTHING RETURNING id`,
			tid, nameFromProfile(who.ProfileName, cmpOr(who.Number, who.Username, who.UserID)), who.Number, who.UserID, who.WaID, who.Username).Scan(&id)
		if errors.Is(err, pgx.ErrNoRows) {
			err = tx.QueryRow(ctx, find, who.Number, who.UserID).Scan(&id)
		}
		if err == nil {
			return id, nil
		}
	}
	if err != nil {
		return 0, fmt.Errorf("find or create client %s: %w", cmpOr(who.Number, who.UserID), err)
	}
	if err := completeIdentity(ctx, tx, id, who); err != nil {
		return 0, err
	}
	// A number kept by a merged-away profile is its survivor's: the
	// message lands on the survivor.
	if err := tx.QueryRow(ctx, `SELECT `+survivorOf+` FROM clients h WHERE h.id = $1`, id).Scan(&id); err != nil {
		return 0, fmt.Errorf("survivor of client %d: %w", id, err)
	}
	return id, nil
}

// completeIdentity gives client id the parts of who it lacks, those no
// other client has: the number joins a client known by their user id, the
// user id one known by their number. It writes only when something is
// missing.
func completeIdentity(ctx context.Context, tx pgx.Tx, id int64, who WhatsAppIdentity) error {
	_, err := tx.Exec(ctx, `UPDATE clients c SET
			whatsapp = CASE WHEN c.whatsapp IS NULL AND $2 <> '' AND NOT EXISTS (SELECT FROM clients o WHERE o.whatsapp = $2) THEN $2 ELSE c.whatsapp END,
			whatsapp_user_id = CASE WHEN c.whatsapp_user_id IS NULL AND $3 <> '' AND NOT EXISTS (SELECT FROM clients o WHERE o.whatsapp_user_id = $3) THEN $3 ELSE c.whatsapp_user_id END,
			whatsapp_wa_id = coalesce(nullif($4, ''), c.whatsapp_wa_id),
			whatsapp_username = coalesce(nullif($5, ''), c.whatsapp_username),
			updated_at = now()
		WHERE c.id = $1 AND (
			(c.whatsapp IS NULL AND $2 <> '') OR (c.whatsapp_user_id IS NULL AND $3 <> '')
			OR ($4 <> '' AND c.whatsapp_wa_id IS DISTINCT FROM $4) OR ($5 <> '' AND c.whatsapp_username IS DISTINCT FROM $5))`,
		id, who.Number, who.UserID, who.WaID, who.Username)
	if err != nil {
		return fmt.Errorf("complete WhatsApp identity of client %d: %w", id, err)
	}
	return nil
}

func cmpOr(vs ...string) string {
	for _, v := range vs {
		if v != "" {
			return v
		}
	}
	return ""
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
	if err != nil {
		return fmt.Errorf("client %d: %w", id, err)
	}
	var holder int64
	err = tx.QueryRow(ctx, `SELECT `+survivorOf+` FROM clients h WHERE h.whatsapp = $1`, number).Scan(&holder)
	switch {
	case err == nil && holder == id:
		return nil // theirs, or kept for them by a profile merged into theirs
	case err != nil && !errors.Is(err, pgx.ErrNoRows):
		return err
	case wa != nil:
		return problem.Field("number", "This client's WhatsApp number is "+*wa+".")
	case err == nil:
		return problem.Field("number", "Another client has this WhatsApp number; start the conversation from their page.")
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
