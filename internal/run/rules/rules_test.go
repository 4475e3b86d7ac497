package rules_test

import (
	"io"
	"strings"
	"testing"
	"time"

	"github.com/drydockscan/drydock/internal/finding"
	"github.com/drydockscan/drydock/internal/run/rules"
)

var t0 = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

// TestDefaultRules: each default rule fires on the event it is about and
// not on its near miss.
func TestDefaultRules(t *testing.T) {
	set, err := rules.Default()
	if err != nil {
		t.Fatal(err)
	}
	exec := func(name string, argv ...string) rules.Event {
		return rules.Event{Source: rules.SourceTrace, Type: "exec", PID: 7, PPID: 1, Name: name, Exe: "/bin/" + name, Argv: append([]string{name}, argv...), HasResult: true}
	}
	cases := []struct {
		name string
		ev   rules.Event
		want string // "" = no rule
	}{
		{"shell spawned", exec("bash", "-c", "id"), "shell_spawned"},
		{"entrypoint shell", func() rules.Event { e := exec("sh", "/entry.sh"); e.Entrypoint = true; return e }(), ""},
		{"not a shell", exec("python3", "app.py"), ""},
		{"write /etc/passwd", rules.Event{Source: rules.SourceTrace, Type: "open", Path: "/etc/passwd", Access: "write", HasResult: true, Result: -13}, "write_below_system_dir"},
		{"write /usr/bin/x (files)", rules.Event{Source: rules.SourceFiles, Type: rules.TypeFileWritten, Path: "/usr/bin/x", Access: "created"}, "write_below_system_dir"},
		{"delete /bin/ls", rules.Event{Source: rules.SourceFiles, Type: rules.TypeFileDeleted, Path: "/bin/ls", Access: "deleted"}, "write_below_system_dir"},
		{"write /etcetera", rules.Event{Source: rules.SourceTrace, Type: "open", Path: "/etcetera/x", Access: "write"}, ""},
		{"read /etc/passwd", rules.Event{Source: rules.SourceTrace, Type: "open", Path: "/etc/passwd", Access: "read"}, ""},
		{"read /etc/shadow", rules.Event{Source: rules.SourceTrace, Type: "open", Path: "/etc/shadow", Access: "read"}, "read_sensitive_file"},
		{"read a key", rules.Event{Source: rules.SourceTrace, Type: "open", Path: "/app/config/tls.key", Access: "read"}, "read_sensitive_file"},
		{"read ssh key", rules.Event{Source: rules.SourceTrace, Type: "open", Path: "/root/.ssh/id_ed25519", Access: "read"}, "read_sensitive_file"},
		{"read a certificate", rules.Event{Source: rules.SourceTrace, Type: "open", Path: "/etc/ssl/certs/ca.pem", Access: "read"}, ""},
		{"connect out", rules.Event{Source: rules.SourceNetwork, Type: "connect", Proto: "tcp", Addr: "203.0.113.9", Port: 443}, "outbound_connection_not_allowed"},
		{"connect loopback", rules.Event{Source: rules.SourceTrace, Type: "connect", Proto: "tcp", Addr: "127.0.0.1", Port: 5432, Local: true}, ""},
		{"dns to resolver", rules.Event{Source: rules.SourceTrace, Type: "connect", Proto: "udp", Addr: "169.254.89.1", Port: 53, Resolver: true}, ""},
		{"unix socket", rules.Event{Source: rules.SourceTrace, Type: "connect", Proto: "unix", Addr: "/run/x.sock", Local: true}, ""},
		{"listen unexposed", rules.Event{Source: rules.SourceNetwork, Type: "listen", Proto: "tcp", Port: 2222}, "listen_port_not_exposed"},
		{"listen exposed", rules.Event{Source: rules.SourceNetwork, Type: "listen", Proto: "tcp", Port: 8080, Exposed: true}, ""},
		{"apt-get", exec("apt-get", "install", "-y", "curl"), "package_manager_run"},
		{"setuid", func() rules.Event { e := exec("su"); e.ExeSetuid = true; return e }(), "setuid_binary_executed"},
		{"mining dns", rules.Event{Source: rules.SourceNetwork, Type: rules.TypeDNS, DNSName: "pool.supportxmr.com"}, "mining_pool_dns"},
		{"ordinary dns", rules.Event{Source: rules.SourceNetwork, Type: rules.TypeDNS, DNSName: "api.github.com"}, ""},
		{"reverse shell", func() rules.Event { e := exec("sh", "-i"); e.Stdin = "socket"; e.Entrypoint = true; return e }(), "reverse_shell"},
		{"mount", rules.Event{Source: rules.SourceTrace, Type: "mount", Path: "/mnt", HasResult: true, Result: -1}, "mount_attempted"},
		{"ptrace", rules.Event{Source: rules.SourceTrace, Type: "ptrace", HasResult: true}, "ptrace_attempted"},
		{"module", rules.Event{Source: rules.SourceTrace, Type: "module", HasResult: true, Result: -1}, "kernel_module_load"},
		{"pids limit", rules.Event{Source: rules.SourceLimits, Type: rules.TypeLimit, Limit: "pids", Count: 12}, "resource_limit_hit"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			c.ev.Time = t0
			alerts := set.Evaluate([]rules.Event{c.ev})
			var got []string
			for _, a := range alerts {
				got = append(got, a.Rule)
			}
			if c.want == "" {
				if len(got) != 0 {
					t.Errorf("fired %v", got)
				}
				return
			}
			found := false
			for _, g := range got {
				found = found || g == c.want
			}
			if !found {
				t.Errorf("want %s, fired %v", c.want, got)
			}
		})
	}
}

