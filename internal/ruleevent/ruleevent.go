// Package ruleevent records the events automation rules run for. An event
// is a trigger on a chat (a client wrote, a chat ended, …); it is recorded
// in the transaction of the change that caused it, so that no event is lost
// in a crash and none is recorded for a change that rolled back, and the
// tenant's rule run is queued with it unless one is queued already.
//
// The conversation records events; package rule runs them. This package
// sits below both, so that neither imports the other for them.
package ruleevent

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"
)

// Triggers: what a rule can run for.
const (
	ChatStarted   = "chat_started"
	ClientMessage = "client_message"
	AgentMessage  = "agent_message"
	ChatEnded     = "chat_ended"
	StatusChanged = "status_changed"
	MessageFailed = "message_failed"
	// Waiting triggers fire from a sweep, once per waiting period.
	NoClientReply = "no_client_reply"
	NoAgentReply  = "no_agent_reply"
)

// MaxDepth bounds chains of rules firing rules (a rule's action is an event
// that fires rules again): deeper events are dropped and logged.
const MaxDepth = 5

// Chain is where an event stands in a chain of rules: the chain it belongs
// to (a rule fires at most once per chain) and how many rule runs led to it.
type Chain struct {
	ID    uuid.UUID `json:"id"`
	Depth int       `json:"depth,omitempty"`
}

// NewChain starts a chain at an event no rule caused.
func NewChain() Chain { return Chain{ID: uuid.New(), Depth: 1} }

type chainKey struct{}

// WithChain marks ctx as the run of rules in chain: events its actions
// cause carry it on.
func WithChain(ctx context.Context, chain Chain) context.Context {
	return context.WithValue(ctx, chainKey{}, chain)
}

// Event is one event the tenant's rules run for: a trigger on a chat. ID
// (the row of the change that recorded it), Trigger and RuleID are those of
// an event read back by a run; Record takes the trigger and rule of all its
// events apart.
type Event struct {
	ID        int64
	Trigger   string
	CaseID    int64
	MessageID int64 // the message that fired it, if one did
	RuleID    int64 // for a waiting trigger, the one rule whose wait is over
	Chain     Chain
}

// Filter tells, from a client's message text alone, whether some enabled
// rule of the tenant may fire for it: a message none may fire for records
// no event (most messages, since most rules test the text).
type Filter interface {
	MayFire(ctx context.Context, tid uuid.UUID, text string) bool
}

// Recorder records events and queues the tenant's rule run.
type Recorder struct {
	queue *river.Client[pgx.Tx] // may be insert-only
	log   *slog.Logger
}

// NewRecorder returns a recorder that queues rule runs with queue.
func NewRecorder(queue *river.Client[pgx.Tx], log *slog.Logger) *Recorder {
	return &Recorder{queue: queue, log: log}
}

// Fire records, in tx, the event of trigger on chat caseID, in the chain of
// the rule run that ctx belongs to (or a new one).
func (r *Recorder) Fire(ctx context.Context, tx pgx.Tx, tid uuid.UUID, trigger string, caseID, messageID int64) error {
	chain, ok := ctx.Value(chainKey{}).(Chain)
	switch {
	case !ok:
		chain = NewChain()
	case chain.Depth >= MaxDepth:
		r.log.WarnContext(ctx, "rules: chain too deep, event not run through rules", "tenant_id", tid, "case_id", caseID, "trigger", trigger, "chain", chain.ID)
		return nil
	default:
		chain.Depth++
	}
	return r.Record(ctx, tx, tid, trigger, 0, []Event{{CaseID: caseID, MessageID: messageID, Chain: chain}})
}

// Record records, in tx, events of one trigger (and, for a waiting trigger,
// of one rule) as one row, if the tenant has enabled rules for it, and
// queues the tenant's rule run unless one is queued already.
func (r *Recorder) Record(ctx context.Context, tx pgx.Tx, tid uuid.UUID, trigger string, ruleID int64, evs []Event) error {
	if len(evs) == 0 {
		return nil
	}
	n := len(evs)
	cases, msgs, chains, depths := make([]int64, n), make([]int64, n), make([]uuid.UUID, n), make([]int32, n)
	for i, ev := range evs {
		cases[i], msgs[i], chains[i], depths[i] = ev.CaseID, ev.MessageID, ev.Chain.ID, int32(ev.Chain.Depth)
	}
	var queue bool
	err := tx.QueryRow(ctx, `INSERT INTO rule_events (tenant_id, trigger, rule_id, case_ids, message_ids, chains, depths)
		SELECT current_tenant(), $1, nullif($2::bigint, 0), $3, $4, $5, $6
		WHERE EXISTS (SELECT FROM rules WHERE enabled AND trigger = $1 AND ($2 = 0 OR id = $2))
		RETURNING queue_rule_run()`, trigger, ruleID, cases, msgs, chains, depths).Scan(&queue)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return nil // no enabled rule for the trigger
	case err != nil:
		return fmt.Errorf("record %s rule events: %w", trigger, err)
	case queue:
		return r.queueRun(ctx, tx, tid)
	}
	return nil
}

// QueueRun queues the tenant's rule run in tx unless one is queued already
// (a run that stops before it has taken every event calls it).
func (r *Recorder) QueueRun(ctx context.Context, tx pgx.Tx, tid uuid.UUID) error {
	var queue bool
	if err := tx.QueryRow(ctx, `SELECT queue_rule_run()`).Scan(&queue); err != nil {
		return fmt.Errorf("queue rules: %w", err)
	}
	if queue {
		return r.queueRun(ctx, tx, tid)
	}
	return nil
}

func (r *Recorder) queueRun(ctx context.Context, tx pgx.Tx, tid uuid.UUID) error {
	if _, err := r.queue.InsertTx(ctx, tx, RunArgs{TenantID: tid}, nil); err != nil {
		return fmt.Errorf("queue rules: %w", err)
	}
	return nil
}

// RunArgs is the job that runs a tenant's recorded rule events, in the order
// they were recorded. One is queued at a time per tenant: it takes every
// event recorded until it starts.
type RunArgs struct {
	TenantID uuid.UUID `json:"tenant_id"`
}

// Kind names the job.
func (RunArgs) Kind() string { return "run_rules" }

// Queue is the River queue of rule runs: a burst of them does not hold up
// agents' replies in the default queue.
const Queue = "rules"

// InsertOpts: a rule run that fails is tried a few times.
func (RunArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{MaxAttempts: 5, Queue: Queue}
}
