package sandbox

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"
)

// FindRuntime returns the runtime binary: name may be "runc", "crun", a
// path, or "" for the first of runc and crun on PATH.
func FindRuntime(name string) (string, error) {
	if name == "" || name == "auto" {
		for _, n := range []string{"runc", "crun"} {
			if p, err := exec.LookPath(n); err == nil {
				return p, nil
			}
		}
		return "", fmt.Errorf("%w: no OCI runtime: neither runc nor crun is on PATH (install the Debian package runc or crun, or give --runtime PATH)", ErrMissing)
	}
	p, err := exec.LookPath(name)
	if err != nil {
		return "", fmt.Errorf("%w: OCI runtime %q not found (install the Debian package %s, or give --runtime PATH): %v", ErrMissing, name, filepath.Base(name), err)
	}
	return p, nil
}

// Needs says what a run needs from the host.
type Needs struct {
	// TUN is needed by the observed network.
	TUN bool
}

// Check tells, in one error naming every missing piece, what the host
// lacks to run a sandbox: root, user namespaces, the cgroup controllers
// for the limits, seccomp, and /dev/net/tun for an observed network.
func Check(n Needs) error {
	var missing []string
	if os.Geteuid() != 0 {
		missing = append(missing, "root (drydock run creates namespaces, cgroups and a network device; run it as root)")
	}
	if _, err := os.Stat("/proc/self/ns/user"); err != nil {
		missing = append(missing, "user namespaces (kernel built without CONFIG_USER_NS)")
	} else if b, err := os.ReadFile("/proc/sys/user/max_user_namespaces"); err == nil && strings.TrimSpace(string(b)) == "0" {
		missing = append(missing, "user namespaces (/proc/sys/user/max_user_namespaces is 0)")
	}
	missing = append(missing, missingControllers()...)
	if !seccompAvailable() {
		missing = append(missing, "seccomp filters (kernel built without CONFIG_SECCOMP_FILTER)")
	}
	if n.TUN {
		if st, err := os.Stat("/dev/net/tun"); err != nil || st.Mode()&fs.ModeCharDevice == 0 {
			missing = append(missing, "/dev/net/tun (the tun module) for --network observe; --network none runs without it")
		}
	}
	if len(missing) == 0 {
		return nil
	}
	return fmt.Errorf("%w: %s", ErrMissing, strings.Join(missing, "; "))
}

// missingControllers names the cgroup controllers the limits need that the
// host does not offer, in cgroup v2 or v1.
func missingControllers() []string {
	want := []string{"memory", "pids", "cpu"}
	v2 := map[string]bool{}
	if r := CgroupV2Root(); r != "" {
		if b, err := os.ReadFile(filepath.Join(r, "cgroup.controllers")); err == nil {
			for _, c := range strings.Fields(string(b)) {
				v2[c] = true
			}
		}
	}
	var out []string
	for _, c := range want {
		if v2[c] || cgroupV1Root(c) != "" {
			continue
		}
		out = append(out, fmt.Sprintf("the %s cgroup controller (neither cgroup v2 nor v1 offers it)", c))
	}
	return out
}

func seccompAvailable() bool {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return false
	}
	return strings.Contains(string(b), "\nSeccomp:")
}

// Overlay mounts an overlay file system at merged: lower read-only, upper
// and work in the run's directory.
func Overlay(lower, upper, work, merged string) error {
	opts := "lowerdir=" + lower + ",upperdir=" + upper + ",workdir=" + work
	if err := unix.Mount("overlay", merged, "overlay", unix.MS_NODEV, opts); err != nil {
		return fmt.Errorf("mounting overlay at %s: %w", merged, err)
	}
	return nil
}

// Unmount detaches a mount.
func Unmount(dir string) error {
	err := unix.Unmount(dir, unix.MNT_DETACH)
	if errors.Is(err, unix.EINVAL) || errors.Is(err, unix.ENOENT) {
		return nil
	}
	return err
}

// Change is one file-system change the container made, from the overlay's
// upper directory.
type Change struct {
	Path string `json:"path"`
	// Op is "created", "modified" or "deleted".
	Op   string `json:"op"`
	Type string `json:"type"` // "file", "dir", "symlink", "other"
	Size int64  `json:"size,omitempty"`
}

// Changes lists what the container changed: every entry of upper, with
// overlay's whiteouts (0:0 character devices) as deletions. lower tells
// created from modified. At most max changes are returned.
func Changes(upper, lower string, limit int, skip map[string]bool) ([]Change, bool, error) {
	// The lower directory is looked at through os.Root: a path the
	// container chose must not make drydock look at the host's files.
	lowerRoot, err := os.OpenRoot(lower)
	if err != nil {
		return nil, false, err
	}
	defer lowerRoot.Close()
	var out []Change
	truncated := false
	err = filepath.WalkDir(upper, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(upper, p)
		if rel == "." {
			return nil
		}
		abs := "/" + filepath.ToSlash(rel)
		if skip[abs] {
			return nil
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		c := Change{Path: abs}
		switch {
		case info.Mode()&fs.ModeCharDevice != 0:
			if st, ok := info.Sys().(*unix.Stat_t); ok && st.Rdev == 0 {
				c.Op, c.Type = "deleted", "file"
			} else {
				c.Type = "other"
			}
		case info.IsDir():
			c.Type = "dir"
		case info.Mode()&fs.ModeSymlink != 0:
			c.Type = "symlink"
		case info.Mode().IsRegular():
			c.Type, c.Size = "file", info.Size()
		default:
			c.Type = "other"
		}
		if c.Op == "" {
			if _, err := lowerRoot.Lstat(rel); err == nil {
				if c.Type == "dir" {
					// A directory copied up for a change below it.
					return nil
				}
				c.Op = "modified"
			} else {
				c.Op = "created"
			}
		}
		if len(out) >= limit {
			truncated = true
			return fs.SkipAll
		}
		out = append(out, c)
		return nil
	})
	return out, truncated, err
}
