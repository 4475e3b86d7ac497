// Package server is `drydock server`: the API, the scan workers and the
// database keeper, wired on one store and one queue. Roles: "api" serves
// the API and queues scans; "worker" runs scans; "all" does both.
package server

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/riverqueue/river"

	"github.com/drydockscan/drydock/internal/finding"

	"github.com/drydockscan/drydock/internal/pipeline"
	"github.com/drydockscan/drydock/internal/report"
	"github.com/drydockscan/drydock/internal/server/api"
	"github.com/drydockscan/drydock/internal/server/notify"
	"github.com/drydockscan/drydock/internal/server/queue"
	"github.com/drydockscan/drydock/internal/server/store"
	"github.com/drydockscan/drydock/internal/server/ui"
	"github.com/drydockscan/drydock/internal/server/watch"
	"github.com/drydockscan/drydock/internal/server/worker"
	vstore "github.com/drydockscan/drydock/internal/vulndb/store"
)

// Roles.
const (
	RoleAPI    = "api"
	RoleWorker = "worker"
	RoleAll    = "all"
)

// Config configures a server process.
type Config struct {
	Listen  string
	Store   string
	Role    string
	TLSCert string
	TLSKey  string
	// DB is the vulnerability database and how it is updated;
	// DBUpdateInterval how often.
	DB               pipeline.DB
	DBUpdateInterval time.Duration
	IncludeOSOwned   bool
	// Inventory holds the registry credentials and analysis settings the
	// workers use.
	Inventory   pipeline.InventoryOptions
	Concurrency int
	ScanTimeout time.Duration
	// RescueAfter is when a scan whose worker died is retried (default
	// ScanTimeout + 1 minute).
	RescueAfter time.Duration
	UploadDir   string
	MaxUpload   int64
	Tool        report.Tool
	Logger      *slog.Logger
	// HoldDir: tests of durability only (see worker.Scanner.HoldDir).
	HoldDir string
	// FetchPoll is how often idle workers look for jobs (default 1s).
	FetchPoll time.Duration
	// Started, when set, receives the address the API listens on.
	Started func(addr string)

	// Watch lists watched repositories (REGISTRY/REPOSITORY[:TAG-GLOB]);
	// WatchInterval is how often workers list their tags (0: only on
	// registry events). WatchCredentials authenticate per registry host.
	Watch            []string
	WatchInterval    time.Duration
	WatchCredentials map[string]watch.Credential
	// Notify configures notifications (nil: none).
	Notify *notify.Config
	// FailOn is the server's gate: images with an open finding at or above
	// it fail; changes of the verdict are events ("" judges none).
	FailOn finding.Severity
	// NoUI turns the web interface off.
	NoUI bool
}

