package run_test

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/drydockscan/drydock/internal/cli"
)

func drydock(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := cli.Run(context.Background(), args, cli.Env{Stdout: &out, Stderr: &errb, Getenv: func(string) string { return "" }})
	return code, out.String(), errb.String()
}

// TestRunCommand runs drydock run end to end on the misbehaving image
// without a tracer: the observer's and the copy-on-write layer's facts
// still fire their rules, the gate fails with exit 1, and the JSON report
// has the documented fields; --allow-net silences the outbound rule for
// the allowed address.
func TestRunCommand(t *testing.T) {
	needSandbox(t)
	img := buildImage(t, map[string]string{"bad.sh": badScript, "etc/shadow": "root:*:19000:0:99999:7:::\n"},
		map[string]int64{"etc/shadow": 0o640}, []string{"/bin/sh", "/bad.sh"}, "")
	dir := t.TempDir()
	jsonPath := filepath.Join(dir, "run.json")
	htmlPath := filepath.Join(dir, "run.html")
	pcap := filepath.Join(dir, "run.pcapng")
	events := filepath.Join(dir, "events.jsonl")
	code, out, errOut := drydock(t, "run", img.Ref, "--tracer", "none", "--duration", "10s", "-o", "json="+jsonPath, "-o", "table", "-o", "html="+htmlPath,
		"--pcap", pcap, "--events", events, "--fail-on", "high")
	if code != cli.ExitPolicy {
		t.Fatalf("exit %d, want %d\n%s\n%s", code, cli.ExitPolicy, out, errOut)
	}
	if !strings.Contains(out, "ALERTS") || !strings.Contains(out, "mining_pool_dns") {
		t.Errorf("table:\n%s", out)
	}
	var rep map[string]json.RawMessage
	b, err := os.ReadFile(jsonPath)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &rep); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"alerts", "processes", "files", "network", "packages_in_use", "tracer", "run", "gate"} {
		if _, ok := rep[k]; !ok {
			t.Errorf("JSON report lacks %q", k)
		}
	}
	var body struct {
		Tracer string `json:"tracer"`
		Alerts []struct {
			Rule     string `json:"rule"`
			Severity string `json:"severity"`
			Evidence struct {
				Address string `json:"address"`
				Port    int    `json:"port"`
				Name    string `json:"name"`
				Path    string `json:"path"`
			} `json:"evidence"`
		} `json:"alerts"`
		Network struct {
			DNS         []struct{ Name string } `json:"dns"`
			Connections []struct {
				Address string `json:"address"`
				Port    int    `json:"port"`
			} `json:"connections"`
			Listening []any `json:"listening"`
		} `json:"network"`
		Files struct {
			Written []struct{ Path, Access string } `json:"written"`
		} `json:"files"`
		Gate struct {
			Failed  bool `json:"failed"`
			Failing int  `json:"failing"`
		} `json:"gate"`
	}
	if err := json.Unmarshal(b, &body); err != nil {
		t.Fatal(err)
	}
	if body.Tracer != "none" || !body.Gate.Failed || body.Gate.Failing == 0 {
		t.Errorf("tracer %q gate %+v", body.Tracer, body.Gate)
	}
	rulesFired := map[string]bool{}
	for _, a := range body.Alerts {
		rulesFired[a.Rule] = true
	}
	for _, r := range []string{"mining_pool_dns", "mining_pool_port", "outbound_connection_not_allowed", "write_below_system_dir"} {
		if !rulesFired[r] {
			t.Errorf("rule %s did not fire: %+v", r, body.Alerts)
		}
	}
	if len(body.Network.Connections) != 1 || body.Network.Connections[0].Address != "192.0.2.1" || body.Network.Connections[0].Port != 4444 {
		t.Errorf("connections %+v", body.Network.Connections)
	}
	if h, err := os.ReadFile(htmlPath); err != nil || !bytes.Contains(h, []byte("mining_pool_dns")) {
		t.Errorf("HTML report: %v", err)
	}
	if st, err := os.Stat(pcap); err != nil || st.Size() == 0 {
		t.Errorf("pcap: %v", err)
	}
	if _, err := os.Stat(events); err != nil {
		t.Errorf("events file: %v", err)
	}

	// --allow-net: the address is allowed, the mining port still is one.
	code, out, errOut = drydock(t, "run", img.Ref, "--tracer", "none", "-o", "json", "--allow-net", "192.0.2.0/24", "--packages-in-use=false")
	if code != 0 {
		t.Fatalf("exit %d\n%s", code, errOut)
	}
	if strings.Contains(out, "outbound_connection_not_allowed") || !strings.Contains(out, "mining_pool_port") {
		t.Errorf("with --allow-net:\n%s", out)
	}
}

// TestRunCommandNoDockerEngine: --runtime docker without an engine at
// --docker-host exits 2 naming the socket.
func TestRunCommandNoDockerEngine(t *testing.T) {
	sock := "unix://" + filepath.Join(t.TempDir(), "docker.sock")
	code, out, errOut := drydock(t, "run", filepath.Join(corpus, "multiarch-busybox", "oci"), "--runtime", "docker", "--docker-host", sock,
		"--tracer", "none", "--network", "none", "--packages-in-use=false")
	if code != cli.ExitError || !strings.Contains(errOut, "no Docker engine at "+sock) {
		t.Fatalf("exit %d, want %d naming %s\n%s\n%s", code, cli.ExitError, sock, out, errOut)
	}
}
