package watch

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
)

// Push actions.
const (
	ActionPush   = "push"
	ActionDelete = "delete"
)

// Push is one registry event about an image: pushed under a tag, or
// deleted.
type Push struct {
	Action string
	// Host is the registry's host as the registry reported it ("" when it
	// did not).
	Host string
	// Repository is the repository's path in the registry ("team/app").
	Repository string
	Tag        string
	Digest     string
}

// maxHookBody caps a hook's body: registries send small documents.
const maxHookBody = 4 << 20

// manifestTypes are the media types of image manifests and indexes; the
// distribution registry also notifies about blobs, which are ignored.
var manifestTypes = map[string]bool{
	"application/vnd.oci.image.manifest.v1+json":                true,
	"application/vnd.oci.image.index.v1+json":                   true,
	"application/vnd.docker.distribution.manifest.v2+json":      true,
	"application/vnd.docker.distribution.manifest.list.v2+json": true,
	"application/vnd.docker.distribution.manifest.v1+json":      true,
	"application/vnd.docker.distribution.manifest.v1+prettyjws": true,
}

// ParseDistribution reads a notification envelope of the distribution
// registry (application/vnd.docker.distribution.events.v1+json): pushes
// of manifests by tag, and deletes. Pulls and blob events are dropped.
func ParseDistribution(body []byte) ([]Push, error) {
	if len(body) > maxHookBody {
		return nil, errors.New("notification larger than 4 MiB")
	}
	var env struct {
		Events []struct {
			Action string `json:"action"`
			Target struct {
				MediaType  string `json:"mediaType"`
				Digest     string `json:"digest"`
				Repository string `json:"repository"`
				URL        string `json:"url"`
				Tag        string `json:"tag"`
			} `json:"target"`
			Request struct {
				Host string `json:"host"`
			} `json:"request"`
		} `json:"events"`
	}
	if err := json.Unmarshal(body, &env); err != nil {
		return nil, fmt.Errorf("notification envelope: %w", err)
	}
	if len(env.Events) > 10000 {
		return nil, errors.New("notification envelope: more than 10000 events")
	}
	var out []Push
	for _, e := range env.Events {
		t := e.Target
		host := e.Request.Host
		if u, err := url.Parse(t.URL); err == nil && u.Host != "" {
			host = u.Host
		}
		p := Push{Host: host, Repository: t.Repository, Tag: t.Tag, Digest: t.Digest}
		switch e.Action {
		case ActionPush:
			if !manifestTypes[t.MediaType] || t.Tag == "" {
				continue // blobs, and manifests pushed by digest (an index's children)
			}
			p.Action = ActionPush
		case ActionDelete:
			if t.Digest == "" && t.Tag == "" {
				continue
			}
			p.Action = ActionDelete
		default:
			continue
		}
		if err := p.check(); err != nil {
			return nil, err
		}
		out = append(out, p)
	}
	return out, nil
}

