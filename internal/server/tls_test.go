package server_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/drydockscan/drydock/internal/client"
	"github.com/drydockscan/drydock/internal/inventory"
	"github.com/drydockscan/drydock/internal/report"
	"github.com/drydockscan/drydock/internal/server"
	"github.com/drydockscan/drydock/internal/server/store"
)

// selfSigned writes a certificate for 127.0.0.1 and its key.
func selfSigned(t *testing.T, dir string) (cert, key string) {
	t.Helper()
	k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "127.0.0.1"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &k.PublicKey, k)
	if err != nil {
		t.Fatal(err)
	}
	kd, _ := x509.MarshalECPrivateKey(k)
	cert, key = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	_ = os.WriteFile(cert, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600)
	_ = os.WriteFile(key, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kd}), 0o600)
	return cert, key
}

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
	cfg.TLSCert, cfg.TLSKey = selfSigned(t, t.TempDir())
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
	m, err := client.New(secure, tok, cfg.TLSCert)
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
