package jobs

import (
	"context"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"

	"parley/internal/conversation"
	"parley/internal/ruleevent"
)

// Queues are Parley's River queues.
var Queues = []string{river.QueueDefault, ruleevent.Queue}

// queueStates are the job states whose counts say how a queue is doing:
// waiting (available, scheduled, pending, retryable), being worked
// (running), and given up on (discarded, kept by River for a week).
// Completed jobs are left out: they only pile up until River prunes them.
var queueStates = []rivertype.JobState{
	rivertype.JobStateAvailable, rivertype.JobStatePending, rivertype.JobStateScheduled,
	rivertype.JobStateRunning, rivertype.JobStateRetryable, rivertype.JobStateDiscarded,
}

// kinds are the kinds of job Parley works; river_jobs_total has a series
// for each, with each outcome, from the start.
var kinds = []string{
	PurgeArgs{}.Kind(), WaitingRulesArgs{}.Kind(), EndIdleChatsArgs{}.Kind(), CloseWindowsArgs{}.Kind(),
	conversation.EchoArgs{}.Kind(), conversation.FetchMediaArgs{}.Kind(), conversation.SendArgs{}.Kind(),
	conversation.StatusArgs{}.Kind(), ruleevent.RunArgs{}.Kind(),
}

var outcomes = []string{"ok", "error", "cancel", "snooze"}

// queueDepth exports river_queue_jobs: the jobs of each queue in each
// state, counted in the database when /metrics is scraped, so every replica
// shows the whole queue and every series exists from the start (a queue
// with nothing in it says 0), not only once a job has run.
type queueDepth struct {
	pool *pgxpool.Pool
	log  *slog.Logger
	desc *prometheus.Desc
}

func newQueueDepth(pool *pgxpool.Pool, log *slog.Logger) *queueDepth {
	return &queueDepth{pool: pool, log: log, desc: prometheus.NewDesc("river_queue_jobs",
		"River jobs by queue and state, counted in the database at each scrape.", []string{"queue", "state"}, nil)}
}

func (q *queueDepth) Describe(ch chan<- *prometheus.Desc) { ch <- q.desc }

func (q *queueDepth) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	states := make([]string, len(queueStates))
	for i, s := range queueStates {
		states[i] = string(s)
	}
	counts := map[[2]string]float64{}
	rows, err := q.pool.Query(ctx, `SELECT queue, state::text, count(*) FROM river_job
		WHERE queue = ANY($1) AND state::text = ANY($2) GROUP BY queue, state`, Queues, states)
	if err == nil {
		for rows.Next() {
			var queue, state string
			var n int64
			if err = rows.Scan(&queue, &state, &n); err != nil {
				break
			}
			counts[[2]string{queue, state}] = float64(n)
		}
		rows.Close()
		if err == nil {
			err = rows.Err()
		}
	}
	if err != nil {
		// No series rather than zeros that would say the queue is empty.
		q.log.Warn("count river jobs for metrics", "err", err)
		return
	}
	for _, queue := range Queues {
		for _, state := range states {
			ch <- prometheus.MustNewConstMetric(q.desc, prometheus.GaugeValue, counts[[2]string{queue, state}], queue, state)
		}
	}
}
