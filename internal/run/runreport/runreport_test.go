package runreport_test

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/drydockscan/drydock/internal/finding"
	"github.com/drydockscan/drydock/internal/run"
	"github.com/drydockscan/drydock/internal/run/netobs"
	"github.com/drydockscan/drydock/internal/run/rules"
	"github.com/drydockscan/drydock/internal/run/runreport"
	"github.com/drydockscan/drydock/internal/run/sandbox"
	"github.com/drydockscan/drydock/internal/run/trace"
)

var update = flag.Bool("update", false, "rewrite the golden files")

// result is a run as the sandbox would record it: a shell script that
// spawns a shell, writes /etc/passwd (refused), resolves a pool and
// connects to it.
func result() *run.Result {
	t0 := time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)
	at := func(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }
	names := map[string]string{"198.18.0.1": "pool.minexmr.com"}
	return &run.Result{
		Runtime: "runc", Tracer: "ptrace", Network: run.NetworkObserve, RootFS: "overlay",
		Args: []string{"/bin/sh", "/bad.sh"}, User: sandbox.User{UID: 65534, GID: 65534, Home: "/"},
		Exposed: []string{"8080/tcp"}, Started: t0, Setup: 812 * time.Millisecond, Ran: 303 * time.Millisecond,
		Exit: sandbox.Exit{Code: 0},
		Events: []trace.Event{
			{Time: at(1), Kind: trace.KindExec, PID: 10, PPID: 1, UID: 65534, Path: "/bin/sh", Argv: []string{"/bin/sh", "/bad.sh"}},
			{Time: at(2), Kind: trace.KindExec, PID: 11, PPID: 10, UID: 65534, Path: "/bin/sh", Argv: []string{"sh", "-c", "id"}},
			{Time: at(3), Kind: trace.KindExit, PID: 11, Result: 0},
			{Time: at(4), Kind: trace.KindOpen, PID: 10, UID: 65534, Path: "/etc/passwd", Access: "write", Result: -13},
			{Time: at(5), Kind: trace.KindConnect, PID: 12, PPID: 10, UID: 65534, Proto: "tcp", Addr: "198.18.0.1", Port: 4444, Result: -111},
			{Time: at(6), Kind: trace.KindListen, PID: 13, PPID: 10, UID: 65534, Proto: "tcp", Addr: "0.0.0.0", Port: 2222},
		},
		Net: netobs.Result{
			DNS:      []netobs.DNSQuery{{Time: at(5), Name: "pool.minexmr.com", Type: "A", Answer: "198.18.0.1"}},
			Attempts: []netobs.Attempt{{Time: at(5), Proto: "tcp", Address: "198.18.0.1", Port: 4444, Name: "pool.minexmr.com", Packets: 1}},
			Packets:  4,
		},
		Changes:  []sandbox.Change{{Path: "/tmp/x", Op: "created", Type: "file", Size: 3}},
		Counters: sandbox.Counters{CPUSeconds: 0.12},
		Limits:   sandbox.DefaultLimits,
		Output:   sandbox.Output{Stdout: []byte("uid=65534\n")},
		Setuid:   map[string]bool{},
		NameOf:   func(a string) string { return names[a] },
	}
}

func build(t *testing.T) *runreport.Report {
	t.Helper()
	set, err := rules.Default()
	if err != nil {
		t.Fatal(err)
	}
	rep := runreport.Build(runreport.Tool{Name: "drydock", Version: "test"}, runreport.Target{Ref: "oci:bad", Platform: "linux/amd64"}, result(), set,
		[]run.InUse{{Type: "deb", Name: "dash", Version: "0.5.12-2", Path: "/var/lib/dpkg/status", Evidence: "/bin/sh", How: "owned-file"}}, 30*time.Second)
	rep.Apply(finding.High)
	return rep
}

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	p := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(p, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(p)
	if err != nil {
		t.Fatalf("%v (run with -update)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the golden file (run with -update after checking):\n%s", name, got)
	}
}

// TestGolden: the JSON and table reports of a known run.
func TestGolden(t *testing.T) {
	rep := build(t)
	for _, f := range []string{"json", "table"} {
		var b bytes.Buffer
		if err := runreport.Write(&b, f, rep); err != nil {
			t.Fatal(err)
		}
		golden(t, "run."+f, b.Bytes())
	}
}

// TestReportContent checks what the golden file must say, independently:
// each alert's evidence, the tree, the gate.
func TestReportContent(t *testing.T) {
	rep := build(t)
	fired := map[string]rules.Alert{}
	for _, a := range rep.Alerts {
		fired[a.Rule] = a
	}
	if a := fired["shell_spawned"]; a.Evidence.PID != 11 || strings.Join(a.Evidence.Argv, " ") != "sh -c id" || a.Evidence.Parent != "sh" {
		t.Errorf("shell_spawned %+v", a)
	}
	if a := fired["write_below_system_dir"]; a.Evidence.Path != "/etc/passwd" || a.Evidence.Error != "EACCES" {
		t.Errorf("write_below_system_dir %+v", a)
	}
	if a := fired["mining_pool_port"]; a.Evidence.Name != "pool.minexmr.com" || a.Evidence.PID != 12 || a.Count != 2 {
		t.Errorf("mining_pool_port %+v", a)
	}
	if a := fired["listen_port_not_exposed"]; a.Evidence.Port != 2222 {
		t.Errorf("listen_port_not_exposed %+v", a)
	}
	if _, ok := fired["mining_pool_dns"]; !ok {
		t.Error("mining_pool_dns did not fire")
	}
	if len(rep.Processes) != 1 || len(rep.Processes[0].Children) != 3 {
		t.Errorf("process tree %+v", rep.Processes)
	}
	if rep.Gate == nil || !rep.Gate.Failed || rep.Gate.Failing < 3 {
		t.Errorf("gate %+v", rep.Gate)
	}
	var html bytes.Buffer
	if err := runreport.Write(&html, "html", rep); err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{"mining_pool_dns", "pool.minexmr.com", "refused: EACCES", "<!DOCTYPE html>"} {
		if !strings.Contains(html.String(), s) {
			t.Errorf("HTML lacks %q", s)
		}
	}
	b, _ := json.Marshal(rep)
	for _, k := range []string{`"alerts"`, `"processes"`, `"files"`, `"network"`, `"dns"`, `"connections"`, `"listening"`, `"packages_in_use"`, `"tracer"`} {
		if !bytes.Contains(b, []byte(k)) {
			t.Errorf("JSON lacks %s", k)
		}
	}
}
