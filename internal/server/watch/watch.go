// Package watch keeps the server's eye on registries: it lists the tags
// of watched repositories (REGISTRY/REPOSITORY[:TAG-GLOB]), queues a scan
// of every digest it has not stored, follows tags that move to a new
// digest, and marks tags and digests that disappear. Registries that send
// notifications (the distribution registry, Harbor) have pushed images
// scanned at once through the API's hook endpoints, which this package
// parses. Registry credentials come from the server's configuration only.
package watch

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"path"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"

	"github.com/drydockscan/drydock/internal/server/store"
)

// Spec is one watched repository and the tags watched in it.
type Spec struct {
	Repository name.Repository
	// TagGlob selects tags (path.Match); "*" is every tag.
	TagGlob string
}

// String is REGISTRY/REPOSITORY:GLOB.
func (s Spec) String() string { return s.Repository.Name() + ":" + s.TagGlob }

// ParseSpec reads REGISTRY/REPOSITORY[:TAG-GLOB].
func ParseSpec(s string, insecure bool) (Spec, error) {
	s = strings.TrimSpace(s)
	repo, glob := s, "*"
	if i := strings.LastIndexByte(s, ':'); i > strings.LastIndexByte(s, '/') {
		repo, glob = s[:i], s[i+1:]
	}
	if glob == "" {
		glob = "*"
	}
	if _, err := path.Match(glob, ""); err != nil {
		return Spec{}, fmt.Errorf("watch %q: tag glob: %w", s, err)
	}
	var opts []name.Option
	opts = append(opts, name.StrictValidation)
	if insecure {
		opts = append(opts, name.Insecure)
	}
	if !strings.Contains(repo, "/") || !strings.ContainsAny(strings.SplitN(repo, "/", 2)[0], ".:") && strings.SplitN(repo, "/", 2)[0] != "localhost" {
		return Spec{}, fmt.Errorf("watch %q: want REGISTRY/REPOSITORY[:TAG-GLOB] with the registry's host", s)
	}
	r, err := name.NewRepository(repo, opts...)
	if err != nil {
		return Spec{}, fmt.Errorf("watch %q: %w", s, err)
	}
	return Spec{Repository: r, TagGlob: glob}, nil
}

// Credential authenticates to one registry.
type Credential struct {
	Username string `yaml:"username"`
	Password string `yaml:"password"`
	Token    string `yaml:"token"`
}

// Keychain resolves credentials per registry host from the server's
// configuration, then falls back.
type Keychain struct {
	ByHost   map[string]Credential
	Fallback authn.Keychain
}

// Resolve implements authn.Keychain.
func (k Keychain) Resolve(r authn.Resource) (authn.Authenticator, error) {
	if c, ok := k.ByHost[r.RegistryStr()]; ok {
		if c.Token != "" {
			return &authn.Bearer{Token: c.Token}, nil
		}
		return authn.FromConfig(authn.AuthConfig{Username: c.Username, Password: c.Password}), nil
	}
	if k.Fallback != nil {
		return k.Fallback.Resolve(r)
	}
	return authn.Anonymous, nil
}

// Enqueuer queues scan jobs.
type Enqueuer interface {
	Enqueue(ctx context.Context, scanID string) error
}

// Watcher lists watched repositories and reacts to registry events.
type Watcher struct {
	Specs []Spec
	Store *store.Store
	Queue Enqueuer
	// Auth authenticates to registries (the server's credentials).
	Auth     authn.Keychain
	Insecure bool
	// Transport is the base HTTP transport (nil: the default).
	Transport http.RoundTripper
	Logger    *slog.Logger

	// mu orders what this process learns of tags: a poll's answer for a
	// tag and a registry event about it are handled one after the other,
	// the registry asked under the lock, so the later answer wins.
	mu sync.Mutex
}

// Watched reports whether a repository (REGISTRY/REPOSITORY) is watched.
func (w *Watcher) Watched(repository string) bool {
	return slices.ContainsFunc(w.Specs, func(s Spec) bool { return s.Repository.Name() == repository })
}

