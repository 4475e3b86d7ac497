// Package registrytest starts the real distribution registry (Debian's
// docker-registry package) on 127.0.0.1 for tests, optionally with TLS and
// htpasswd authentication.
package registrytest

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/drydockscan/drydock/internal/testutil/tlstest"
)

// Options choose the registry's security.
type Options struct {
	// TLS serves HTTPS with a certificate for 127.0.0.1 signed by a CA the
	// test gets back in Registry.CAPool.
	TLS bool
	// Users enables htpasswd (bcrypt) authentication with these
	// user → password pairs.
	Users map[string]string
	// Notify are endpoints the registry sends its notifications to
	// (pushes, pulls, deletes), as its notifications.endpoints section
	// configures them.
	Notify []Endpoint
}

// Endpoint is a notification endpoint of the registry.
type Endpoint struct {
	Name string
	URL  string
	// Headers are sent with every notification (Authorization: …).
	Headers map[string]string
}

// Registry is a running registry.
type Registry struct {
	// Host is "127.0.0.1:PORT".
	Host string
	// CAPool trusts the registry's certificate (TLS only).
	CAPool *x509.CertPool
	// CAFile is the PEM file of that CA (TLS only).
	CAFile string
}

// Binary returns the registry binary or skips the test.
func Binary(t testing.TB) string {
	t.Helper()
	for _, p := range []string{"docker-registry", "registry"} {
		if path, err := exec.LookPath(p); err == nil {
			return path
		}
	}
	if _, err := os.Stat("/usr/bin/docker-registry"); err == nil {
		return "/usr/bin/docker-registry"
	}
	t.Skip("docker-registry is not installed (Debian package docker-registry; .ci/run installs it)")
	return ""
}

// Start runs a registry until the test ends.
func Start(t testing.TB, opts Options) *Registry {
	t.Helper()
	bin := Binary(t)
	dir := t.TempDir()
	port := freePort(t)
	r := &Registry{Host: fmt.Sprintf("127.0.0.1:%d", port)}
	var cfg strings.Builder
	fmt.Fprintf(&cfg, "version: 0.1\nlog:\n  level: error\n  accesslog:\n    disabled: true\nstorage:\n  filesystem:\n    rootdirectory: %s\n  delete:\n    enabled: true\nhttp:\n  addr: %s\n", filepath.Join(dir, "data"), r.Host)
	if opts.TLS {
		certFile, keyFile, caFile, pool := tlstest.Certs(t, dir)
		r.CAPool, r.CAFile = pool, caFile
		fmt.Fprintf(&cfg, "  tls:\n    certificate: %s\n    key: %s\n", certFile, keyFile)
	}
	if len(opts.Users) > 0 {
		htpasswd, err := exec.LookPath("htpasswd")
		if err != nil {
			t.Skip("htpasswd is not installed (Debian package apache2-utils)")
		}
		file := filepath.Join(dir, "htpasswd")
		for u, p := range opts.Users {
			out, err := exec.Command(htpasswd, "-Bbn", u, p).Output()
			if err != nil {
				t.Fatalf("htpasswd: %v", err)
			}
			f, err := os.OpenFile(file, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o600)
			if err != nil {
				t.Fatal(err)
			}
			f.Write(bytes.TrimSpace(out))
			f.Write([]byte("\n"))
			f.Close()
		}
		fmt.Fprintf(&cfg, "auth:\n  htpasswd:\n    realm: drydock-test\n    path: %s\n", file)
	}
	if len(opts.Notify) > 0 {
		cfg.WriteString("notifications:\n  endpoints:\n")
		for _, e := range opts.Notify {
			fmt.Fprintf(&cfg, "    - name: %s\n      url: %s\n      timeout: 5s\n      threshold: 10\n      backoff: 200ms\n", e.Name, e.URL)
			if len(e.Headers) > 0 {
				cfg.WriteString("      headers:\n")
				for k, v := range e.Headers {
					fmt.Fprintf(&cfg, "        %s: [%q]\n", k, v)
				}
			}
		}
	}
	cfgFile := filepath.Join(dir, "config.yml")
	if err := os.WriteFile(cfgFile, []byte(cfg.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "serve", cfgFile)
	var logs bytes.Buffer
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting registry: %v", err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		if t.Failed() {
			t.Logf("registry log:\n%s", logs.String())
		}
	})
	r.waitReady(t, opts)
	return r
}

func (r *Registry) waitReady(t testing.TB, opts Options) {
	t.Helper()
	scheme := "http"
	client := &http.Client{Timeout: time.Second}
	if opts.TLS {
		scheme = "https"
		client.Transport = &http.Transport{TLSClientConfig: &tls.Config{RootCAs: r.CAPool}}
	}
	deadline := time.Now().Add(15 * time.Second)
	for time.Now().Before(deadline) {
		resp, err := client.Get(scheme + "://" + r.Host + "/v2/")
		if err == nil {
			resp.Body.Close()
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("registry on %s did not start", r.Host)
}

// FreePort returns a TCP port on 127.0.0.1 that was free a moment ago.
func FreePort(t testing.TB) int { return freePort(t) }

func freePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}
