// Package redistest starts the real Redis server (Debian's redis-server
// package) on 127.0.0.1 for tests, with a password and optionally TLS.
package redistest

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/drydockscan/drydock/internal/testutil/tlstest"
)

// RequireEnv, when set to 1 (as .ci/run does), makes a missing
// redis-server a test failure instead of a skip.
const RequireEnv = "DRYDOCK_REQUIRE_REDIS"

// Options choose the server's security.
type Options struct {
	// Password is required by the server (requirepass); empty for none.
	Password string
	// TLS serves TLS only, with a certificate for 127.0.0.1 signed by a
	// test CA (Server.CAFile, Server.CAPool).
	TLS bool
}

// Server is a running redis-server.
type Server struct {
	// Addr is "127.0.0.1:PORT".
	Addr string
	// URL is redis:// or rediss:// with the password.
	URL string
	// CAFile and CAPool trust the server's certificate (TLS only).
	CAFile string
	CAPool *x509.CertPool
}

// Binary returns the redis-server binary or skips the test.
func Binary(t testing.TB) string {
	t.Helper()
	if p, err := exec.LookPath("redis-server"); err == nil {
		return p
	}
	if os.Getenv(RequireEnv) == "1" {
		t.Fatalf("redis-server is not installed and %s=1", RequireEnv)
	}
	t.Skip("redis-server is not installed (Debian package redis-server; .ci/run installs it)")
	return ""
}

// Start runs a redis-server until the test ends: no persistence, bound to
// loopback.
func Start(t testing.TB, o Options) *Server {
	t.Helper()
	bin := Binary(t)
	dir := t.TempDir()
	port := freePort(t)
	s := &Server{Addr: fmt.Sprintf("127.0.0.1:%d", port)}
	var cfg strings.Builder
	fmt.Fprintf(&cfg, "bind 127.0.0.1\nprotected-mode yes\ndir %s\nsave \"\"\nappendonly no\ndaemonize no\nlogfile \"\"\n", dir)
	if o.Password != "" {
		fmt.Fprintf(&cfg, "requirepass %s\n", o.Password)
	}
	scheme := "redis"
	if o.TLS {
		scheme = "rediss"
		cert, key, ca, pool := tlstest.Certs(t, dir)
		s.CAFile, s.CAPool = ca, pool
		fmt.Fprintf(&cfg, "port 0\ntls-port %d\ntls-cert-file %s\ntls-key-file %s\ntls-ca-cert-file %s\ntls-auth-clients no\n", port, cert, key, ca)
	} else {
		fmt.Fprintf(&cfg, "port %d\n", port)
	}
	if o.Password != "" {
		s.URL = fmt.Sprintf("%s://:%s@%s/0", scheme, o.Password, s.Addr)
	} else {
		s.URL = fmt.Sprintf("%s://%s/0", scheme, s.Addr)
	}
	cfgFile := filepath.Join(dir, "redis.conf")
	if err := os.WriteFile(cfgFile, []byte(cfg.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, cfgFile)
	var logs bytes.Buffer
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting redis-server: %v", err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		if t.Failed() {
			t.Logf("redis-server log:\n%s", logs.String())
		}
	})
	deadline := time.Now().Add(15 * time.Second)
	for time.Now().Before(deadline) {
		if c, err := net.DialTimeout("tcp", s.Addr, time.Second); err == nil {
			c.Close()
			return s
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("redis-server on %s did not start:\n%s", s.Addr, logs.String())
	return nil
}

// TLSConfig trusts the server's test CA.
func (s *Server) TLSConfig() *tls.Config {
	return &tls.Config{RootCAs: s.CAPool, ServerName: "127.0.0.1", MinVersion: tls.VersionTLS12}
}

func freePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}
