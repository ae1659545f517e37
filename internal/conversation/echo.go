package conversation

import (
	"context"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"

	"parley/internal/channel"
	"parley/internal/integration"
)

// Echoes: 1msg reports every message of the number, the business's own
// included. An echo of a message Parley sent is recognised by its provider
// id and stores nothing; a message typed in the WhatsApp app on the
// business phone is stored as the agent side of the chat.

// ReceiveEcho handles the echo of a message the business sent. fromApp
// says it was typed in the WhatsApp app, not sent through the API. An echo
// of an API send that Parley does not know yet (the echo may overtake the
// send's answer) is looked at again a little later by an EchoArgs job.
func (s *Service) ReceiveEcho(ctx context.Context, ig integration.Integration, in channel.Inbound, fromApp bool) error {
	if !fromApp {
		known, err := s.knownProviderMessage(ctx, ig, in.ProviderMessageID)
		if err != nil || known {
			return err
		}
		_, err = s.queue.Insert(ctx, EchoArgs{TenantID: ig.TenantID, IntegrationID: ig.ID, Message: in},
			&river.InsertOpts{ScheduledAt: time.Now().Add(echoGrace)})
		return err
	}
	_, err := s.receive(ctx, ig, in, true)
	return err
}

// StoreEcho settles an echo that is still unknown after the grace period.
// A message of ours that the provider accepted without an id (1msg's
// queued "jobId" answer), or whose send Parley could not confirm, takes
// the echo's id: the newest such message to this client with the same
// text. The echo confirms it went out. Anything else is a message another API
// client of the number sent (1msg's own inbox, say), stored as the agent
// side of the chat.
func (s *Service) StoreEcho(ctx context.Context, ig integration.Integration, in channel.Inbound) (Received, error) {
	var claimed bool
	err := s.db.InTenant(ctx, ig.TenantID, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `UPDATE messages SET provider_message_id = $3, updated_at = $5, send_attempted_at = NULL,
				error_message = CASE WHEN status = 'unconfirmed' THEN NULL ELSE error_message END,
				status = CASE WHEN status IN ('queued', 'unconfirmed') THEN 'sent' ELSE status END
			WHERE id = (SELECT m.id FROM messages m JOIN cases c ON c.tenant_id = m.tenant_id AND c.id = m.case_id
				JOIN clients cl ON cl.tenant_id = c.tenant_id AND cl.id = c.client_id
				WHERE m.integration_id = $1 AND m.direction = 'out' AND m.provider_message_id IS NULL
					AND cl.whatsapp = $2 AND m.body = $4 AND m.status IN ('queued', 'sent', 'unconfirmed')
				ORDER BY m.id DESC LIMIT 1)`, ig.ID, in.From, in.ProviderMessageID, in.Body, s.clock.Now())
		claimed = tag.RowsAffected() == 1
		return err
	})
	if err != nil || claimed {
		return Received{Duplicate: claimed}, err
	}
	return s.receive(ctx, ig, in, true)
}

// echoGrace is how long an echo of an API send may wait for Parley's own
// record of the send.
const echoGrace = 10 * time.Second

func (s *Service) knownProviderMessage(ctx context.Context, ig integration.Integration, id string) (bool, error) {
	var known bool
	err := s.db.InTenant(ctx, ig.TenantID, func(tx pgx.Tx) error {
		return tx.QueryRow(ctx, `SELECT EXISTS (SELECT FROM messages WHERE integration_id = $1 AND provider_message_id = $2)`, ig.ID, id).Scan(&known)
	})
	return known, err
}

// EchoArgs is an echo of an API send that Parley did not recognise at once.
type EchoArgs struct {
	TenantID      uuid.UUID       `json:"tenant_id"`
	IntegrationID int64           `json:"integration_id"`
	Message       channel.Inbound `json:"message"`
}

// Kind names the job.
func (EchoArgs) Kind() string { return "receive_echo" }

// InsertOpts: a few tries.
func (EchoArgs) InsertOpts() river.InsertOpts { return river.InsertOpts{MaxAttempts: 5} }
