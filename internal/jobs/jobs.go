// Package jobs builds Parley's River client: the queues, every worker and
// every periodic job, registered here in one place. Workers are thin: each
// calls a domain service, and each is idempotent, so running a job twice
// changes nothing the second time.
package jobs

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/rivertype"

	"parley/internal/conversation"
	"parley/internal/integration"
	"parley/internal/postgres"
	"parley/internal/rule"
	"parley/internal/ruleevent"
)

// NewInserter is an insert-only River client for domain services: they
// insert jobs in their own transactions; the worker client works them.
func NewInserter(db *postgres.DB) (*Client, error) {
	c, err := river.NewClient(riverpgxv5.New(db.Pool), &river.Config{})
	if err != nil {
		return nil, fmt.Errorf("river inserter: %w", err)
	}
	return c, nil
}

// Client is River's client over pgx transactions.
type Client = river.Client[pgx.Tx]

// Services are the domain services the workers call.
type Services struct {
	Conversations *conversation.Service
	Integrations  *integration.Service
	Rules         *rule.Service
	Sessions      Purger // expired sessions
	Invitations   Purger // expired invitations
	Throttle      Purger // forgotten login failures and rate counts
}

// Options tune the client; zero values are production defaults.
type Options struct {
	Logger *slog.Logger
	// Metrics receives river_jobs_total and river_job_duration_seconds;
	// nil registers nothing.
	Metrics prometheus.Registerer
	// PurgeInterval is how often expired sessions and invitations go.
	PurgeInterval time.Duration
	// SweepInterval is how often idle chats are ended and closed windows
	// marked (default 15 s: a chat ends at most that late).
	SweepInterval time.Duration
	// JobTimeout bounds one attempt of any job (default 1 minute); a send
	// gets 45 seconds, or JobTimeout when it is shorter.
	JobTimeout time.Duration
	// RescueAfter is how long a job may stay running before River takes it
	// for stuck (its replica crashed) and runs it again (default 90 s;
	// River's maintenance looks every 30 s, so a crashed send is back
	// within two minutes). It must exceed every job's timeout.
	RescueAfter time.Duration
	// SweepBudget is how long one media sweep job lists the store before
	// it queues the rest (default half of JobTimeout).
	SweepBudget time.Duration
	// Insecure for tests: no leader-election delay, fast polling.
	TestOnly bool
}

// Production timings of a job's attempt and of the rescue of a stuck one.
const (
	defaultJobTimeout  = time.Minute
	defaultSendTimeout = 45 * time.Second
	defaultRescueAfter = 90 * time.Second
	// statusCheckInterval: each stalled reply is asked about in the first
	// sweep after conversation.StatusPatience.
	statusCheckInterval = 5 * time.Minute
)