// Run runs the server until ctx ends.
func Run(ctx context.Context, c Config) error {
	log := c.Logger
	switch c.Role {
	case RoleAPI, RoleWorker, RoleAll:
	default:
		return fmt.Errorf("--role %q: want api, worker or all", c.Role)
	}
	if (c.TLSCert == "") != (c.TLSKey == "") {
		return errors.New("--tls-cert and --tls-key go together")
	}
	nc := c.Notify
	if nc == nil {
		nc = &notify.Config{}
	}
	if err := nc.Validate(); err != nil {
		return err
	}
	var specs []watch.Spec
	for _, w := range c.Watch {
		sp, err := watch.ParseSpec(w, c.Inventory.Source.Insecure)
		if err != nil {
			return err
		}
		specs = append(specs, sp)
	}
	keychain := watchKeychain(&c)
	st, err := store.Open(ctx, c.Store, store.Options{Logger: log, FailOn: c.FailOn})
	if err != nil {
		return err
	}
	defer st.Close()
	log.Info("store open", "store", st.String())
	metrics := api.NewMetrics(st)
	keeper := &worker.DBKeeper{
		DB: c.DB, Interval: c.DBUpdateInterval, IncludeOSOwned: c.IncludeOSOwned, Store: st, Logger: log,
		OnRematch: func(s worker.RematchStats) { metrics.Rematched(s.Images, s.New, s.Resolved) },
	}
	if err := keeper.Ensure(ctx); err != nil {
		return err
	}
	hostname, _ := os.Hostname()
	qc := queue.Config{
		Concurrency: max(c.Concurrency, 1), JobTimeout: c.ScanTimeout, RescueAfter: c.RescueAfter,
		FetchPoll: c.FetchPoll, Logger: log, ID: fmt.Sprintf("drydock-%s-%d-%s", hostname, os.Getpid(), store.NewID()[:6]),
	}
	if qc.FetchPoll <= 0 {
		qc.FetchPoll = time.Second
	}
	if qc.JobTimeout <= 0 {
		qc.JobTimeout = 15 * time.Minute
	}
	if qc.RescueAfter <= 0 {
		qc.RescueAfter = qc.JobTimeout + time.Minute
	}
	watcher := &watch.Watcher{Specs: specs, Store: st, Auth: keychain, Insecure: c.Inventory.Source.Insecure, Transport: c.Inventory.Source.Transport, Logger: log}
	if c.Role != RoleAPI {
		workers := river.NewWorkers()
		river.AddWorker(workers, &worker.Scanner{
			Store: st, DB: keeper, Inventory: c.Inventory, Tool: c.Tool, Logger: log, Observer: metrics, HoldDir: c.HoldDir,
		})
		river.AddWorker(workers, &notify.Worker{Config: nc, Store: st, Logger: log})
		river.AddWorker(workers, &watch.Worker{Watcher: watcher})
		qc.Workers = workers
		qc.Queues = map[string]int{notify.QueueName: 4}
		if len(specs) > 0 && c.WatchInterval > 0 {
			qc.Periodic = append(qc.Periodic, watch.Periodic(c.WatchInterval))
		}
	}
	q, err := queue.New(ctx, st, qc)
	if err != nil {
		return err
	}
	watcher.Queue = q
	if err := q.Start(ctx); err != nil {
		return fmt.Errorf("starting the workers: %w", err)
	}
	defer func() {
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
		defer cancel()
		_ = q.Stop(sctx)
	}()
	go keeper.Run(ctx)
	if c.Role != RoleAPI {
		d := &notify.Dispatcher{Config: nc, Store: st, Queue: q, Watched: watcher.Watched, Logger: log}
		go d.Run(ctx)
		if len(specs) > 0 {
			log.Info("watching", "repositories", len(specs), "interval", c.WatchInterval, "rules", len(nc.Rules), "channels", len(nc.Channels))
		}
	}
	if c.Role == RoleWorker {
		log.Info("worker running", "concurrency", qc.Concurrency, "db", c.DB.Path)
		if c.Started != nil {
			c.Started("")
		}
		<-ctx.Done()
		return nil
	}
	ac := api.Config{
		Store: st, Queue: q, Matcher: keeper, Metrics: metrics, Tool: c.Tool, Logger: log,
		UploadDir: c.UploadDir, MaxUpload: c.MaxUpload,
		Ready: func(ctx context.Context) error {
			_, err := vstore.ReadMeta(ctx, c.DB.Path, 5*time.Second)
			return err
		},
		FailOn: c.FailOn,
	}
	if len(specs) > 0 {
		ac.Hooks = watcher
	}
	if !c.NoUI {
		ac.UI = ui.Handler()
	}
	h := api.Handler(ac)
	srv := &http.Server{
		Handler: h, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 2 * time.Minute,
		MaxHeaderBytes: 64 << 10, ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelWarn),
		BaseContext: func(net.Listener) context.Context { return ctx },
	}
	ln, err := net.Listen("tcp", c.Listen)
	if err != nil {
		return fmt.Errorf("--listen %s: %w", c.Listen, err)
	}
	if c.TLSCert != "" {
		cert, err := tls.LoadX509KeyPair(c.TLSCert, c.TLSKey)
		if err != nil {
			ln.Close()
			return fmt.Errorf("TLS key pair: %w", err)
		}
		ln = tls.NewListener(ln, &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12})
	}
	log.Info("API listening", "addr", ln.Addr().String(), "tls", c.TLSCert != "", "role", c.Role)
	if c.Started != nil {
		c.Started(ln.Addr().String())
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	_ = srv.Shutdown(sctx)
	return nil
}

// watchKeychain returns the credentials watchers and workers use: per
// registry host from the configuration, else the server's --username,
// --password or --registry-token, else Docker's. With per-host
// credentials the workers' pulls use the same keychain.
func watchKeychain(c *Config) authn.Keychain {
	src := &c.Inventory.Source
	var fallback authn.Keychain = authn.DefaultKeychain
	switch {
	case src.Username != "" || src.Password != "":
		fallback = staticKeychain{authn.FromConfig(authn.AuthConfig{Username: src.Username, Password: src.Password})}
	case src.Token != "":
		fallback = staticKeychain{&authn.Bearer{Token: src.Token}}
	case src.Keychain != nil:
		fallback = src.Keychain
	}
	if len(c.WatchCredentials) == 0 {
		return fallback
	}
	k := watch.Keychain{ByHost: c.WatchCredentials, Fallback: fallback}
	src.Username, src.Password, src.Token, src.Keychain = "", "", "", k
	return k
}

type staticKeychain struct{ a authn.Authenticator }

func (s staticKeychain) Resolve(authn.Resource) (authn.Authenticator, error) { return s.a, nil }

// CreateToken makes an API token in the store at url.
func CreateToken(ctx context.Context, url, name, scope string, log *slog.Logger) (string, store.Token, error) {
	st, err := store.Open(ctx, url, store.Options{Logger: log})
	if err != nil {
		return "", store.Token{}, err
	}
	defer st.Close()
	return st.CreateToken(ctx, name, scope)
}