// TestMiningPort: a connection to a mining port fires both the outbound
// rule and the mining rule, each once for retries of the same address.
func TestMiningPort(t *testing.T) {
	set, err := rules.Default()
	if err != nil {
		t.Fatal(err)
	}
	ev := rules.Event{Time: t0, Source: rules.SourceNetwork, Type: "connect", Proto: "tcp", Addr: "192.0.2.1", Port: 4444, DNSName: "x"}
	tr := rules.Event{Time: t0.Add(time.Millisecond), Source: rules.SourceTrace, Type: "connect", Proto: "tcp", Addr: "192.0.2.1", Port: 4444, PID: 9, Argv: []string{"nc", "192.0.2.1", "4444"}, HasResult: true, Result: -111}
	alerts := set.Evaluate([]rules.Event{ev, ev, tr})
	if len(alerts) != 2 {
		t.Fatalf("alerts %+v", alerts)
	}
	for _, a := range alerts {
		if a.Count != 3 {
			t.Errorf("%s counted %d, want 3", a.Rule, a.Count)
		}
		// The tracer's process and the observer's name both end up in the evidence.
		if a.Evidence.PID != 9 || a.Evidence.Name != "x" || a.Evidence.Error != "ECONNREFUSED" || a.Evidence.Source != "network+trace" {
			t.Errorf("%s evidence %+v", a.Rule, a.Evidence)
		}
	}
	if alerts[0].Rule != "mining_pool_port" || alerts[0].Severity != finding.High {
		t.Errorf("most severe first: %+v", alerts[0])
	}
}

func load(t *testing.T, noDefaults bool, files ...string) (*rules.Set, error) {
	t.Helper()
	m := map[string]io.Reader{}
	var order []string
	for i, f := range files {
		name := "custom" + string(rune('0'+i)) + ".yaml"
		m[name] = strings.NewReader(f)
		order = append(order, name)
	}
	return rules.Load(noDefaults, m, order)
}

