// Package realtime carries changes to agents' browsers: domain code calls
// Notify inside the transaction that makes a change (Postgres delivers the
// notification on commit, so a rolled-back change notifies nobody); one
// listener connection per replica fans events out to that replica's
// server-sent-event streams, filtered by tenant.
package realtime

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
)

// Channel is the Postgres notification channel.
const Channel = "parley_events"

// Event says what changed; browsers re-read what they show.
type Event struct {
	TenantID uuid.UUID `json:"t"`
	Kind     string    `json:"k"`           // "case", "message", "client", KindIntegration
	CaseID   int64     `json:"c,omitempty"` // the chat or case concerned
	// Senders name the chats of a batch of inbound messages: each one's
	// chat is the live chat of its sender on its integration. The batch
	// notifies once, with the statement that stores it, before that
	// statement has found the chats (every listening backend reads every
	// notification, and each replica's hub decodes it).
	Senders []Sender `json:"s,omitempty"`
	// Agent and Message: for KindRead, the agent who read the chat up to
	// this message; for KindSignedOut, the agent who signed out.
	Agent   int64 `json:"a,omitempty"`
	Message int64 `json:"m,omitempty"`
}

// KindRead says an agent read a chat: their other pages update its unread.
const KindRead = "read"

// Sender is a client's WhatsApp number on an integration.
type Sender struct {
	IntegrationID int64  `json:"i"`
	Number        string `json:"n"`
}

// KindIntegration says an integration changed: replicas forget the
// integrations they cached.
const KindIntegration = "integration"

// KindRules says a tenant's rules or time zone changed: replicas forget
// the rules they cached.
const KindRules = "rules"

// KindSignedOut says one or all of an agent's sessions ended (signed out,
// password reset): their open pages check that theirs still holds, and
// stop if not.
const KindSignedOut = "signed_out"

// KindTeam says who sees what changed (a group's members, an agent
// deactivated): open pages read again all their agent sees, as after a
// lost connection.
const KindTeam = "team"

// Notify queues ev for delivery when tx commits.
func Notify(ctx context.Context, tx pgx.Tx, ev Event) error {
	b := &pgx.Batch{}
	if err := QueueNotify(b, ev); err != nil {
		return err
	}
	if err := tx.SendBatch(ctx, b).Close(); err != nil {
		return fmt.Errorf("notify %s: %w", ev.Kind, err)
	}
	return nil
}

// QueueNotify adds Notify's statement to b, for a transaction that sends it
// with others in one round trip.
func QueueNotify(b *pgx.Batch, ev Event) error {
	payload, err := json.Marshal(ev)
	if err != nil {
		return err
	}
	b.Queue(`SELECT pg_notify($1, $2)`, Channel, string(payload))
	return nil
}

// NotifyMany queues several events in one statement (sweeps end or close
// thousands of chats at once).
func NotifyMany(ctx context.Context, tx pgx.Tx, evs []Event) error {
	if len(evs) == 0 {
		return nil
	}
	payloads := make([]string, len(evs))
	for i, ev := range evs {
		b, err := json.Marshal(ev)
		if err != nil {
			return err
		}
		payloads[i] = string(b)
	}
	if _, err := tx.Exec(ctx, `SELECT pg_notify($1, p) FROM unnest($2::text[]) AS p`, Channel, payloads); err != nil {
		return fmt.Errorf("notify %d events: %w", len(evs), err)
	}
	return nil
}
