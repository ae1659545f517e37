package conversation

import (
	"context"
	"fmt"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"
)

// Rule triggers the conversation fires.
const (
	RuleChatStarted   = "chat_started"
	RuleClientMessage = "client_message"
	RuleAgentMessage  = "agent_message"
	RuleChatEnded     = "chat_ended"
	RuleStatusChanged = "status_changed"
	RuleMessageFailed = "message_failed"
	// Waiting triggers fire from a sweep, once per waiting period.
	RuleNoClientReply = "no_client_reply"
	RuleNoAgentReply  = "no_agent_reply"
)

// MaxRuleDepth bounds chains of rules firing rules (a rule's action is an
// event that fires rules again): deeper events are dropped and logged.
const MaxRuleDepth = 5

// RuleChain is where an event stands in a chain of rules: the chain it
// belongs to (a rule fires at most once per chain) and how many rule runs
// led to it.
type RuleChain struct {
	ID    uuid.UUID `json:"id"`
	Depth int       `json:"depth,omitempty"`
}

// NewRuleChain starts a chain at an event no rule caused.
func NewRuleChain() RuleChain { return RuleChain{ID: uuid.New(), Depth: 1} }

type ruleChainKey struct{}

// WithRuleChain marks ctx as the run of rules in chain: events its
// actions cause carry it on.
func WithRuleChain(ctx context.Context, chain RuleChain) context.Context {
	return context.WithValue(ctx, ruleChainKey{}, chain)
}

// fireRules records, in the event's transaction, the event of trigger on
// chat caseID for the tenant's enabled rules, if it has any for trigger.
func (s *Service) fireRules(ctx context.Context, tx pgx.Tx, tid uuid.UUID, trigger string, caseID, messageID int64) error {
	chain, ok := ctx.Value(ruleChainKey{}).(RuleChain)
	switch {
	case !ok:
		chain = NewRuleChain()
	case chain.Depth >= MaxRuleDepth:
		s.log.WarnContext(ctx, "rules: chain too deep, event not run through rules", "tenant_id", tid, "case_id", caseID, "trigger", trigger, "chain", chain.ID)
		return nil
	default:
		chain.Depth++
	}
	return s.RecordRuleEvents(ctx, tx, tid, trigger, 0, []RuleEvent{{CaseID: caseID, MessageID: messageID, Chain: chain}})
}

// RuleEvent is one event the tenant's rules run for: a trigger on a chat.
// ID (the row of the change that recorded it), Trigger and RuleID are
// those of an event read back by a run; RecordRuleEvents takes the
// trigger and rule of all its events apart.
type RuleEvent struct {
	ID        int64
	Trigger   string
	CaseID    int64
	MessageID int64 // the message that fired it, if one did
	RuleID    int64 // for a waiting trigger, the one rule whose wait is over
	Chain     RuleChain
}

// RecordRuleEvents records, in tx, the transaction of the change that
// caused them, events of one trigger (and, for a waiting trigger, of one
// rule) if the tenant has enabled rules for it, and queues the tenant's
// rule run unless one is queued already: no event is lost in a crash, and
// none runs twice.
func (s *Service) RecordRuleEvents(ctx context.Context, tx pgx.Tx, tid uuid.UUID, trigger string, ruleID int64, evs []RuleEvent) error {
	n := len(evs)
	cases, msgs, chains, depths := make([]int64, n), make([]int64, n), make([]uuid.UUID, n), make([]int32, n)
	for i, ev := range evs {
		cases[i], msgs[i], chains[i], depths[i] = ev.CaseID, ev.MessageID, ev.Chain.ID, int32(ev.Chain.Depth)
	}
	var queue bool
	if err := tx.QueryRow(ctx, `SELECT record_rule_events($1, $2, $3, nullif($4, 0), $5, $6)`, trigger, cases, msgs, ruleID, chains, depths).Scan(&queue); err != nil {
		return fmt.Errorf("record rule events: %w", err)
	}
	if queue {
		return s.queueRuleRun(ctx, tx, tid)
	}
	return nil
}

// QueueRuleRun queues the tenant's rule run in tx unless one is queued
// already (a run that stops before it has taken every event calls it).
func (s *Service) QueueRuleRun(ctx context.Context, tx pgx.Tx, tid uuid.UUID) error {
	var queue bool
	if err := tx.QueryRow(ctx, `SELECT queue_rule_run()`).Scan(&queue); err != nil {
		return fmt.Errorf("queue rules: %w", err)
	}
	if queue {
		return s.queueRuleRun(ctx, tx, tid)
	}
	return nil
}

func (s *Service) queueRuleRun(ctx context.Context, tx pgx.Tx, tid uuid.UUID) error {
	if _, err := s.queue.InsertTx(ctx, tx, RuleArgs{TenantID: tid}, nil); err != nil {
		return fmt.Errorf("queue rules: %w", err)
	}
	return nil
}

// RuleArgs is the job that runs a tenant's recorded rule events, in the
// order they were recorded. One is queued at a time per tenant: it takes
// every event recorded until it starts.
type RuleArgs struct {
	TenantID uuid.UUID `json:"tenant_id"`
}

// Kind names the job.
func (RuleArgs) Kind() string { return "run_rules" }

// QueueRules is the River queue of rule runs: a burst of them does not hold
// up agents' replies in the default queue.
const QueueRules = "rules"

// InsertOpts: a rule run that fails is tried a few times.
func (RuleArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{MaxAttempts: 5, Queue: QueueRules}
}