// TestCustomRules: a custom file adds rules, appends to lists, replaces
// macros, and disables default rules; Falco priorities map to severities.
func TestCustomRules(t *testing.T) {
	set, err := load(t, false, `
- list: allowed_outbound
  append: true
  items: [203.0.113.0/24]
- rule: shell_spawned
  enabled: false
- macro: curl_like
  condition: proc.name in (curl, wget)
- rule: downloader
  desc: curl or wget ran
  condition: spawned_process and curl_like and proc.args contains http
  output: "download: %proc.cmdline"
  priority: ERROR
`)
	if err != nil {
		t.Fatal(err)
	}
	evs := []rules.Event{
		{Time: t0, Source: rules.SourceTrace, Type: "exec", Name: "bash", Argv: []string{"bash"}},
		{Time: t0, Source: rules.SourceTrace, Type: "exec", Name: "curl", Argv: []string{"curl", "http://x"}},
		{Time: t0, Source: rules.SourceNetwork, Type: "connect", Proto: "tcp", Addr: "203.0.113.7", Port: 80},
		{Time: t0, Source: rules.SourceNetwork, Type: "connect", Proto: "tcp", Addr: "198.51.100.7", Port: 80},
	}
	var got []string
	for _, a := range set.Evaluate(evs) {
		got = append(got, a.Rule+":"+string(a.Severity)+":"+a.Evidence.Address+":"+a.Message)
	}
	want := []string{"downloader:HIGH::download: curl http://x", "outbound_connection_not_allowed:MEDIUM:198.51.100.7:outbound connection attempt to 198.51.100.7 port 80 (tcp)"}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// TestBadRules: mistakes are errors naming the file, the line and the
// problem.
func TestBadRules(t *testing.T) {
	cases := []struct{ file, want string }{
		{"- rule: x\n  condition: proc.nam = sh\n", "unknown field or macro \"proc.nam\""},
		{"- rule: x\n  condition: proc.name = \n", "want a value"},
		{"- rule: x\n  condition: (proc.name = sh\n", "missing ')'"},
		{"- rule: x\n  condition: net.port > abc\n", "not a number"},
		{"- rule: x\n  condition: net.addr in_cidr (300.1.1.1)\n", "in_cidr"},
		{"- rule: x\n  condition: proc.name = sh\n  severity: urgent\n", "unknown severity"},
		{"- macro: a\n  condition: b\n- macro: b\n  condition: a\n- rule: x\n  condition: a\n", "refers to itself"},
		{"- rule: x\n", "no condition"},
		{"- foo: bar\n", "line 1"},
		{"rule: x\n", "want a YAML list"},
		{"- rule: x\n  condition: proc.name\n", "not a boolean"},
		{"- rule: x\n  condition: \"unterminated\n", "custom0.yaml"},
	}
	for _, c := range cases {
		_, err := load(t, true, c.file)
		if err == nil || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), "custom0.yaml") {
			t.Errorf("%q: got %v, want an error naming custom0.yaml and %q", c.file, err, c.want)
		}
	}
}

// TestOperators exercises every operator once each way.
func TestOperators(t *testing.T) {
	ev := rules.Event{Type: "open", Path: "/var/lib/app/data.db", Port: 8080, Addr: "10.1.2.3", Argv: []string{"app", "--x"}, Name: "app", Result: -13, HasResult: true}
	cases := map[string]bool{
		"fd.name = /var/lib/app/data.db":         true,
		"fd.name != /var/lib/app/data.db":        false,
		"net.port >= 8080 and net.port < 8081":   true,
		"net.port > 8080":                        false,
		"fd.name startswith /var/":               true,
		"fd.name endswith .db":                   true,
		"proc.cmdline contains --x":              true,
		"fd.name glob /var/*/app/*.db":           true,
		"fd.name glob (*.txt, *.csv)":            false,
		"fd.name pmatch (/var/lib, /etc)":        true,
		"fd.name pmatch (/var/li)":               false,
		"net.addr in_cidr (10.0.0.0/8)":          true,
		"net.addr in_cidr (10.1.2.4)":            false,
		"proc.name in (app, other)":              true,
		"not proc.name in (x)":                   true,
		"fd.directory = /var/lib/app":            true,
		"fd.filename = data.db":                  true,
		"evt.failed and evt.result = -13":        true,
		"net.name exists":                        false,
		"fd.name exists or (proc.pid = 1)":       true,
		"proc.args = --x and proc.name = 'app'":  true,
		"proc.name = \"app\" and not evt.failed": false,
	}
	for cond, want := range cases {
		set, err := load(t, true, "- rule: r\n  condition: "+strings.ReplaceAll(cond, "\"", "\\\"")+"\n")
		if err != nil {
			// YAML quoting of the condition.
			set, err = load(t, true, "- rule: r\n  condition: '"+cond+"'\n")
		}
		if err != nil {
			t.Errorf("%s: %v", cond, err)
			continue
		}
		if got := len(set.Evaluate([]rules.Event{ev})) == 1; got != want {
			t.Errorf("%s: got %v, want %v", cond, got, want)
		}
	}
}

// FuzzLoad: rule files are user input: no panic, errors or a set.
func FuzzLoad(f *testing.F) {
	f.Add("- rule: x\n  condition: proc.name in (a, b) and not (fd.name glob '*.key' or net.port > 3)\n")
	f.Add("- list: l\n  items: [1, a]\n- macro: m\n  condition: net.port in (l)\n- rule: r\n  condition: m\n  priority: ERROR\n")
	f.Fuzz(func(t *testing.T, s string) {
		set, err := rules.Load(true, map[string]io.Reader{"f": strings.NewReader(s)}, []string{"f"})
		if err != nil {
			return
		}
		set.Evaluate([]rules.Event{{Type: "exec", Name: "a", Path: "/x.key", Port: 4}})
	})
}
