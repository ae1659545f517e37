package jobs

import (
	"context"
	"errors"
	"log/slog"
	"math"
	"math/rand/v2"
	"time"

	"github.com/riverqueue/river"

	"parley/internal/conversation"
	"parley/internal/integration"
	"parley/internal/rule"
	"parley/internal/ruleevent"
)

// SendWorker sends an agent's message through its integration.
type SendWorker struct {
	river.WorkerDefaults[conversation.SendArgs]
	Conversations *conversation.Service
	timeout       time.Duration
	// maxWait caps the wait between two attempts; 0 leaves the client's
	// retry policy (tests' quick retries).
	maxWait time.Duration
}

// sendMaxWait: a reply waits at most 2 minutes for its next attempt once
// a provider recovers, instead of River's attempt⁴ seconds (43 minutes
// before the 8th).
const sendMaxWait = 2 * time.Minute

// NextRetry waits attempt⁴ seconds, at most maxWait, give or take a tenth
// so that the replies an outage held back do not all come back at once.
func (w *SendWorker) NextRetry(job *river.Job[conversation.SendArgs]) time.Time {
	if w.maxWait == 0 {
		return time.Time{}
	}
	wait := min(time.Duration(math.Pow(float64(job.Attempt), 4))*time.Second, w.maxWait)
	jitter := time.Duration((rand.Float64()*0.2 - 0.1) * float64(wait))
	return time.Now().Add(wait + jitter)
}

// Work sends; retryable provider failures and unknown outcomes return an
// error so River retries with backoff, and the last attempt records the
// failure on the message. A retry that came before the provider had time
// to settle an unknown outcome waits, without using up an attempt.
func (w *SendWorker) Work(ctx context.Context, job *river.Job[conversation.SendArgs]) error {
	err := w.Conversations.Deliver(ctx, job.Args.TenantID, job.Args.MessageID, job.Attempt >= job.MaxAttempts)
	var notYet *conversation.NotYet
	if errors.As(err, &notYet) {
		return river.JobSnooze(notYet.Wait)
	}
	return err
}

// Timeout bounds one attempt: a lookup and a send, each within the
// adapters' own 15-second HTTP timeout, and their bookkeeping.
func (w *SendWorker) Timeout(*river.Job[conversation.SendArgs]) time.Duration { return w.timeout }

// FetchMediaWorker downloads a client's file.
type FetchMediaWorker struct {
	river.WorkerDefaults[conversation.FetchMediaArgs]
	Conversations *conversation.Service
}

// Work downloads the file.
func (w *FetchMediaWorker) Work(ctx context.Context, job *river.Job[conversation.FetchMediaArgs]) error {
	return w.Conversations.FetchMedia(ctx, job.Args.TenantID, job.Args.AttachmentID, job.Attempt >= job.MaxAttempts)
}

// StatusWorker applies a delivery status that arrived before the send
// recorded its provider id.
type StatusWorker struct {
	river.WorkerDefaults[conversation.StatusArgs]
	Conversations *conversation.Service
	Integrations  *integration.Service
}

// errNotYet ends the job when no message took the provider id in time.
var errNotYet = errors.New("no message with this provider id")

// statusPatience is how long a status waits for its message's provider
// id: longer than a send whose answer was lost takes to learn it
// (conversation.SendSettle, then a lookup).
const statusPatience = 2 * time.Minute

// Work applies the status, or looks again in a moment until statusPatience
// has passed since it arrived.
func (w *StatusWorker) Work(ctx context.Context, job *river.Job[conversation.StatusArgs]) error {
	ig, err := w.Integrations.Get(ctx, job.Args.TenantID, job.Args.IntegrationID)
	if err != nil {
		return river.JobCancel(err)
	}
	found, err := w.Conversations.ApplyStatus(ctx, ig, job.Args.Status)
	if err != nil {
		return err
	}
	if !found && time.Since(job.CreatedAt) < statusPatience {
		return river.JobSnooze(2 * time.Second)
	}
	if !found {
		return river.JobCancel(errNotYet)
	}
	return nil
}

// EchoWorker settles the echo of an API send that Parley did not
// recognise when it arrived.
type EchoWorker struct {
	river.WorkerDefaults[conversation.EchoArgs]
	Conversations *conversation.Service
	Integrations  *integration.Service
}

// Work stores the echo unless it is a message of ours.
func (w *EchoWorker) Work(ctx context.Context, job *river.Job[conversation.EchoArgs]) error {
	ig, err := w.Integrations.Get(ctx, job.Args.TenantID, job.Args.IntegrationID)
	if err != nil {
		return river.JobCancel(err)
	}
	_, err = w.Conversations.StoreEcho(ctx, ig, job.Args.Message)
	return err
}

// RuleWorker runs a tenant's recorded rule events.
type RuleWorker struct {
	river.WorkerDefaults[ruleevent.RunArgs]
	Rules *rule.Service
}

// Work runs the events; while another run of the tenant takes them, the
// job comes back shortly.
func (w *RuleWorker) Work(ctx context.Context, job *river.Job[ruleevent.RunArgs]) error {
	err := w.Rules.Drain(ctx, job.Args.TenantID)
	if errors.Is(err, rule.ErrBusy) {
		return river.JobSnooze(250 * time.Millisecond)
	}
	return err
}

// WaitingRulesArgs is the periodic sweep of waiting rules.
type WaitingRulesArgs struct{}

// Kind names the job.
func (WaitingRulesArgs) Kind() string { return "waiting_rules" }

// WaitingRulesWorker fires the waiting rules whose wait is over.
type WaitingRulesWorker struct {
	river.WorkerDefaults[WaitingRulesArgs]
	Rules *rule.Service
	Log   *slog.Logger
}

// Work sweeps.
func (w *WaitingRulesWorker) Work(ctx context.Context, _ *river.Job[WaitingRulesArgs]) error {
	n, err := w.Rules.SweepWaiting(ctx)
	if n > 0 {
		w.Log.InfoContext(ctx, "waiting rules fired", "chats", n)
	}
	return err
}
