// Package notify tells people what changed: rules of the server's
// configuration pick events (a new finding at or above a severity, a
// finding entering the KEV catalogue, a fix becoming available, an
// image's gate verdict changing, a scan failing, …) and channels deliver
// them — signed JSON webhooks, Slack- and Teams-compatible payloads,
// e-mail over SMTP.
//
// A dispatcher on every worker process reads new events and queues one
// delivery job per event and channel; the jobs are unique by event and
// channel, so two workers or a restart never make two messages of one
// event for one channel. Jobs go through the server's River queue: a
// failed delivery is retried with exponential backoff, survives restarts,
// and every attempt is logged in the store.
package notify

import (
	"errors"
	"fmt"
	"net/url"
	"os"
	"path"
	"slices"
	"strings"
	"time"

	"github.com/drydockscan/drydock/internal/finding"
	"github.com/drydockscan/drydock/internal/server/store"
)

// Channel types.
const (
	TypeWebhook = "webhook"
	TypeSlack   = "slack"
	TypeTeams   = "teams"
	TypeEmail   = "email"
)

// Config is the notify section of the server's configuration.
type Config struct {
	// Poll is how often the dispatcher looks for new events (default 2s).
	Poll time.Duration `yaml:"poll"`
	// Retry is the delivery retry policy.
	Retry Retry `yaml:"retry"`
	// PublicURL is the server's address as people reach it; messages link
	// to its UI when set.
	PublicURL string    `yaml:"public-url"`
	Channels  []Channel `yaml:"channels"`
	Rules     []Rule    `yaml:"rules"`
}

// Retry says how failed deliveries are tried again: after Base, then
// twice as long each time up to Max, at most Attempts tries in all.
type Retry struct {
	Attempts int           `yaml:"attempts"`
	Base     time.Duration `yaml:"base"`
	Max      time.Duration `yaml:"max"`
}

// Channel is where messages go.
type Channel struct {
	Name string `yaml:"name"`
	// Type is webhook, slack, teams or email.
	Type string `yaml:"type"`
	// URL receives webhook, Slack and Teams messages.
	URL string `yaml:"url"`
	// Secret signs webhook bodies (HMAC-SHA256); "env:NAME" reads it from
	// the environment.
	Secret string `yaml:"secret"`
	// Headers are added to HTTP deliveries ("env:NAME" values too).
	Headers map[string]string `yaml:"headers"`
	// CAFile is a PEM file of CAs trusted for the channel's TLS (HTTPS or
	// SMTP STARTTLS) beside the system's.
	CAFile string `yaml:"ca-file"`
	// Timeout bounds one delivery attempt (default 15s).
	Timeout time.Duration `yaml:"timeout"`
	// SMTP is "host:port" of the mail server (e-mail).
	SMTP string `yaml:"smtp"`
	// StartTLS: "required" (default), "none" (plain, loopback only).
	StartTLS string `yaml:"starttls"`
	// Username and Password authenticate (AUTH PLAIN, or LOGIN when the
	// server offers only that); Password may be "env:NAME".
	Username string   `yaml:"username"`
	Password string   `yaml:"password"`
	From     string   `yaml:"from"`
	To       []string `yaml:"to"`
}

// Rule picks events for channels.
type Rule struct {
	Name string `yaml:"name"`
	// On lists event types (store.Event*); see Events.
	On []string `yaml:"on"`
	// Severity keeps finding events at or above it.
	Severity string `yaml:"severity"`
	// Repositories keeps events of images whose repository matches one
	// of these globs (path.Match; "**" matches everything).
	Repositories []string `yaml:"repositories"`
	// Watched keeps events of images in repositories the server watches.
	Watched  bool     `yaml:"watched"`
	Channels []string `yaml:"channels"`

	severity finding.Severity
}

// Events are the event types rules may name.
var Events = []string{
	store.EventImageAdded, store.EventFindingNew, store.EventFindingResolved, store.EventFindingKEV,
	store.EventFixAvailable, store.EventGateChanged, store.EventScanFailed, store.EventTagMoved,
	store.EventTagRemoved, store.EventImageGone, store.EventTriageExpired,
}

// findingEvents are about one finding: triage decisions silence them.
var findingEvents = []string{store.EventFindingNew, store.EventFindingKEV, store.EventFixAvailable}

