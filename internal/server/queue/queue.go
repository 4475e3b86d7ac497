// Package queue is the server's job queue: River (riverqueue/river) on the
// store's own database — its SQLite driver for one machine, its PostgreSQL
// driver for many. Any number of worker processes on any number of
// machines share one PostgreSQL; River runs each job once, retries it when
// it fails, and rescues the jobs of a worker that died.
package queue

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/riverdriver/riversqlite"
	"github.com/riverqueue/river/rivermigrate"
	"github.com/riverqueue/river/rivertype"

	"github.com/drydockscan/drydock/internal/server/store"
)

// ScanArgs is the job that runs one scan; the scan itself (what to read)
// is in the store.
type ScanArgs struct {
	ScanID string `json:"scan_id"`
}

// Kind implements river.JobArgs.
func (ScanArgs) Kind() string { return "drydock.scan" }

// InsertOpts implements river.JobArgsWithInsertOpts: one job per scan.
func (ScanArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{MaxAttempts: MaxAttempts, UniqueOpts: river.UniqueOpts{ByArgs: true}}
}

// MaxAttempts is how often a scan job is tried.
const MaxAttempts = 4

// Config configures a queue client.
type Config struct {
	// Workers run jobs; nil makes an insert-only client (the API role).
	Workers *river.Workers
	// Concurrency is the number of jobs one process runs at once.
	Concurrency int
	// JobTimeout cancels a job running longer.
	JobTimeout time.Duration
	// RescueAfter is when a running job whose worker stopped answering is
	// retried elsewhere (at least JobTimeout).
	RescueAfter time.Duration
	// FetchPoll is how often idle workers poll (SQLite has no LISTEN).
	FetchPoll time.Duration
	ID        string
	Logger    *slog.Logger
	// Queues are more queues the workers serve (name → concurrency),
	// beside the default queue of scans.
	Queues map[string]int
	// Periodic are jobs the elected leader among the workers inserts on
	// a schedule (one process at a time does).
	Periodic []*river.PeriodicJob
}

// client is what the queue uses of a river.Client, whatever its driver.
type client interface {
	Insert(ctx context.Context, args river.JobArgs, opts *river.InsertOpts) (*rivertype.JobInsertResult, error)
	Start(ctx context.Context) error
	Stop(ctx context.Context) error
}

// Queue is a River client on the store's database.
type Queue struct {
	c       client
	workers bool
}

// New migrates River's tables in the store's database and returns a
// client.
func New(ctx context.Context, st *store.Store, cfg Config) (*Queue, error) {
	switch st.Dialect() {
	case store.Postgres:
		drv := riverpgxv5.New(st.Pool())
		if err := migratePG(ctx, st, drv, cfg.Logger); err != nil {
			return nil, err
		}
		return newQueue(drv, cfg)
	case store.SQLite:
		drv := riversqlite.New(st.SQL())
		m, err := rivermigrate.New(drv, &rivermigrate.Config{Logger: quiet(cfg.Logger)})
		if err != nil {
			return nil, err
		}
		if _, err := m.Migrate(ctx, rivermigrate.DirectionUp, nil); err != nil {
			return nil, fmt.Errorf("queue migration on %s: %w", st, err)
		}
		return newQueue(drv, cfg)
	}
	return nil, fmt.Errorf("queue: store %s has no queue driver", st)
}

// migratePG migrates under a session advisory lock, so processes
// starting together do not race. (Each River migration runs in its own
// transaction: one adds an enum value that a later one uses.)
func migratePG(ctx context.Context, st *store.Store, drv *riverpgxv5.Driver, log *slog.Logger) error {
	m, err := rivermigrate.New(drv, &rivermigrate.Config{Logger: quiet(log)})
	if err != nil {
		return err
	}
	conn, err := st.Pool().Acquire(ctx)
	if err != nil {
		return fmt.Errorf("queue migration on %s: %w", st, err)
	}
	defer conn.Release()
	const lock = 28404789015750508
	if _, err := conn.Exec(ctx, "SELECT pg_advisory_lock($1)", int64(lock)); err != nil {
		return fmt.Errorf("queue migration on %s: %w", st, err)
	}
	defer conn.Exec(context.WithoutCancel(ctx), "SELECT pg_advisory_unlock($1)", int64(lock)) //nolint:errcheck
	if _, err := m.Migrate(ctx, rivermigrate.DirectionUp, nil); err != nil {
		return fmt.Errorf("queue migration on %s: %w", st, err)
	}
	return nil
}

