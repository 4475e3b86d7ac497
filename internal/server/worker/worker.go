// Package worker runs the server's scan jobs through the one scan
// pipeline: it reads the image (pulled with the server's registry
// credentials, or an uploaded archive), matches the inventory against the
// worker's own vulnerability database, and stores the result.
package worker

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"syscall"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
	"github.com/riverqueue/river"

	"github.com/drydockscan/drydock/internal/inventory"
	"github.com/drydockscan/drydock/internal/pipeline"
	"github.com/drydockscan/drydock/internal/report"
	"github.com/drydockscan/drydock/internal/server/queue"
	"github.com/drydockscan/drydock/internal/server/store"
)

// Observer is told about finished scans (metrics).
type Observer interface {
	ScanFinished(status string, d time.Duration)
}

// Scanner runs scan jobs.
type Scanner struct {
	river.WorkerDefaults[queue.ScanArgs]

	Store *store.Store
	DB    *DBKeeper
	// Inventory holds the source options (the server's registry
	// credentials, platform) and the analysis settings.
	Inventory pipeline.InventoryOptions
	Tool      report.Tool
	Logger    *slog.Logger
	Observer  Observer
	// HoldDir, for tests of durability only: a scan writes
	// HoldDir/<scan id>.started and waits until HoldDir/release exists
	// or its context ends.
	HoldDir string
}

// Work implements river.Worker.
func (s *Scanner) Work(ctx context.Context, job *river.Job[queue.ScanArgs]) error {
	id := job.Args.ScanID
	log := s.Logger.With("scan", id, "attempt", job.Attempt)
	sc, err := s.Store.GetScan(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return river.JobCancel(err)
	}
	if err != nil {
		return err
	}
	done, err := s.Store.StartScan(ctx, id, job.Attempt)
	if err != nil || done {
		return err
	}
	start := time.Now()
	log.Info("scan started", "kind", sc.Kind)
	if s.HoldDir != "" {
		if err := hold(ctx, s.HoldDir, id); err != nil {
			return err
		}
	}
	err = s.scan(ctx, sc, start)
	if err == nil {
		log.Info("scan done", "duration", time.Since(start).Round(time.Millisecond))
		s.observe(store.StatusDone, start)
		if sc.UploadPath != "" {
			_ = os.Remove(sc.UploadPath)
		}
		return nil
	}
	var perm *permanent
	final := job.Attempt >= job.MaxAttempts || errors.As(err, &perm)
	if ferr := s.Store.FailScan(context.WithoutCancel(ctx), id, err.Error(), final); ferr != nil {
		log.Error("recording a failed scan", "error", ferr)
	}
	if final {
		log.Warn("scan failed", "error", err)
		s.observe(store.StatusFailed, start)
		if sc.UploadPath != "" {
			_ = os.Remove(sc.UploadPath)
		}
		return river.JobCancel(err)
	}
	log.Warn("scan failed; it will be retried", "error", err)
	return err
}

// hold marks the scan started and waits for the release file.
func hold(ctx context.Context, dir, id string) error {
	if err := os.WriteFile(filepath.Join(dir, id+".started"), nil, 0o600); err != nil {
		return err
	}
	t := time.NewTicker(20 * time.Millisecond)
	defer t.Stop()
	for {
		if _, err := os.Stat(filepath.Join(dir, "release")); err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
	}
}

func (s *Scanner) observe(status string, start time.Time) {
	if s.Observer != nil {
		s.Observer.ScanFinished(status, time.Since(start))
	}
}

// fixed is a Matcher whose answer is already known.
type fixed struct{ m *pipeline.Matched }

func (f fixed) Match(context.Context, *inventory.Inventory, time.Time) (*pipeline.Matched, error) {
	return f.m, nil
}

func (s *Scanner) scan(ctx context.Context, sc store.Scan, start time.Time) error {
	var target string
	switch sc.Kind {
	case store.KindImage:
		// Only registries: a scan request never names a local path.
		target = "registry:" + sc.Ref
	case store.KindUpload:
		target = sc.UploadPath
	default:
		return fmt.Errorf("scan %s: kind %q is not run by workers", sc.ID, sc.Kind)
	}
	o := s.Inventory
	o.Logger = s.Logger
	inv, err := pipeline.Inventory(ctx, target, o)
	if err != nil {
		if !Transient(err) {
			// The image is missing or cannot be read: trying again
			// will not change that.
			return &permanent{err}
		}
		return err
	}
	if sc.Kind == store.KindUpload {
		// The server's file name means nothing to the user (nor may they
		// learn it): the name given, else the archive's own, else "upload".
		inv.Target.Ref = cmp.Or(sc.Ref, inv.Target.Name, "upload")
	}
	m, err := s.DB.Match(ctx, &inv.Inventory, start)
	if err != nil {
		return err
	}
	rep, err := pipeline.Complete(ctx, pipeline.Request{Matcher: fixed{m}, Tool: s.Tool, Started: start}, inv)
	if err != nil {
		return err
	}
	repo, tags := Names(sc.Ref, inv.Target.Name)
	_, err = s.Store.Record(ctx, store.Result{
		ScanID: sc.ID, Report: rep, Inventory: &inv.Inventory, Repository: repo, Tags: tags,
	})
	return err
}

// permanent marks an error that retrying cannot fix.
type permanent struct{ err error }

func (p *permanent) Error() string { return p.err.Error() }
func (p *permanent) Unwrap() error { return p.err }

// Names returns the repository and tags an image was seen under: from the
// reference scanned, else from the name the image carries.
func Names(ref, imageName string) (string, []string) {
	for _, s := range []string{ref, imageName} {
		if s == "" {
			continue
		}
		r, err := name.ParseReference(s)
		if err != nil {
			continue
		}
		if t, ok := r.(name.Tag); ok {
			return r.Context().Name(), []string{t.TagStr()}
		}
		return r.Context().Name(), nil
	}
	return "", nil
}

// Transient reports whether an error may go away when the scan is tried
// again: network failures, timeouts, a registry's 5xx or 429, a locked
// database. An image that does not exist or cannot be read is final.
func Transient(err error) bool {
	var te *transport.Error
	if errors.As(err, &te) {
		return te.StatusCode >= 500 || te.StatusCode == http.StatusTooManyRequests
	}
	var ne net.Error
	if errors.As(err, &ne) {
		return true
	}
	return errors.Is(err, context.DeadlineExceeded) || errors.Is(err, syscall.ECONNREFUSED) ||
		errors.Is(err, syscall.ECONNRESET) || errors.Is(err, os.ErrDeadlineExceeded)
}
