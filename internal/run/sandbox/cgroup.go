package sandbox

import (
	"bufio"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// Counters are what the container's cgroup recorded: the limits it hit.
type Counters struct {
	// OOMKills counts processes the kernel killed at the memory limit.
	OOMKills int64 `json:"oom_kills"`
	// MemoryPeakBytes is the highest memory use, when the kernel says.
	MemoryPeakBytes int64 `json:"memory_peak_bytes,omitempty"`
	// PidsLimitHits counts forks refused at the pid limit.
	PidsLimitHits int64 `json:"pids_limit_hits"`
	// CPUSeconds is the CPU time used.
	CPUSeconds float64 `json:"cpu_seconds"`
}

// cgroupDirs are the container's cgroup directories: the cgroup v2 one
// and, on hosts with cgroup v1 controllers, the memory, pids and cpuacct
// ones.
type cgroupDirs struct {
	unified, memory, pids, cpuacct string
}

type mountPoint struct {
	dir  string
	opts []string
	v2   bool
}

func cgroupMounts() []mountPoint {
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return nil
	}
	defer f.Close()
	var out []mountPoint
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		// id parent maj:min root mountpoint opts ... - fstype source superopts
		line := sc.Text()
		pre, post, ok := strings.Cut(line, " - ")
		if !ok {
			continue
		}
		pf, qf := strings.Fields(pre), strings.Fields(post)
		if len(pf) < 5 || len(qf) < 3 {
			continue
		}
		switch qf[0] {
		case "cgroup2":
			out = append(out, mountPoint{dir: pf[4], v2: true})
		case "cgroup":
			out = append(out, mountPoint{dir: pf[4], opts: strings.Split(qf[2], ",")})
		}
	}
	return out
}

// CgroupV2Root is the cgroup v2 mount point, or "".
func CgroupV2Root() string {
	for _, m := range cgroupMounts() {
		if m.v2 {
			return m.dir
		}
	}
	return ""
}

// cgroupV1Root is the mount point of the v1 hierarchy with controller c.
func cgroupV1Root(c string) string {
	for _, m := range cgroupMounts() {
		for _, o := range m.opts {
			if o == c {
				return m.dir
			}
		}
	}
	return ""
}

func findCgroups(pid int) cgroupDirs {
	var d cgroupDirs
	f, err := os.Open(filepath.Join("/proc", strconv.Itoa(pid), "cgroup"))
	if err != nil {
		return d
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		parts := strings.SplitN(sc.Text(), ":", 3)
		if len(parts) != 3 {
			continue
		}
		ctrls, p := parts[1], parts[2]
		if ctrls == "" {
			if r := CgroupV2Root(); r != "" && p != "/" {
				d.unified = filepath.Join(r, p)
			}
			continue
		}
		for _, c := range strings.Split(ctrls, ",") {
			var dst *string
			switch c {
			case "memory":
				dst = &d.memory
			case "pids":
				dst = &d.pids
			case "cpuacct":
				dst = &d.cpuacct
			default:
				continue
			}
			if r := cgroupV1Root(c); r != "" {
				*dst = filepath.Join(r, p)
			}
		}
	}
	return d
}

// keyed reads "key value" lines.
func keyed(path string) map[string]int64 {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil
	}
	out := map[string]int64{}
	for _, line := range strings.Split(string(b), "\n") {
		k, v, ok := strings.Cut(strings.TrimSpace(line), " ")
		if !ok {
			continue
		}
		if n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64); err == nil {
			out[k] = n
		}
	}
	return out
}

func single(path string) (int64, bool) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, false
	}
	n, err := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
	return n, err == nil
}

func (d cgroupDirs) counters() Counters {
	var c Counters
	// cgroup v2, where the controllers are enabled there.
	if d.unified != "" {
		if ev := keyed(filepath.Join(d.unified, "memory.events")); ev != nil {
			c.OOMKills = ev["oom_kill"]
		}
		if n, ok := single(filepath.Join(d.unified, "memory.peak")); ok {
			c.MemoryPeakBytes = n
		}
		if ev := keyed(filepath.Join(d.unified, "pids.events")); ev != nil {
			c.PidsLimitHits = ev["max"]
		}
		if st := keyed(filepath.Join(d.unified, "cpu.stat")); st != nil {
			c.CPUSeconds = float64(st["usage_usec"]) / 1e6
		}
	}
	// cgroup v1 controllers.
	if d.memory != "" {
		if ev := keyed(filepath.Join(d.memory, "memory.oom_control")); ev != nil {
			c.OOMKills = max(c.OOMKills, ev["oom_kill"])
		}
		if n, ok := single(filepath.Join(d.memory, "memory.max_usage_in_bytes")); ok {
			c.MemoryPeakBytes = max(c.MemoryPeakBytes, n)
		}
	}
	if d.pids != "" {
		if ev := keyed(filepath.Join(d.pids, "pids.events")); ev != nil {
			c.PidsLimitHits = max(c.PidsLimitHits, ev["max"])
		}
	}
	if d.cpuacct != "" && c.CPUSeconds == 0 {
		if n, ok := single(filepath.Join(d.cpuacct, "cpuacct.usage")); ok {
			c.CPUSeconds = float64(n) / 1e9
		}
	}
	return c
}

// Cgroups are a process's cgroup directories, found while it lives; their
// counters can be read as long as the cgroups exist.
type Cgroups struct{ d cgroupDirs }

// CgroupsOf finds the cgroup directories of pid.
func CgroupsOf(pid int) Cgroups { return Cgroups{findCgroups(pid)} }

// V2Path is the cgroup v2 directory ("" when there is none, or it is the
// root).
func (c Cgroups) V2Path() string { return c.d.unified }

// Counters reads the cgroups' counters (zero once they are gone).
func (c Cgroups) Counters() Counters { return c.d.counters() }
