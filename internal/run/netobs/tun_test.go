//go:build linux

package netobs_test

import (
	"errors"
	"net"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/drydockscan/drydock/internal/run/netobs"
)

// TestObserverInNamespace: the observer on a real TUN device in a network
// namespace of its own, with the kernel's own sockets on the other side:
// over IPv4 and IPv6, a TCP connect and a datagram on a connected UDP
// socket are refused at once (the reset and the ICMP or ICMPv6 port
// unreachable are packets the kernel accepts), and both attempts are
// recorded.
func TestObserverInNamespace(t *testing.T) {
	if os.Geteuid() != 0 {
		if os.Getenv("DRYDOCK_REQUIRE_SANDBOX") != "" {
			t.Fatal("the observer test needs root (DRYDOCK_REQUIRE_SANDBOX is set)")
		}
		t.Skip("the observer test needs root")
	}
	holder := exec.Command("unshare", "--net", "sleep", "60")
	if err := holder.Start(); err != nil {
		t.Fatalf("unshare: %v", err)
	}
	t.Cleanup(func() { _ = holder.Process.Kill(); _ = holder.Wait() })
	pid := holder.Process.Pid
	own, _ := os.Readlink("/proc/self/ns/net")
	deadline := time.Now().Add(10 * time.Second)
	for {
		ns, err := os.Readlink("/proc/" + strconv.Itoa(pid) + "/ns/net")
		if err == nil && ns != own {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("pid %d never entered a network namespace of its own", pid)
		}
		time.Sleep(10 * time.Millisecond)
	}
	o, err := netobs.Attach(pid, nil)
	if err != nil {
		t.Fatalf("attach: %v", err)
	}
	defer o.Close()

	targets := []struct{ network, addr string }{
		{"tcp4", "192.0.2.1:4444"},
		{"udp4", "192.0.2.1:9999"},
		{"tcp6", "[2001:db8::1]:4444"},
		{"udp6", "[2001:db8::1]:9999"},
	}
	errs := make(chan []error, 1)
	go func() {
		// Never unlocked: the thread ends in the sandbox's namespace, and
		// with this goroutine.
		runtime.LockOSThread()
		f, err := os.Open("/proc/" + strconv.Itoa(pid) + "/ns/net")
		if err == nil {
			err = unix.Setns(int(f.Fd()), unix.CLONE_NEWNET)
			f.Close()
		}
		if err != nil {
			errs <- []error{err}
			return
		}
		var out []error
		for _, tg := range targets {
			out = append(out, refusedWithin(tg.network, tg.addr, 3*time.Second))
		}
		errs <- out
	}()
	for i, err := range <-errs {
		if err != nil {
			t.Errorf("%s %s: %v", targets[i].network, targets[i].addr, err)
		}
	}
	if err := o.Close(); err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, a := range o.Result().Attempts {
		seen[a.Proto+" "+net.JoinHostPort(a.Address, strconv.Itoa(a.Port))] = true
	}
	for _, want := range []string{"tcp 192.0.2.1:4444", "udp 192.0.2.1:9999", "tcp6 [2001:db8::1]:4444", "udp6 [2001:db8::1]:9999"} {
		if !seen[want] {
			t.Errorf("attempt %s not recorded: %+v", want, o.Result().Attempts)
		}
	}
}

// refusedWithin connects (TCP) or sends a datagram on a connected socket
// and reads (UDP); nil when the kernel reports the connection refused
// before the deadline.
func refusedWithin(network, addr string, d time.Duration) error {
	c, err := net.DialTimeout(network, addr, d)
	if err != nil {
		if errors.Is(err, syscall.ECONNREFUSED) {
			return nil
		}
		return err
	}
	defer c.Close()
	if network == "tcp4" || network == "tcp6" {
		return errors.New("connected, want refused")
	}
	_ = c.SetDeadline(time.Now().Add(d))
	if _, err := c.Write([]byte("x")); err != nil {
		if errors.Is(err, syscall.ECONNREFUSED) {
			return nil
		}
		return err
	}
	_, err = c.Read(make([]byte, 16))
	if errors.Is(err, syscall.ECONNREFUSED) {
		return nil
	}
	if err == nil {
		return errors.New("a reply, want refused")
	}
	return err
}
