package jobs

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"

	"parley/internal/conversation"
)

// sweepOnce keeps at most one of a periodic job (a sweep, the purge)
// pending or running.
var sweepOnce = river.UniqueOpts{ByArgs: true, ByState: []rivertype.JobState{
	rivertype.JobStateAvailable, rivertype.JobStatePending, rivertype.JobStateRunning, rivertype.JobStateScheduled,
}}

// EndIdleChatsArgs is the periodic sweep that ends idle chats.
type EndIdleChatsArgs struct{}

// Kind names the job.
func (EndIdleChatsArgs) Kind() string { return "end_idle_chats" }

// InsertOpts keep one sweep at a time.
func (EndIdleChatsArgs) InsertOpts() river.InsertOpts { return river.InsertOpts{UniqueOpts: sweepOnce} }

// EndIdleChatsWorker ends chats idle past their tenant's timeout.
type EndIdleChatsWorker struct {
	river.WorkerDefaults[EndIdleChatsArgs]
	Conversations *conversation.Service
	Log           *slog.Logger
}

// Work sweeps.
func (w *EndIdleChatsWorker) Work(ctx context.Context, _ *river.Job[EndIdleChatsArgs]) error {
	n, err := w.Conversations.EndIdleChats(ctx)
	if n > 0 {
		w.Log.InfoContext(ctx, "ended idle chats", "count", n)
	}
	return err
}

// CloseWindowsArgs is the periodic sweep that marks chats whose 24-hour
// window closed as templates only.
type CloseWindowsArgs struct{}

// Kind names the job.
func (CloseWindowsArgs) Kind() string { return "close_windows" }

// InsertOpts keep one sweep at a time.
func (CloseWindowsArgs) InsertOpts() river.InsertOpts { return river.InsertOpts{UniqueOpts: sweepOnce} }

// CloseWindowsWorker closes 24-hour windows.
type CloseWindowsWorker struct {
	river.WorkerDefaults[CloseWindowsArgs]
	Conversations *conversation.Service
	Log           *slog.Logger
}

// Work sweeps.
func (w *CloseWindowsWorker) Work(ctx context.Context, _ *river.Job[CloseWindowsArgs]) error {
	n, err := w.Conversations.CloseWindows(ctx)
	if n > 0 {
		w.Log.InfoContext(ctx, "closed 24-hour windows", "count", n)
	}
	return err
}

// SweepMediaArgs is the periodic sweep that deletes stored files whose
// attachment row never committed. A store too large to list within one
// job goes on in another from where it stopped (From: a page token).
type SweepMediaArgs struct {
	From []byte `json:"from,omitempty"`
}

// Kind names the job.
func (SweepMediaArgs) Kind() string { return "sweep_media" }

// InsertOpts keep one sweep at a time.
func (SweepMediaArgs) InsertOpts() river.InsertOpts { return river.InsertOpts{UniqueOpts: sweepOnce} }

// SweepMediaWorker deletes orphaned files.
type SweepMediaWorker struct {
	river.WorkerDefaults[SweepMediaArgs]
	Conversations *conversation.Service
	Log           *slog.Logger
	// budget is how long one job lists: well within its timeout, which is
	// itself within the time after which River takes a running job for
	// stuck and runs it again.
	budget time.Duration
}

// Work sweeps for its budget, then queues the rest of the sweep.
func (w *SweepMediaWorker) Work(ctx context.Context, job *river.Job[SweepMediaArgs]) error {
	n, next, err := w.Conversations.SweepOrphanFiles(ctx, job.Args.From, time.Now().Add(w.budget))
	if n > 0 {
		w.Log.InfoContext(ctx, "deleted orphaned files", "count", n)
	}
	if err != nil || next == nil {
		return err
	}
	if _, err := river.ClientFromContext[pgx.Tx](ctx).Insert(ctx, SweepMediaArgs{From: next}, nil); err != nil {
		return fmt.Errorf("queue the rest of the media sweep: %w", err)
	}
	return nil
}

// CheckStatusesArgs is the periodic sweep that asks providers about
// replies whose status callbacks stopped coming.
type CheckStatusesArgs struct{}

// Kind names the job.
func (CheckStatusesArgs) Kind() string { return "check_stalled_statuses" }

// InsertOpts keep one sweep at a time.
func (CheckStatusesArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{UniqueOpts: sweepOnce}
}

// CheckStatusesWorker runs conversation.CheckStalledStatuses.
type CheckStatusesWorker struct {
	river.WorkerDefaults[CheckStatusesArgs]
	Conversations *conversation.Service
	Log           *slog.Logger
}

// Work sweeps; a provider that cannot tell is asked no more (it is
// logged), so the sweep itself fails only when the database does.
func (w *CheckStatusesWorker) Work(ctx context.Context, _ *river.Job[CheckStatusesArgs]) error {
	n, err := w.Conversations.CheckStalledStatuses(ctx)
	if n > 0 {
		w.Log.InfoContext(ctx, "applied statuses the providers had not posted", "count", n)
	}
	return err
}
