// Package client is drydock's client mode: the image is read here (with
// the local layer cache), the inventory is sent to a drydock server, which
// matches it against its database and stores it, and the findings come
// back for the same policy, reports and verdict as a local scan.
package client

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/drydockscan/drydock/internal/finding"
	"github.com/drydockscan/drydock/internal/inventory"
	"github.com/drydockscan/drydock/internal/pipeline"
	"github.com/drydockscan/drydock/internal/report"
)

// Matcher asks a drydock server to match inventories. It implements
// pipeline.Matcher and pipeline.TargetMatcher.
type Matcher struct {
	// Server is the server's base URL (https://drydock.example.com).
	Server string
	// Token is the bearer token (scope scan).
	Token string
	// HTTP is the client to use (nil: one with a 5 minute timeout).
	HTTP *http.Client
}

// New returns a Matcher for server; caFile, when set, is the PEM file of
// the CA the server's certificate is checked against.
func New(server, token, caFile string) (*Matcher, error) {
	u, err := url.Parse(server)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("--server %q: want http(s)://host[:port]", server)
	}
	if token == "" {
		return nil, errors.New("--server needs --token (or DRYDOCK_TOKEN)")
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	if caFile != "" {
		pem, err := os.ReadFile(caFile)
		if err != nil {
			return nil, fmt.Errorf("--server-ca: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("--server-ca %s: no PEM certificate", caFile)
		}
		tr.TLSClientConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	}
	return &Matcher{Server: strings.TrimRight(server, "/"), Token: token, HTTP: &http.Client{Transport: tr, Timeout: 5 * time.Minute}}, nil
}

// Match implements pipeline.Matcher for an inventory without a target.
func (m *Matcher) Match(ctx context.Context, inv *inventory.Inventory, at time.Time) (*pipeline.Matched, error) {
	return m.MatchTarget(ctx, report.Target{}, inv, at)
}

// request and response mirror the server's /api/v1/inventories.
type request struct {
	Target    report.Target        `json:"target"`
	Inventory *inventory.Inventory `json:"inventory"`
	At        string               `json:"at,omitempty"`
}

type response struct {
	ID       string            `json:"id"`
	Digest   string            `json:"digest"`
	Database *report.Database  `json:"database"`
	Findings []finding.Finding `json:"findings"`
}

// Problem is an error the server answered with (RFC 9457).
type Problem struct {
	Status int    `json:"status"`
	Code   string `json:"code"`
	Title  string `json:"title"`
	Detail string `json:"detail"`
}

func (p *Problem) Error() string {
	s := fmt.Sprintf("server: %d %s", p.Status, p.Code)
	if p.Detail != "" {
		s += ": " + p.Detail
	} else if p.Title != "" {
		s += ": " + p.Title
	}
	return s
}

// MatchTarget implements pipeline.TargetMatcher: the server matches the
// inventory and stores it under the target's digest.
func (m *Matcher) MatchTarget(ctx context.Context, target report.Target, inv *inventory.Inventory, at time.Time) (*pipeline.Matched, error) {
	// The file lists served ownership, which is already decided.
	send := *inv
	send.Packages = slices.Clone(inv.Packages)
	for i := range send.Packages {
		send.Packages[i].Files = nil
	}
	body, err := json.Marshal(request{Target: target, Inventory: &send, At: at.UTC().Format(time.RFC3339)})
	if err != nil {
		return nil, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, m.Server+"/api/v1/inventories", bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+m.Token)
	hc := m.HTTP
	if hc == nil {
		hc = &http.Client{Timeout: 5 * time.Minute}
	}
	resp, err := hc.Do(req)
	if err != nil {
		return nil, fmt.Errorf("server %s: %w", m.Server, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 1<<30))
	if err != nil {
		return nil, fmt.Errorf("server %s: %w", m.Server, err)
	}
	if resp.StatusCode != http.StatusCreated {
		p := &Problem{Status: resp.StatusCode}
		if json.Unmarshal(data, p) != nil || p.Code == "" {
			p.Code = http.StatusText(resp.StatusCode)
		}
		return nil, p
	}
	var r response
	if err := json.Unmarshal(data, &r); err != nil {
		return nil, fmt.Errorf("server %s: answer is not an inventory result: %w", m.Server, err)
	}
	if r.Database == nil {
		return nil, fmt.Errorf("server %s: answer has no database facts", m.Server)
	}
	return &pipeline.Matched{Findings: r.Findings, Database: r.Database}, nil
}