// Validate checks the configuration and fills in defaults.
func (c *Config) Validate() error {
	if c.Poll <= 0 {
		c.Poll = 2 * time.Second
	}
	if c.Retry.Attempts <= 0 {
		c.Retry.Attempts = 10
	}
	if c.Retry.Base <= 0 {
		c.Retry.Base = 30 * time.Second
	}
	if c.Retry.Max <= 0 {
		c.Retry.Max = time.Hour
	}
	names := map[string]bool{}
	var errs []error
	for i := range c.Channels {
		ch := &c.Channels[i]
		where := fmt.Sprintf("notify: channel %d (%s)", i+1, ch.Name)
		if ch.Name == "" || strings.ContainsAny(ch.Name, " :/") {
			errs = append(errs, fmt.Errorf("%s: needs a name without spaces, ':' or '/'", where))
		}
		if names[ch.Name] {
			errs = append(errs, fmt.Errorf("%s: the name is used twice", where))
		}
		names[ch.Name] = true
		if ch.Timeout <= 0 {
			ch.Timeout = 15 * time.Second
		}
		switch ch.Type {
		case TypeWebhook, TypeSlack, TypeTeams:
			u, err := url.Parse(ch.URL)
			if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
				errs = append(errs, fmt.Errorf("%s: url: want http(s)://…", where))
			}
			if ch.Type == TypeWebhook && ch.Secret == "" {
				errs = append(errs, fmt.Errorf("%s: a webhook needs a secret to sign with", where))
			}
		case TypeEmail:
			if ch.SMTP == "" || ch.From == "" || len(ch.To) == 0 {
				errs = append(errs, fmt.Errorf("%s: e-mail needs smtp, from and to", where))
			}
			switch ch.StartTLS {
			case "":
				ch.StartTLS = "required"
			case "required", "none":
			default:
				errs = append(errs, fmt.Errorf("%s: starttls: want required or none", where))
			}
		default:
			errs = append(errs, fmt.Errorf("%s: type %q: want webhook, slack, teams or email", where, ch.Type))
		}
	}
	for i := range c.Rules {
		r := &c.Rules[i]
		if r.Name == "" {
			r.Name = fmt.Sprintf("rule-%d", i+1)
		}
		where := fmt.Sprintf("notify: rule %d (%s)", i+1, r.Name)
		if len(r.On) == 0 {
			errs = append(errs, fmt.Errorf("%s: on: name at least one event type", where))
		}
		for _, e := range r.On {
			if !slices.Contains(Events, e) {
				errs = append(errs, fmt.Errorf("%s: unknown event type %q (have %s)", where, e, strings.Join(Events, ", ")))
			}
		}
		if r.Severity != "" {
			sev, ok := finding.ParseSeverity(r.Severity)
			if !ok {
				errs = append(errs, fmt.Errorf("%s: severity %q", where, r.Severity))
			}
			r.severity = sev
		}
		for _, g := range r.Repositories {
			if _, err := path.Match(g, ""); err != nil {
				errs = append(errs, fmt.Errorf("%s: repository glob %q: %w", where, g, err))
			}
		}
		if len(r.Channels) == 0 {
			errs = append(errs, fmt.Errorf("%s: channels: name at least one", where))
		}
		for _, ch := range r.Channels {
			if !names[ch] {
				errs = append(errs, fmt.Errorf("%s: no channel named %q", where, ch))
			}
		}
	}
	return errors.Join(errs...)
}

// channel returns the channel of that name.
func (c *Config) channel(name string) (*Channel, bool) {
	for i := range c.Channels {
		if c.Channels[i].Name == name {
			return &c.Channels[i], true
		}
	}
	return nil, false
}

// secretValue reads "env:NAME" values from the environment.
func secretValue(v string) string {
	if name, ok := strings.CutPrefix(v, "env:"); ok {
		return os.Getenv(name)
	}
	return v
}

// GlobMatch reports whether a repository matches a glob of a rule or a
// watch ("**" matches everything; otherwise path.Match, whose "*" stops
// at "/").
func GlobMatch(glob, repository string) bool {
	if glob == "**" || glob == repository {
		return true
	}
	if prefix, ok := strings.CutSuffix(glob, "/**"); ok {
		return strings.HasPrefix(repository, prefix+"/")
	}
	ok, _ := path.Match(glob, repository)
	return ok
}
