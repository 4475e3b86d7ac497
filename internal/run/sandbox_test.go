package run_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/drydockscan/drydock/internal/run"
	"github.com/drydockscan/drydock/internal/run/sandbox"
	"github.com/drydockscan/drydock/internal/source"
)

const corpus = "../../../shared/corpus"

// needSandbox skips unless the sandbox can run here: root, an OCI runtime
// and the kernel features. DRYDOCK_REQUIRE_SANDBOX=1 turns the skip into a
// failure.
func needSandbox(t *testing.T) {
	t.Helper()
	skip := func(why string) {
		if os.Getenv("DRYDOCK_REQUIRE_SANDBOX") == "1" {
			t.Fatalf("sandbox required (DRYDOCK_REQUIRE_SANDBOX=1): %s", why)
		}
		t.Skip(why)
	}
	if os.Geteuid() != 0 {
		skip("the sandbox needs root")
	}
	if _, err := sandbox.FindRuntime(""); err != nil {
		skip(err.Error())
	}
	if err := sandbox.Check(sandbox.Needs{TUN: true}); err != nil {
		skip(err.Error())
	}
	isolated(t)
}

func openImage(t *testing.T, target string) *source.Image {
	t.Helper()
	img, err := source.Open(context.Background(), filepath.Join(corpus, target), source.Options{})
	if err != nil {
		t.Skipf("corpus image %s: %v", target, err)
	}
	t.Cleanup(func() { img.Close() })
	return img
}

func TestBusyboxRuns(t *testing.T) {
	needSandbox(t)
	img := openImage(t, "multiarch-busybox/oci")
	var pcap bytes.Buffer
	res, err := run.Run(context.Background(), img, run.Options{
		Tracer: run.TracerNone, Duration: 10 * time.Second, Pcap: &pcap,
		Command: []string{"sh", "-c", "id; echo written > /tmp/out; cat /etc/resolv.conf; nslookup pool.minexmr.com; nc -w 2 192.0.2.1 4444 </dev/null; echo done"},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("exit %+v setup %v ran %v rootfs %s", res.Exit, res.Setup, res.Ran, res.RootFS)
	t.Logf("stdout:\n%s\nstderr:\n%s", res.Output.Stdout, res.Output.Stderr)
	t.Logf("net %+v", res.Net)
	t.Logf("changes %+v", res.Changes)
	t.Logf("counters %+v listeners %+v", res.Counters, res.Listeners)
	_ = errors.New
	_ = exec.Command
}
