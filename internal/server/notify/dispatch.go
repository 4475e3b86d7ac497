package notify

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"time"

	"github.com/riverqueue/river"

	"github.com/drydockscan/drydock/internal/finding"
	"github.com/drydockscan/drydock/internal/server/store"
)

// QueueName is the River queue of deliveries (apart from scans, so a
// long scan never holds a message back).
const QueueName = "notify"

// Args is the job that delivers one event to one channel. It is unique
// by event and channel: two dispatchers queueing the same delivery make
// one job.
type Args struct {
	EventID int64  `json:"event_id" river:"unique"`
	Channel string `json:"channel" river:"unique"`
	Rule    string `json:"rule"`
}

// Kind implements river.JobArgs.
func (Args) Kind() string { return "drydock.notify" }

// InsertOpts implements river.JobArgsWithInsertOpts.
func (Args) InsertOpts() river.InsertOpts {
	return river.InsertOpts{Queue: QueueName, UniqueOpts: river.UniqueOpts{ByArgs: true}}
}

// Inserter queues jobs.
type Inserter interface {
	Insert(ctx context.Context, args river.JobArgs, opts *river.InsertOpts) error
}

// cursorKey is the store key of the last event dispatched.
const cursorKey = "notify.cursor"

// settle is how long an event id may stay missing before the cursor
// passes it: PostgreSQL commits concurrent transactions' events out of
// id order, so a gap may fill in a moment later.
const settle = 10 * time.Second

// Dispatcher turns new events into delivery jobs.
type Dispatcher struct {
	Config *Config
	Store  *store.Store
	Queue  Inserter
	// Watched reports whether a repository is watched (rules with
	// watched: true); nil watches none.
	Watched func(repository string) bool
	Logger  *slog.Logger
	// Now is the clock (tests); nil is time.Now.
	Now func() time.Time
}

func (d *Dispatcher) now() time.Time {
	if d.Now != nil {
		return d.Now()
	}
	return time.Now()
}

