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

// fireRules records, in the event's transaction, the job that runs the
// tenant's enabled rules for trigger, if it has any.
func (s *Service) fireRules(ctx context.Context, tx pgx.Tx, tid uuid.UUID, trigger string, caseID, messageID int64) error {
	var on bool
	if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT FROM rules WHERE enabled AND trigger = $1)`, trigger).Scan(&on); err != nil || !on {
		return err
	}
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
	return s.QueueRule(ctx, tx, RuleArgs{TenantID: tid, Trigger: trigger, CaseID: caseID, MessageID: messageID, Chain: chain})
}

// RuleArgs is the job that runs a tenant's rules for one event. It is
// inserted in the transaction of the change that fired it: no event is
// lost in a crash, and none runs twice.
type RuleArgs struct {
	TenantID  uuid.UUID `json:"tenant_id"`
	Trigger   string    `json:"trigger"`
	CaseID    int64     `json:"case_id"`
	MessageID int64     `json:"message_id,omitempty"`
	Chain     RuleChain `json:"chain,omitempty"`
	// RuleID, for a waiting trigger, is the one rule whose wait is over.
	RuleID int64 `json:"rule_id,omitempty"`
	// More are further events of the same trigger, recorded together
	// (client messages stored by one batch): one job runs them all.
	More []RuleEvent `json:"more,omitempty"`
}

// RuleEvent is one event a rule job runs the rules for.
type RuleEvent struct {
	CaseID    int64     `json:"case_id"`
	MessageID int64     `json:"message_id,omitempty"`
	Chain     RuleChain `json:"chain"`
}

// Events are the job's events, in the order they happened.
func (a RuleArgs) Events() []RuleEvent {
	return append([]RuleEvent{{CaseID: a.CaseID, MessageID: a.MessageID, Chain: a.Chain}}, a.More...)
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

// QueueRule records a rule job in tx, the transaction of the event.
func (s *Service) QueueRule(ctx context.Context, tx pgx.Tx, a RuleArgs) error {
	if _, err := s.queue.InsertTx(ctx, tx, a, nil); err != nil {
		return fmt.Errorf("queue rules: %w", err)
	}
	return nil
}
