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

	"github.com/riverqueue/river"

	"github.com/drydockscan/drydock/internal/pipeline"
	"github.com/drydockscan/drydock/internal/report"
	"github.com/drydockscan/drydock/internal/server/api"
	"github.com/drydockscan/drydock/internal/server/queue"
	"github.com/drydockscan/drydock/internal/server/store"
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
	st, err := store.Open(ctx, c.Store, store.Options{Logger: log})
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
	if c.Role != RoleAPI {
		workers := river.NewWorkers()
		river.AddWorker(workers, &worker.Scanner{
			Store: st, DB: keeper, Inventory: c.Inventory, Tool: c.Tool, Logger: log, Observer: metrics, HoldDir: c.HoldDir,
		})
		qc.Workers = workers
	}
	q, err := queue.New(ctx, st, qc)
	if err != nil {
		return err
	}
	if err := q.Start(ctx); err != nil {
		return fmt.Errorf("starting the workers: %w", err)
	}
	defer func() {
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
		defer cancel()
		_ = q.Stop(sctx)
	}()
	go keeper.Run(ctx)
	if c.Role == RoleWorker {
		log.Info("worker running", "concurrency", qc.Concurrency, "db", c.DB.Path)
		if c.Started != nil {
			c.Started("")
		}
		<-ctx.Done()
		return nil
	}
	h := api.Handler(api.Config{
		Store: st, Queue: q, Matcher: keeper, Metrics: metrics, Tool: c.Tool, Logger: log,
		UploadDir: c.UploadDir, MaxUpload: c.MaxUpload,
		Ready: func(ctx context.Context) error {
			_, err := vstore.ReadMeta(ctx, c.DB.Path, 5*time.Second)
			return err
		},
	})
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

// CreateToken makes an API token in the store at url.
func CreateToken(ctx context.Context, url, name, scope string, log *slog.Logger) (string, store.Token, error) {
	st, err := store.Open(ctx, url, store.Options{Logger: log})
	if err != nil {
		return "", store.Token{}, err
	}
	defer st.Close()
	return st.CreateToken(ctx, name, scope)
}
