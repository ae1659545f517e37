package conversation

import (
	"github.com/google/uuid"
	"github.com/riverqueue/river"
)

// Rule triggers the conversation fires.
const (
	RuleChatStarted   = "chat_started"
	RuleClientMessage = "client_message"
)

// RuleArgs is the job that runs a tenant's rules for one event. It is
// inserted in the transaction of the change that fired it: no event is
// lost in a crash, and none runs twice.
type RuleArgs struct {
	TenantID  uuid.UUID `json:"tenant_id"`
	Trigger   string    `json:"trigger"`
	CaseID    int64     `json:"case_id"`
	MessageID int64     `json:"message_id,omitempty"`
}

// Kind names the job.
func (RuleArgs) Kind() string { return "run_rules" }

// InsertOpts: a rule run that fails is tried a few times.
func (RuleArgs) InsertOpts() river.InsertOpts { return river.InsertOpts{MaxAttempts: 5} }
