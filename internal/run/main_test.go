package run_test

import (
	"fmt"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"

	"github.com/vishvananda/netlink"

	"github.com/drydockscan/drydock/internal/testutil/enginetest"
)

// inNetnsEnv marks the test process that runs inside its own network
// namespace.
const inNetnsEnv = "DRYDOCK_TEST_IN_NETNS"

// TestMain runs the package's tests inside a new network namespace with no
// uplink at all (only its loopback interface): whatever a sandbox or a bug
// in the observer does, no packet can leave the machine. As root the test
// binary re-executes itself there; otherwise the sandbox tests skip.
func TestMain(m *testing.M) {
	if os.Geteuid() == 0 && os.Getenv(inNetnsEnv) == "" && !fuzzing() {
		cmd := exec.Command("/proc/self/exe", os.Args[1:]...)
		cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
		cmd.Env = append(os.Environ(), inNetnsEnv+"=1")
		cmd.SysProcAttr = &syscall.SysProcAttr{Cloneflags: syscall.CLONE_NEWNET, Pdeathsig: syscall.SIGKILL}
		if err := cmd.Run(); err != nil {
			if ee, ok := err.(*exec.ExitError); ok {
				os.Exit(ee.ExitCode())
			}
			fmt.Fprintln(os.Stderr, "re-executing the tests in a network namespace:", err)
			os.Exit(2)
		}
		os.Exit(0)
	}
	if os.Getenv(inNetnsEnv) != "" {
		// The namespace's own loopback, for the "host" service the escape
		// tests try to reach.
		if lo, err := netlink.LinkByName("lo"); err == nil {
			_ = netlink.LinkSetUp(lo)
		}
	}
	code := m.Run()
	enginetest.Stop()
	os.Exit(code)
}

// fuzzing: the fuzz targets run no sandbox, and Go's fuzzing coordinator
// must stay the process the go command started.
func fuzzing() bool {
	for _, a := range os.Args[1:] {
		if strings.HasPrefix(a, "-test.fuzz") {
			return true
		}
	}
	return false
}

// isolated reports whether this process has no network interface but its
// loopback.
func isolated(t *testing.T) {
	t.Helper()
	links, err := netlink.LinkList()
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range links {
		if l.Attrs().Name != "lo" {
			t.Fatalf("the test's network namespace has interface %s: refusing to run a sandbox", l.Attrs().Name)
		}
	}
}