// fetchCooldown is the least time between two fetches of one queue.
const fetchCooldown = 5 * time.Millisecond

func newQueue[TTx any](drv riverdriver.Driver[TTx], cfg Config) (*Queue, error) {
	rc := &river.Config{
		ID:     cfg.ID,
		Logger: quiet(cfg.Logger),
		// Finished jobs are kept a day; the scans table is the history.
		CompletedJobRetentionPeriod: 24 * time.Hour,
		FetchPollInterval:           cfg.FetchPoll,
		// While jobs wait, a queue fetches again as soon as it has free
		// workers, not after River's default 100 ms: that cooldown capped
		// a queue of four workers at about 40 jobs a second (webhook
		// deliveries trailed their events by tens of seconds). Idle
		// queues still poll at FetchPoll.
		FetchCooldown:        fetchCooldown,
		JobTimeout:           cfg.JobTimeout,
		RescueStuckJobsAfter: max(cfg.RescueAfter, cfg.JobTimeout),
		MaxAttempts:          MaxAttempts,
	}
	if cfg.Workers != nil {
		rc.Workers = cfg.Workers
		rc.Queues = map[string]river.QueueConfig{river.QueueDefault: {MaxWorkers: max(cfg.Concurrency, 1)}}
		for name, n := range cfg.Queues {
			rc.Queues[name] = river.QueueConfig{MaxWorkers: max(n, 1)}
		}
		rc.PeriodicJobs = cfg.Periodic
	}
	c, err := river.NewClient(drv, rc)
	if err != nil {
		return nil, fmt.Errorf("queue: %w", err)
	}
	return &Queue{c: c, workers: cfg.Workers != nil}, nil
}

// quiet keeps River's own logging to warnings: drydock logs what it does.
func quiet(log *slog.Logger) *slog.Logger {
	if log == nil {
		return slog.New(slog.DiscardHandler)
	}
	return slog.New(levelHandler{log.Handler(), slog.LevelWarn})
}

type levelHandler struct {
	slog.Handler
	min slog.Level
}

func (h levelHandler) Enabled(ctx context.Context, l slog.Level) bool {
	return l >= h.min && h.Handler.Enabled(ctx, l)
}

func (h levelHandler) WithAttrs(a []slog.Attr) slog.Handler {
	return levelHandler{h.Handler.WithAttrs(a), h.min}
}

func (h levelHandler) WithGroup(n string) slog.Handler {
	return levelHandler{h.Handler.WithGroup(n), h.min}
}

// Enqueue inserts a scan job.
func (q *Queue) Enqueue(ctx context.Context, scanID string) error {
	if _, err := q.c.Insert(ctx, ScanArgs{ScanID: scanID}, nil); err != nil {
		return fmt.Errorf("queueing scan %s: %w", scanID, err)
	}
	return nil
}

// Insert inserts any job; opts, when set, override the job's own.
func (q *Queue) Insert(ctx context.Context, args river.JobArgs, opts *river.InsertOpts) error {
	if _, err := q.c.Insert(ctx, args, opts); err != nil {
		return fmt.Errorf("queueing %s job: %w", args.Kind(), err)
	}
	return nil
}

// Start runs the workers (and River's maintenance: rescuing jobs of dead
// workers, scheduling retries) until Stop.
func (q *Queue) Start(ctx context.Context) error {
	if !q.workers {
		return nil
	}
	return q.c.Start(ctx)
}

// Stop lets running jobs finish (until ctx ends) and stops.
func (q *Queue) Stop(ctx context.Context) error {
	if !q.workers {
		return nil
	}
	return q.c.Stop(ctx)
}