// New builds the River client with every worker and periodic job. Start it
// with Start; it works jobs inserted by any replica.
func New(db *postgres.DB, svc Services, opts Options) (*Client, error) {
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.PurgeInterval == 0 {
		opts.PurgeInterval = time.Hour
	}
	if opts.SweepInterval == 0 {
		opts.SweepInterval = 15 * time.Second
	}
	if opts.JobTimeout == 0 {
		opts.JobTimeout = defaultJobTimeout
	}
	if opts.RescueAfter == 0 {
		opts.RescueAfter = defaultRescueAfter
	}
	if opts.SweepBudget == 0 {
		opts.SweepBudget = opts.JobTimeout / 2
	}
	workers := river.NewWorkers()
	river.AddWorker(workers, &PurgeWorker{Sessions: svc.Sessions, Invitations: svc.Invitations, Throttle: svc.Throttle, RuleChains: svc.Rules, Log: opts.Logger})
	send := &SendWorker{Conversations: svc.Conversations, timeout: min(defaultSendTimeout, opts.JobTimeout), maxWait: sendMaxWait}
	if opts.TestOnly {
		send.maxWait = 0 // quickRetries
	}
	river.AddWorker(workers, send)
	river.AddWorker(workers, &FetchMediaWorker{Conversations: svc.Conversations})
	river.AddWorker(workers, &StatusWorker{Conversations: svc.Conversations, Integrations: svc.Integrations})
	river.AddWorker(workers, &EchoWorker{Conversations: svc.Conversations, Integrations: svc.Integrations})
	river.AddWorker(workers, &RuleWorker{Rules: svc.Rules})
	river.AddWorker(workers, &WaitingRulesWorker{Rules: svc.Rules, Log: opts.Logger})
	river.AddWorker(workers, &EndIdleChatsWorker{Conversations: svc.Conversations, Log: opts.Logger})
	river.AddWorker(workers, &CloseWindowsWorker{Conversations: svc.Conversations, Log: opts.Logger})
	river.AddWorker(workers, &SweepMediaWorker{Conversations: svc.Conversations, Log: opts.Logger, budget: opts.SweepBudget})
	river.AddWorker(workers, &CheckStatusesWorker{Conversations: svc.Conversations, Log: opts.Logger})

	cfg := &river.Config{
		Logger: opts.Logger,
		Queues: map[string]river.QueueConfig{ // each is listed in Queues
			river.QueueDefault: {MaxWorkers: 20},
			ruleevent.Queue:    {MaxWorkers: 10},
		},
		// River waits this long between two fetches of jobs (100 ms by
		// default): a reply's send or a rule run queued just after a
		// fetch would otherwise wait for it rather than for a worker.
		FetchCooldown:        10 * time.Millisecond,
		JobTimeout:           opts.JobTimeout,
		RescueStuckJobsAfter: opts.RescueAfter,
		Workers:              workers,
		PeriodicJobs: []*river.PeriodicJob{
			river.NewPeriodicJob(river.PeriodicInterval(opts.PurgeInterval),
				func() (river.JobArgs, *river.InsertOpts) { return PurgeArgs{}, nil },
				&river.PeriodicJobOpts{ID: "purge_expired", RunOnStart: true}),
			river.NewPeriodicJob(river.PeriodicInterval(opts.SweepInterval),
				func() (river.JobArgs, *river.InsertOpts) { return WaitingRulesArgs{}, nil },
				&river.PeriodicJobOpts{ID: "waiting_rules", RunOnStart: true}),
			river.NewPeriodicJob(river.PeriodicInterval(opts.SweepInterval),
				func() (river.JobArgs, *river.InsertOpts) { return EndIdleChatsArgs{}, nil },
				&river.PeriodicJobOpts{ID: "end_idle_chats", RunOnStart: true}),
			river.NewPeriodicJob(river.PeriodicInterval(opts.SweepInterval),
				func() (river.JobArgs, *river.InsertOpts) { return CloseWindowsArgs{}, nil },
				&river.PeriodicJobOpts{ID: "close_windows", RunOnStart: true}),
			river.NewPeriodicJob(river.PeriodicInterval(opts.PurgeInterval),
				func() (river.JobArgs, *river.InsertOpts) { return SweepMediaArgs{}, nil },
				&river.PeriodicJobOpts{ID: "sweep_media", RunOnStart: true}),
			river.NewPeriodicJob(river.PeriodicInterval(statusCheckInterval),
				func() (river.JobArgs, *river.InsertOpts) { return CheckStatusesArgs{}, nil },
				&river.PeriodicJobOpts{ID: "check_stalled_statuses", RunOnStart: true}),
		},
		TestOnly: opts.TestOnly,
	}
	if opts.TestOnly {
		cfg.FetchPollInterval = 50 * time.Millisecond
		cfg.RetryPolicy = quickRetries{}
	}
	if opts.Metrics != nil {
		m, err := newMetrics(opts.Metrics)
		if err != nil {
			return nil, err
		}
		cfg.Middleware = []rivertype.Middleware{m}
		if err := opts.Metrics.Register(newQueueDepth(db.Pool, opts.Logger)); err != nil {
			return nil, fmt.Errorf("register river queue metrics: %w", err)
		}
	}
	client, err := river.NewClient(riverpgxv5.New(db.Pool), cfg)
	if err != nil {
		return nil, fmt.Errorf("river client: %w", err)
	}
	return client, nil
}

// metrics counts worked jobs by kind and outcome.
type metrics struct {
	river.MiddlewareDefaults
	total    *prometheus.CounterVec
	duration *prometheus.HistogramVec
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		total: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "river_jobs_total", Help: "River jobs worked, by kind and outcome (ok, error, cancel, snooze).",
		}, []string{"kind", "outcome"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "river_job_duration_seconds", Help: "Time spent working River jobs, by kind.",
			Buckets: prometheus.DefBuckets,
		}, []string{"kind"}),
	}
	for _, c := range []prometheus.Collector{m.total, m.duration} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("register river metrics: %w", err)
		}
	}
	for _, k := range kinds {
		for _, o := range outcomes {
			m.total.WithLabelValues(k, o)
		}
	}
	return m, nil
}

func (m *metrics) Work(ctx context.Context, job *rivertype.JobRow, doInner func(context.Context) error) error {
	start := time.Now()
	err := doInner(ctx)
	m.duration.WithLabelValues(job.Kind).Observe(time.Since(start).Seconds())
	outcome := "ok"
	var cancel *river.JobCancelError
	var snooze *river.JobSnoozeError
	switch {
	case errors.As(err, &cancel):
		outcome = "cancel"
	case errors.As(err, &snooze):
		outcome = "snooze"
	case err != nil:
		outcome = "error"
	}
	m.total.WithLabelValues(job.Kind, outcome).Inc()
	return err
}

// quickRetries retries after 200 ms, so tests of retries need no waiting
// for River's production backoff (attempt⁴ seconds).
type quickRetries struct{}

func (quickRetries) NextRetry(*rivertype.JobRow) time.Time {
	return time.Now().Add(200 * time.Millisecond)
}