// spec returns the spec that watches a tag of a repository given by its
// path in the registry ("team/app") and, when known, the registry's
// host; the host may be empty or differ (a registry behind a proxy
// reports its own), in which case the path alone must be unambiguous.
func (w *Watcher) spec(host, repoPath, tag string) (Spec, bool) {
	var byPath []Spec
	for _, s := range w.Specs {
		if s.Repository.RepositoryStr() != repoPath {
			continue
		}
		if tag != "" {
			if ok, _ := path.Match(s.TagGlob, tag); !ok {
				continue
			}
		}
		if host != "" && s.Repository.RegistryStr() == host {
			return s, true
		}
		byPath = append(byPath, s)
	}
	if len(byPath) == 1 {
		return byPath[0], true
	}
	return Spec{}, false
}

func (w *Watcher) remote(ctx context.Context) []remote.Option {
	tr := w.Transport
	if tr == nil {
		tr = remote.DefaultTransport
	}
	auth := w.Auth
	if auth == nil {
		auth = authn.DefaultKeychain
	}
	return []remote.Option{remote.WithContext(ctx), remote.WithAuthFromKeychain(auth), remote.WithTransport(tr), remote.WithUserAgent("drydock")}
}

// Poll lists every watched repository once.
func (w *Watcher) Poll(ctx context.Context) error {
	var errs []error
	for _, s := range w.Specs {
		if err := w.poll(ctx, s); err != nil {
			w.Logger.Warn("watching a repository failed", "repository", s.String(), "error", err)
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

func (w *Watcher) poll(ctx context.Context, s Spec) error {
	ropts := w.remote(ctx)
	tags, err := remote.List(s.Repository, ropts...)
	if err != nil {
		return fmt.Errorf("listing tags of %s: %w", s.Repository.Name(), err)
	}
	now := time.Now()
	listed := map[string]bool{}
	for _, tag := range tags {
		if ok, _ := path.Match(s.TagGlob, tag); !ok {
			continue
		}
		listed[tag] = true
		if err := w.pollTag(ctx, s.Repository, tag, ropts, now); err != nil {
			return err
		}
	}
	known, err := w.Store.WatchTags(ctx, s.Repository.Name())
	if err != nil {
		return err
	}
	for _, k := range known {
		if listed[k.Tag] || !k.Removed.IsZero() {
			continue
		}
		if ok, _ := path.Match(s.TagGlob, k.Tag); !ok {
			continue
		}
		if err := w.pollTag(ctx, s.Repository, k.Tag, ropts, now); err != nil {
			return err
		}
	}
	return nil
}

// pollTag asks the registry what a tag names now and acts on it: a
// digest is Seen, a missing tag Removed.
func (w *Watcher) pollTag(ctx context.Context, repo name.Repository, tag string, ropts []remote.Option, now time.Time) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	ref := repo.Tag(tag)
	desc, err := remote.Head(ref, ropts...)
	switch {
	case err != nil && notFound(err):
		return w.removed(ctx, repo, tag, now)
	case err != nil:
		return fmt.Errorf("%s: %w", ref.Name(), err)
	}
	return w.seen(ctx, repo, tag, desc.Digest.String(), now)
}

// seen handles a tag naming a digest: a digest the store has gets the
// tag; one it lacks is scanned (unless a scan of it waits already).
func (w *Watcher) seen(ctx context.Context, repo name.Repository, tag, digest string, now time.Time) error {
	known, err := w.Store.WatchTags(ctx, repo.Name())
	if err != nil {
		return err
	}
	for _, k := range known {
		if k.Tag == tag && k.Digest == digest && k.Removed.IsZero() {
			return w.Store.PutWatchTag(ctx, repo.Name(), tag, digest, now)
		}
	}
	has, err := w.Store.HasImage(ctx, digest)
	if err != nil {
		return err
	}
	ref := repo.Tag(tag).Name()
	if has {
		if err := w.Store.TagImage(ctx, digest, repo.Name(), tag, now); err != nil {
			return err
		}
		w.Logger.Info("watched tag names a stored image", "ref", ref, "digest", digest)
	} else {
		active, err := w.Store.ActiveScan(ctx, ref)
		if err != nil {
			return err
		}
		if !active {
			if err := w.scan(ctx, ref); err != nil {
				return err
			}
			w.Logger.Info("watched tag has a new digest: scan queued", "ref", ref, "digest", digest)
		}
	}
	return w.Store.PutWatchTag(ctx, repo.Name(), tag, digest, now)
}

func (w *Watcher) scan(ctx context.Context, ref string) error {
	sc := store.Scan{Kind: store.KindImage, Ref: ref}
	if err := w.Store.CreateScan(ctx, &sc); err != nil {
		return err
	}
	if err := w.Queue.Enqueue(ctx, sc.ID); err != nil {
		_ = w.Store.FailScan(context.WithoutCancel(ctx), sc.ID, "could not be queued", true)
		return err
	}
	return nil
}

// removed handles a tag gone from its registry; when no watched tag
// names its digest any more and the registry no longer has the digest,
// the image is marked gone.
func (w *Watcher) removed(ctx context.Context, repo name.Repository, tag string, now time.Time) error {
	digest, err := w.Store.RemoveWatchTag(ctx, repo.Name(), tag, now)
	if err != nil || digest == "" {
		return err
	}
	w.Logger.Info("watched tag removed", "ref", repo.Tag(tag).Name(), "digest", digest)
	return w.maybeGone(ctx, repo, digest, now)
}

func (w *Watcher) maybeGone(ctx context.Context, repo name.Repository, digest string, now time.Time) error {
	live, err := w.Store.LiveWatchTags(ctx, digest)
	if err != nil || live > 0 {
		return err
	}
	if _, err := remote.Head(repo.Digest(digest), w.remote(ctx)...); err == nil || !notFound(err) {
		return nil // still there by digest (or the registry cannot say)
	}
	gone, err := w.Store.MarkGone(ctx, digest, now)
	if gone {
		w.Logger.Info("image gone from its registry", "repository", repo.Name(), "digest", digest)
	}
	return err
}

// deleted handles a registry's delete event for a digest.
func (w *Watcher) deleted(ctx context.Context, repo name.Repository, digest string, now time.Time) error {
	known, err := w.Store.WatchTags(ctx, repo.Name())
	if err != nil {
		return err
	}
	for _, k := range known {
		if k.Digest == digest && k.Removed.IsZero() {
			if _, err := w.Store.RemoveWatchTag(ctx, repo.Name(), k.Tag, now); err != nil {
				return err
			}
		}
	}
	return w.maybeGone(ctx, repo, digest, now)
}

func notFound(err error) bool {
	var te *transport.Error
	return errors.As(err, &te) && te.StatusCode == http.StatusNotFound
}

// Args is the periodic job that lists the watched repositories.
type Args struct{}

// Kind implements river.JobArgs.
func (Args) Kind() string { return "drydock.watch" }

// InsertOpts implements river.JobArgsWithInsertOpts: one poll waits or
// runs at a time, and a failed poll is not retried (the next comes).
func (Args) InsertOpts() river.InsertOpts {
	return river.InsertOpts{MaxAttempts: 1, UniqueOpts: river.UniqueOpts{ByArgs: true, ByState: []rivertype.JobState{
		rivertype.JobStateAvailable, rivertype.JobStatePending, rivertype.JobStateRunning, rivertype.JobStateRetryable, rivertype.JobStateScheduled,
	}}}
}

// Worker runs the periodic poll.
type Worker struct {
	river.WorkerDefaults[Args]
	Watcher *Watcher
}

// Work implements river.Worker.
func (w *Worker) Work(ctx context.Context, _ *river.Job[Args]) error {
	start := time.Now()
	err := w.Watcher.Poll(ctx)
	w.Watcher.Logger.Debug("watched repositories polled", "repositories", len(w.Watcher.Specs), "duration", time.Since(start).Round(time.Millisecond))
	if err != nil {
		return river.JobCancel(err)
	}
	return nil
}

// Periodic is the River periodic job of polls every interval (the first
// at start).
func Periodic(interval time.Duration) *river.PeriodicJob {
	return river.NewPeriodicJob(river.PeriodicInterval(interval), func() (river.JobArgs, *river.InsertOpts) {
		return Args{}, nil
	}, &river.PeriodicJobOpts{RunOnStart: true, ID: "drydock.watch"})
}