// Run dispatches every Config.Poll until ctx ends; each round also
// expires acceptances that are due and records the fleet's trend.
func (d *Dispatcher) Run(ctx context.Context) {
	t := time.NewTicker(d.Config.Poll)
	defer t.Stop()
	lastTrend, changed := time.Time{}, false
	for {
		n, err := d.Once(ctx)
		changed = changed || n > 0
		if err != nil && ctx.Err() == nil {
			d.Logger.Error("dispatching notifications", "error", err)
		}
		if exp, err := d.Store.ExpireTriage(ctx, d.now()); err != nil && ctx.Err() == nil {
			d.Logger.Error("expiring acceptances", "error", err)
		} else if exp > 0 {
			d.Logger.Info("acceptances expired", "count", exp)
		}
		// The trend is one point a day: recorded a few seconds after
		// events, not after every round of a busy stream of them.
		if changed && time.Since(lastTrend) > trendAfterEvents || time.Since(lastTrend) > time.Minute {
			if err := d.Store.UpdateTrend(ctx, d.now()); err != nil && ctx.Err() == nil {
				d.Logger.Error("recording the trend", "error", err)
			}
			lastTrend, changed = time.Now(), false
		}
		if n == batch {
			continue // more are waiting
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

const batch = 500

// trendAfterEvents is how soon after events the trend is recorded again.
const trendAfterEvents = 5 * time.Second

// Once dispatches the events after the cursor (at most one batch) and
// returns how many it read.
func (d *Dispatcher) Once(ctx context.Context) (int, error) {
	v, err := d.Store.Get(ctx, cursorKey)
	if err != nil {
		return 0, err
	}
	cursor, _ := strconv.ParseInt(v, 10, 64)
	evs, err := d.Store.Events(ctx, store.EventQuery{AfterID: cursor, Limit: batch})
	if err != nil {
		return 0, err
	}
	next, settled := cursor, true
	images := map[string]*Image{}
	for _, e := range evs {
		if err := d.dispatch(ctx, e, images); err != nil {
			return 0, err
		}
		// The cursor passes a gap in the ids only when it has settled.
		if e.ID != next+1 && d.now().Sub(e.At) < settle {
			settled = false
		}
		if settled {
			next = e.ID
		}
	}
	if next > cursor {
		if _, err := d.Store.AdvanceCursor(ctx, cursorKey, next); err != nil {
			return 0, err
		}
	}
	return len(evs), nil
}

// dispatch queues the deliveries of one event: one per channel, whatever
// number of rules pick it.
func (d *Dispatcher) dispatch(ctx context.Context, e store.Event, images map[string]*Image) error {
	var im *Image
	if e.Digest != "" {
		if cached, ok := images[e.Digest]; ok {
			im = cached
		} else {
			var err error
			if im, err = imageOf(ctx, d.Store, e.Digest); err != nil {
				return err
			}
			images[e.Digest] = im
		}
	}
	repo := ""
	if im != nil {
		repo = im.Repository
	}
	var data struct {
		Severity   string          `json:"severity"`
		Package    finding.Package `json:"package"`
		Aliases    []string        `json:"aliases"`
		Repository string          `json:"repository"`
	}
	_ = json.Unmarshal(e.Data, &data)
	if repo == "" {
		repo = data.Repository
	}
	sent := map[string]bool{}
	for i := range d.Config.Rules {
		r := &d.Config.Rules[i]
		if !slices.Contains(r.On, e.Type) {
			continue
		}
		if r.severity != "" && slices.Contains(findingEvents, e.Type) {
			sev, _ := finding.ParseSeverity(data.Severity)
			if sev.Rank() < r.severity.Rank() {
				continue
			}
		}
		if len(r.Repositories) > 0 && !slices.ContainsFunc(r.Repositories, func(g string) bool { return GlobMatch(g, repo) }) {
			continue
		}
		if r.Watched && (d.Watched == nil || !d.Watched(repo)) {
			continue
		}
		if slices.Contains(findingEvents, e.Type) && e.Digest != "" {
			f := finding.Finding{ID: e.VulnID, Aliases: data.Aliases, Package: data.Package}
			tr, err := d.Store.SuppressedBy(ctx, e.Digest, &f, e.At)
			if err != nil {
				return err
			}
			if tr != nil {
				d.Logger.Debug("notification silenced by triage", "event", e.ID, "triage", tr.ID, "state", tr.State)
				continue
			}
		}
		for _, ch := range r.Channels {
			if sent[ch] {
				continue
			}
			sent[ch] = true
			opts := &river.InsertOpts{MaxAttempts: d.Config.Retry.Attempts}
			if err := d.Queue.Insert(ctx, Args{EventID: e.ID, Channel: ch, Rule: r.Name}, opts); err != nil {
				return err
			}
		}
	}
	return nil
}

func imageOf(ctx context.Context, st *store.Store, digest string) (*Image, error) {
	sum, err := st.Summary(ctx, digest)
	if errors.Is(err, store.ErrNotFound) {
		return &Image{Digest: digest}, nil
	}
	if err != nil {
		return nil, err
	}
	im := &Image{Digest: digest, Repository: sum.Repository, Counts: sum.Counts, Gate: sum.Gate}
	for _, t := range sum.Tags {
		if t.Removed.IsZero() {
			im.Tags = append(im.Tags, t.Tag)
		}
	}
	return im, nil
}

// Worker delivers one event to one channel (a River worker).
type Worker struct {
	river.WorkerDefaults[Args]
	Config *Config
	Store  *store.Store
	Logger *slog.Logger
}

// Work implements river.Worker.
func (w *Worker) Work(ctx context.Context, job *river.Job[Args]) error {
	a := job.Args
	id := store.DeliveryID(a.EventID, a.Channel)
	log := w.Logger.With("delivery", id, "attempt", job.Attempt)
	ch, ok := w.Config.channel(a.Channel)
	if !ok {
		return river.JobCancel(fmt.Errorf("no channel %q in the configuration", a.Channel))
	}
	if _, err := w.Store.ClaimDelivery(ctx, a.EventID, a.Channel, a.Rule); err != nil {
		return err
	}
	d, err := w.Store.GetDelivery(ctx, id)
	if err != nil {
		return err
	}
	if d.Status == store.DeliveryDelivered || d.Status == store.DeliveryFailed {
		log.Debug("delivery already done", "status", d.Status)
		return nil
	}
	e, err := w.Store.GetEvent(ctx, a.EventID)
	if errors.Is(err, store.ErrNotFound) {
		return river.JobCancel(err)
	}
	if err != nil {
		return err
	}
	var im *Image
	if e.Digest != "" {
		if im, err = imageOf(ctx, w.Store, e.Digest); err != nil {
			return err
		}
	}
	m := newMessage(id, a.Rule, e, im, w.Config.PublicURL)
	s, _ := senderFor(ch.Type)
	start := time.Now()
	res, sendErr := s.send(ctx, ch, &m)
	att := store.DeliveryAttempt{Attempt: job.Attempt, At: time.Now(), Code: res.Code, DurationMS: time.Since(start).Milliseconds()}
	status := store.DeliveryDelivered
	final := res.Permanent || job.Attempt >= job.MaxAttempts
	if sendErr != nil {
		att.Error = sendErr.Error()
		status = store.DeliveryRetrying
		if final {
			status = store.DeliveryFailed
		}
	}
	if err := w.Store.RecordAttempt(context.WithoutCancel(ctx), id, att, status); err != nil {
		log.Error("recording a delivery attempt", "error", err)
	}
	if sendErr == nil {
		log.Info("notification delivered", "channel", a.Channel, "event", e.Type, "code", res.Code)
		return nil
	}
	if final {
		log.Warn("notification failed", "channel", a.Channel, "error", sendErr)
		return river.JobCancel(sendErr)
	}
	log.Warn("notification failed; it will be retried", "channel", a.Channel, "error", sendErr)
	return sendErr
}

// NextRetry implements river.Worker: Base, then doubling up to Max.
func (w *Worker) NextRetry(job *river.Job[Args]) time.Time {
	d := w.Config.Retry.Base
	for i := 1; i < job.Attempt && d < w.Config.Retry.Max; i++ {
		d *= 2
	}
	return time.Now().Add(min(d, w.Config.Retry.Max))
}

// Timeout implements river.Worker: a delivery is one request or one SMTP
// conversation.
func (w *Worker) Timeout(job *river.Job[Args]) time.Duration {
	if ch, ok := w.Config.channel(job.Args.Channel); ok {
		return ch.Timeout + 10*time.Second
	}
	return time.Minute
}
