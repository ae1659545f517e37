package jobs

import (
	"context"
	"log/slog"

	"github.com/riverqueue/river"
)

// Purger deletes what has expired and says how much.
type Purger interface {
	PurgeExpired(ctx context.Context) (int64, error)
}

// PurgeArgs is the periodic purge of expired sessions and invitations.
type PurgeArgs struct{}

// Kind names the job.
func (PurgeArgs) Kind() string { return "purge_expired" }

// InsertOpts keep one purge pending at a time.
func (PurgeArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{UniqueOpts: sweepOnce}
}

// PurgeWorker runs the purge.
type PurgeWorker struct {
	river.WorkerDefaults[PurgeArgs]
	Sessions    Purger
	Invitations Purger
	Throttle    Purger
	RuleChains  Purger
	Log         *slog.Logger
}

// Work deletes expired rows; deleting nothing is success.
func (w *PurgeWorker) Work(ctx context.Context, _ *river.Job[PurgeArgs]) error {
	s, err := w.Sessions.PurgeExpired(ctx)
	if err != nil {
		return err
	}
	i, err := w.Invitations.PurgeExpired(ctx)
	if err != nil {
		return err
	}
	c, err := w.RuleChains.PurgeExpired(ctx)
	if err != nil {
		return err
	}
	th, err := w.Throttle.PurgeExpired(ctx)
	if err != nil {
		return err
	}
	w.Log.InfoContext(ctx, "purged expired", "sessions", s, "invitations", i, "rule_chains", c, "throttle_counts", th)
	return nil
}
