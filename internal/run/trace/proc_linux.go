//go:build linux && (amd64 || arm64)

package trace

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"path"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// atFDCWD is AT_FDCWD as a syscall argument register holds it.
const atFDCWD = uint64(0xffffffffffffff9c) // -100

// resolvePath makes a path a process named absolute, against its working
// directory or the directory fd dirfd (-1: the working directory), and
// relative to the process's own root (a container's rootfs), as the
// process sees it. It returns p unchanged when /proc cannot tell.
func resolvePath(tid int, dirfd int64, p string) string {
	if p == "" || strings.HasPrefix(p, "/") {
		return p
	}
	var base string
	var err error
	if dirfd < 0 {
		base, err = os.Readlink(fmt.Sprintf("/proc/%d/cwd", tid))
	} else {
		base, err = os.Readlink(fmt.Sprintf("/proc/%d/fd/%d", tid, dirfd))
	}
	if err != nil || !strings.HasPrefix(base, "/") {
		return p
	}
	return path.Join(inRoot(tid, base), p)
}

// inRoot turns a host path from /proc (a link's target) into the path the
// process sees when its root is not the host's.
func inRoot(tid int, hostPath string) string {
	root, err := os.Readlink(fmt.Sprintf("/proc/%d/root", tid))
	if err != nil || root == "/" {
		return hostPath
	}
	if hostPath == root {
		return "/"
	}
	if strings.HasPrefix(hostPath, root+"/") {
		return hostPath[len(root):]
	}
	return hostPath
}

// fdPath is the path of a process's open file, as the process sees it.
func fdPath(tid int, fd int64) string {
	p, err := os.Readlink(fmt.Sprintf("/proc/%d/fd/%d", tid, fd))
	if err != nil {
		return ""
	}
	if strings.HasPrefix(p, "/") {
		return inRoot(tid, p)
	}
	return p
}

// fdStdin classifies a live process's fd 0.
func fdStdin(tid int) string {
	var st unix.Stat_t
	if err := unix.Stat(fmt.Sprintf("/proc/%d/fd/0", tid), &st); err != nil {
		return "closed"
	}
	return stdinKind(st.Mode, unix.Major(st.Rdev), unix.Minor(st.Rdev))
}

// procStatus is what /proc/TID/status says of a thread.
type procStatus struct {
	tgid, ppid int
	uid        int // real uid, as the host sees it
	tracer     int // TracerPid: the tracing thread's tid, 0 when not traced
}

func readStatus(tid int) (procStatus, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", tid))
	if err != nil {
		return procStatus{}, err
	}
	var s procStatus
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if !ok {
			continue
		}
		f := strings.Fields(v)
		if len(f) == 0 {
			continue
		}
		n, _ := strconv.Atoi(f[0])
		switch k {
		case "Tgid":
			s.tgid = n
		case "PPid":
			s.ppid = n
		case "Uid":
			s.uid = n
		case "TracerPid":
			s.tracer = n
		}
	}
	if s.tgid == 0 {
		return s, fmt.Errorf("/proc/%d/status: no Tgid", tid)
	}
	return s, nil
}

func readComm(tid int) string {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/comm", tid))
	if err != nil {
		return ""
	}
	return strings.TrimSuffix(string(b), "\n")
}

// idMap maps host user ids to the ids of a user namespace
// (/proc/PID/uid_map).
type idMap []struct{ inside, outside, count uint32 }

func readIDMap(pid int) idMap {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/uid_map", pid))
	if err != nil {
		return nil
	}
	var m idMap
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) != 3 {
			continue
		}
		in, e1 := strconv.ParseUint(f[0], 10, 32)
		out, e2 := strconv.ParseUint(f[1], 10, 32)
		n, e3 := strconv.ParseUint(f[2], 10, 32)
		if e1 != nil || e2 != nil || e3 != nil {
			continue
		}
		m = append(m, struct{ inside, outside, count uint32 }{uint32(in), uint32(out), uint32(n)})
	}
	return m
}

// toNS maps a host uid into the namespace; ids with no mapping are the
// overflow uid 65534, as the kernel shows them. A nil map is the identity.
func (m idMap) toNS(hostUID int) int {
	if m == nil {
		return hostUID
	}
	u := uint32(hostUID)
	for _, r := range m {
		if u >= r.outside && u-r.outside < r.count {
			return int(r.inside + (u - r.outside))
		}
	}
	return 65534
}