// ParseHarbor reads a Harbor webhook payload (the "Default" format):
// PUSH_ARTIFACT and DELETE_ARTIFACT, one Push per resource. Other event
// types are dropped.
func ParseHarbor(body []byte) ([]Push, error) {
	if len(body) > maxHookBody {
		return nil, errors.New("webhook payload larger than 4 MiB")
	}
	var p struct {
		Type      string `json:"type"`
		EventData *struct {
			Resources []struct {
				Digest      string `json:"digest"`
				Tag         string `json:"tag"`
				ResourceURL string `json:"resource_url"`
			} `json:"resources"`
			Repository *struct {
				Name         string `json:"name"`
				Namespace    string `json:"namespace"`
				RepoFullName string `json:"repo_full_name"`
			} `json:"repository"`
		} `json:"event_data"`
	}
	if err := json.Unmarshal(body, &p); err != nil {
		return nil, fmt.Errorf("harbor payload: %w", err)
	}
	var action string
	switch p.Type {
	case "PUSH_ARTIFACT", "pushImage":
		action = ActionPush
	case "DELETE_ARTIFACT", "deleteImage":
		action = ActionDelete
	default:
		return nil, nil
	}
	if p.EventData == nil || p.EventData.Repository == nil {
		return nil, errors.New("harbor payload: no event_data.repository")
	}
	repo := p.EventData.Repository.RepoFullName
	if repo == "" {
		repo = p.EventData.Repository.Namespace + "/" + p.EventData.Repository.Name
	}
	if len(p.EventData.Resources) > 10000 {
		return nil, errors.New("harbor payload: more than 10000 resources")
	}
	var out []Push
	for _, r := range p.EventData.Resources {
		host := ""
		// resource_url is HOST/NAMESPACE/NAME:TAG or …@DIGEST.
		if h, rest, ok := strings.Cut(r.ResourceURL, "/"); ok && strings.HasPrefix(rest, repo) {
			host = h
		}
		ps := Push{Action: action, Host: host, Repository: repo, Tag: r.Tag, Digest: r.Digest}
		if action == ActionPush && ps.Tag == "" {
			continue
		}
		if err := ps.check(); err != nil {
			return nil, err
		}
		out = append(out, ps)
	}
	return out, nil
}

// The distribution reference grammar (distribution/reference): path
// components and tags. Compiled on first use: the CLI links this package
// too, and the bounded repetition makes tagName's program large.
var (
	pathComponent = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$`) })
	tagName       = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$`) })
)

// check refuses names a reference could not hold.
func (p Push) check() error {
	if p.Repository == "" || len(p.Repository) > 255 {
		return fmt.Errorf("repository %q: not a repository name", p.Repository)
	}
	for _, c := range strings.Split(p.Repository, "/") {
		if !pathComponent().MatchString(c) {
			return fmt.Errorf("repository %q: not a repository name", p.Repository)
		}
	}
	if p.Tag != "" && !tagName().MatchString(p.Tag) {
		return fmt.Errorf("tag %q: not a tag", p.Tag)
	}
	if p.Digest != "" {
		if _, err := name.NewDigest("registry.invalid/x@"+p.Digest, name.StrictValidation); err != nil {
			return fmt.Errorf("digest %q: not a digest", p.Digest)
		}
	}
	if len(p.Host) > 255 {
		return errors.New("host too long")
	}
	return nil
}

// HookResult says what a hook did.
type HookResult struct {
	// Scans counts the pushes that were scanned or tagged.
	Accepted int `json:"accepted"`
	// Ignored counts the events of repositories or tags not watched.
	Ignored int `json:"ignored"`
}

// Handle acts on registry events: a push of a watched tag is scanned at
// once (or tags a stored image); a delete removes tags and marks the
// image gone. Events of repositories not watched are ignored: a hook
// never makes the server pull from a registry its configuration does not
// name.
func (w *Watcher) Handle(ctx context.Context, pushes []Push) (HookResult, error) {
	var res HookResult
	now := time.Now()
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, p := range pushes {
		s, ok := w.spec(p.Host, p.Repository, p.Tag)
		if !ok {
			res.Ignored++
			w.Logger.Debug("registry event ignored: not watched", "host", p.Host, "repository", p.Repository, "tag", p.Tag)
			continue
		}
		res.Accepted++
		var err error
		switch p.Action {
		case ActionPush:
			digest := p.Digest
			if digest == "" {
				err = errors.New("push event without digest")
				break
			}
			err = w.seen(ctx, s.Repository, p.Tag, digest, now)
		case ActionDelete:
			if p.Digest != "" {
				err = w.deleted(ctx, s.Repository, p.Digest, now)
			} else {
				err = w.removed(ctx, s.Repository, p.Tag, now)
			}
		}
		if err != nil {
			return res, fmt.Errorf("%s %s/%s: %w", p.Action, s.Repository.Name(), p.Tag, err)
		}
	}
	return res, nil
}
