package jobs

import (
	"testing"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"

	"parley/internal/conversation"
)

// A reply whose provider is down is retried for about 20 minutes, and
// never waits more than 2 minutes (and a tenth) for its next attempt once
// the provider is back.
func TestSendRetriesWaitAtMostTwoMinutes(t *testing.T) {
	w := &SendWorker{maxWait: sendMaxWait}
	attempts := conversation.SendArgs{}.InsertOpts().MaxAttempts
	var total time.Duration
	for attempt := 1; attempt < attempts; attempt++ {
		job := &river.Job[conversation.SendArgs]{JobRow: &rivertype.JobRow{Attempt: attempt}}
		wait := time.Until(w.NextRetry(job))
		if wait > sendMaxWait*11/10 || wait < time.Second*8/10 { // 1 s at first, less a tenth and the time this takes
			t.Fatalf("attempt %d waits %s", attempt, wait)
		}
		total += wait
	}
	if total < 15*time.Minute || total > 25*time.Minute {
		t.Fatalf("a reply is retried for %s, want about 20 minutes", total)
	}
	if !(&SendWorker{}).NextRetry(&river.Job[conversation.SendArgs]{JobRow: &rivertype.JobRow{Attempt: 3}}).IsZero() {
		t.Fatal("with no cap the client's retry policy does not apply")
	}
}
