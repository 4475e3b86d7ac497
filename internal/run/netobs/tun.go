package netobs

import (
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"runtime"
	"strconv"
	"sync"
	"unsafe"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// TunName is the device's name inside the sandbox.
const TunName = "tun0"

// Observer is a running observer on a sandbox's TUN device.
type Observer struct {
	*Handler
	dev  *os.File
	done chan error
	once sync.Once
}

// Attach creates the TUN device in the network namespace of pid (a
// created, not yet started container), gives the sandbox its addresses and
// a default route through the device, and starts answering. pcap receives
// the capture (nil for none).
func Attach(pid int, pcap io.Writer) (*Observer, error) {
	h, err := NewHandler(pcap)
	if err != nil {
		return nil, err
	}
	dev, err := inNetns(pid, setup)
	if err != nil {
		return nil, fmt.Errorf("sandbox network: %w", err)
	}
	o := &Observer{Handler: h, dev: dev, done: make(chan error, 1)}
	go func() { o.done <- h.Serve(dev) }()
	return o, nil
}

// Close stops the observer and flushes the capture.
func (o *Observer) Close() error {
	var err error
	o.once.Do(func() {
		o.dev.Close()
		<-o.done
		err = o.Flush()
	})
	return err
}

// inNetns runs f on a thread moved into pid's network namespace, and
// moves the thread back. A thread that cannot be moved back is left
// locked, so the Go runtime discards it.
func inNetns(pid int, f func() (*os.File, error)) (*os.File, error) {
	type result struct {
		f   *os.File
		err error
	}
	ch := make(chan result, 1)
	go func() {
		runtime.LockOSThread()
		orig, err := os.Open("/proc/thread-self/ns/net")
		if err != nil {
			runtime.UnlockOSThread()
			ch <- result{nil, err}
			return
		}
		defer orig.Close()
		target, err := os.Open("/proc/" + strconv.Itoa(pid) + "/ns/net")
		if err != nil {
			runtime.UnlockOSThread()
			ch <- result{nil, fmt.Errorf("the sandbox's network namespace: %w", err)}
			return
		}
		defer target.Close()
		if err := unix.Setns(int(target.Fd()), unix.CLONE_NEWNET); err != nil {
			runtime.UnlockOSThread()
			ch <- result{nil, fmt.Errorf("entering the sandbox's network namespace: %w", err)}
			return
		}
		dev, ferr := f()
		if err := unix.Setns(int(orig.Fd()), unix.CLONE_NEWNET); err != nil {
			// Leave the thread locked: it dies with this goroutine.
			if dev != nil {
				dev.Close()
			}
			ch <- result{nil, fmt.Errorf("leaving the sandbox's network namespace: %w", err)}
			return
		}
		runtime.UnlockOSThread()
		ch <- result{dev, ferr}
	}()
	r := <-ch
	return r.f, r.err
}

type ifReq struct {
	Name  [unix.IFNAMSIZ]byte
	Flags uint16
	_     [22]byte
}

// setup runs inside the sandbox's namespace: it creates the device and
// its addresses and routes.
func setup() (*os.File, error) {
	fd, err := unix.Open("/dev/net/tun", unix.O_RDWR|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("opening /dev/net/tun: %w", err)
	}
	var req ifReq
	copy(req.Name[:], TunName)
	req.Flags = unix.IFF_TUN | unix.IFF_NO_PI
	if _, _, e := unix.Syscall(unix.SYS_IOCTL, uintptr(fd), uintptr(unix.TUNSETIFF), uintptr(unsafe.Pointer(&req))); e != 0 {
		unix.Close(fd)
		return nil, fmt.Errorf("creating %s: %w", TunName, e)
	}
	if err := unix.SetNonblock(fd, true); err != nil {
		unix.Close(fd)
		return nil, err
	}
	dev := os.NewFile(uintptr(fd), "/dev/net/tun")
	if err := configure(); err != nil {
		dev.Close()
		return nil, err
	}
	return dev, nil
}

func configure() error {
	lo, err := netlink.LinkByName("lo")
	if err != nil {
		return fmt.Errorf("lo: %w", err)
	}
	if err := netlink.LinkSetUp(lo); err != nil {
		return fmt.Errorf("lo up: %w", err)
	}
	tun, err := netlink.LinkByName(TunName)
	if err != nil {
		return fmt.Errorf("%s: %w", TunName, err)
	}
	if err := netlink.LinkSetMTU(tun, 1500); err != nil {
		return fmt.Errorf("%s mtu: %w", TunName, err)
	}
	a4 := &netlink.Addr{IPNet: &net.IPNet{IP: SandboxAddr.Addr().AsSlice(), Mask: net.CIDRMask(SandboxAddr.Bits(), 32)}}
	if err := netlink.AddrAdd(tun, a4); err != nil {
		return fmt.Errorf("%s address: %w", TunName, err)
	}
	a6 := &netlink.Addr{IPNet: &net.IPNet{IP: SandboxAddr6.Addr().AsSlice(), Mask: net.CIDRMask(SandboxAddr6.Bits(), 128)}, Flags: unix.IFA_F_NODAD}
	// IPv6 may be disabled in the kernel; then only IPv4 is observed.
	v6 := netlink.AddrAdd(tun, a6) == nil
	if err := netlink.LinkSetUp(tun); err != nil {
		return fmt.Errorf("%s up: %w", TunName, err)
	}
	idx := tun.Attrs().Index
	if err := netlink.RouteAdd(&netlink.Route{LinkIndex: idx, Scope: netlink.SCOPE_LINK, Dst: &net.IPNet{IP: net.IPv4zero, Mask: net.CIDRMask(0, 32)}}); err != nil {
		return fmt.Errorf("default route: %w", err)
	}
	if v6 {
		if err := netlink.RouteAdd(&netlink.Route{LinkIndex: idx, Scope: netlink.SCOPE_LINK, Dst: &net.IPNet{IP: net.IPv6zero, Mask: net.CIDRMask(0, 128)}}); err != nil && !errors.Is(err, unix.EEXIST) {
			return fmt.Errorf("default IPv6 route: %w", err)
		}
	}
	return nil
}
