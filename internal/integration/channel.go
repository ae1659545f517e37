package integration

import (
	"context"
	"errors"
	"fmt"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"parley/internal/postgres"
	"parley/internal/problem"
)

// oneChannelKey is the unique index that keeps a channel (a provider
// account and sender) to one enabled integration, across tenants.
const oneChannelKey = "integrations_one_channel"

// channelHeld refuses to connect a channel that an integration already
// holds, in this tenant or another, in words saying where; nil when none
// does. Another tenant is not named.
func (s *Service) channelHeld(ctx context.Context, tid uuid.UUID, provider, account, sender string) error {
	var owner uuid.UUID
	var id int64
	var enabled bool
	err := s.db.InSystem(ctx, func(tx pgx.Tx) error {
		return tx.QueryRow(ctx, `SELECT tenant_id, id, enabled FROM integration_holding_channel($1, $2, $3)`, provider, account, sender).
			Scan(&owner, &id, &enabled)
	})
	if errors.Is(err, pgx.ErrNoRows) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("look up who holds the channel: %w", err)
	}
	what := "This Twilio account and sender are"
	if provider == OneMsg {
		what = "This 1msg channel is"
	}
	switch {
	case owner != tid:
		return problem.New(problem.Conflict, what+" already connected to another Parley workspace. A channel can feed one workspace only: disconnect it there first. Nothing was saved.")
	case !enabled:
		return problem.New(problem.Conflict, fmt.Sprintf("%s already connected here, disabled: Settings → Integrations, integration %d. Enable it there instead of connecting it again. Nothing was saved.", what, id))
	}
	return problem.New(problem.Conflict, fmt.Sprintf("%s already connected here: Settings → Integrations, integration %d. Nothing was saved.", what, id))
}

// heldProblem turns a violation of the one-channel key (two connects at
// once, or enabling a second integration of a channel) into channelHeld's
// words; other errors pass through.
func (s *Service) heldProblem(ctx context.Context, err error, tid uuid.UUID, provider, account, sender string) error {
	if !postgres.IsUniqueViolation(err, oneChannelKey) {
		return err
	}
	if held := s.channelHeld(ctx, tid, provider, account, sender); held != nil {
		return held
	}
	return problem.New(problem.Conflict, "This channel is already connected to another integration. Nothing was saved.")
}
