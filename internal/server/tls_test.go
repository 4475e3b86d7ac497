package server_test

import (
	"context"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/drydockscan/drydock/internal/client"
	"github.com/drydockscan/drydock/internal/inventory"
	"github.com/drydockscan/drydock/internal/report"
	"github.com/drydockscan/drydock/internal/server"
	"github.com/drydockscan/drydock/internal/server/store"
	"github.com/drydockscan/drydock/internal/testutil/tlstest"
)

// TestTLS: with --tls-cert/--tls-key the API speaks HTTPS only, and the
// client mode trusts the server through --server-ca.
func TestTLS(t *testing.T) {
	needDB(t)
	ctx := context.Background()
	storeURL := "sqlite:" + filepath.Join(t.TempDir(), "server.db")
	tok, _, err := server.CreateToken(ctx, storeURL, "ci", store.ScopeScan, nil)
	if err != nil {
		t.Fatal(err)
	}
	cfg := baseConfig(t, storeURL, server.RoleAPI, &logBuffer{})
	var caFile string
	cfg.TLSCert, cfg.TLSKey, caFile, _ = tlstest.Certs(t, t.TempDir())
	base := startServer(t, cfg)
	secure := strings.Replace(base, "http://", "https://", 1)

	if resp, err := http.Get(base + "/healthz"); err == nil {
		resp.Body.Close()
		if resp.StatusCode == http.StatusOK {
			t.Error("plain HTTP answered 200 on the TLS port")
		}
	}
	if _, err := client.New(secure, tok, ""); err != nil {
		t.Fatal(err)
	}
	untrusted, _ := client.New(secure, tok, "")
	inv := &inventory.Inventory{Packages: []inventory.Package{{Type: "golang", Name: "golang.org/x/text", Version: "v0.3.5", PURL: "pkg:golang/golang.org/x/text@v0.3.5"}}}
	if _, err := untrusted.Match(ctx, inv, time.Now()); err == nil {
		t.Error("the client trusted a certificate no CA it knows signed")
	}
	m, err := client.New(secure, tok, caFile)
	if err != nil {
		t.Fatal(err)
	}
	got, err := m.MatchTarget(ctx, report.Target{Ref: "tls-test"}, inv, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Findings) == 0 || got.Database == nil {
		t.Errorf("golang.org/x/text v0.3.5 over TLS: %d findings, database %v", len(got.Findings), got.Database)
	}
}
