package run_test

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/drydockscan/drydock/internal/run"
)

// TestMeasure prints the figures docs/run.md quotes: the time to start
// corpus images in the sandbox, the cost of the observed network, and the
// overhead of recording a workload. It asserts nothing about time and runs
// only with DRYDOCK_MEASURE=1.
func TestMeasure(t *testing.T) {
	if os.Getenv("DRYDOCK_MEASURE") != "1" {
		t.Skip("set DRYDOCK_MEASURE=1 to measure")
	}
	needSandbox(t)
	tracers := needTracer(t)
	const rounds = 3
	timeRun := func(img string, o run.Options) (setup, ran time.Duration, events int) {
		im := corpusImage(t, img)
		for i := 0; i < rounds; i++ {
			res, err := run.Run(context.Background(), im, o)
			if err != nil {
				t.Fatal(err)
			}
			setup += res.Setup
			ran += res.Ran
			events += len(res.Events)
		}
		return setup / rounds, ran / rounds, events / rounds
	}
	quick := []string{"sh", "-c", "exit 0"}
	for _, img := range []string{"multiarch-busybox/oci", "edge-layers/oci", "debian12-app/oci"} {
		o := run.Options{Tracer: run.TracerNone, Command: quick, Network: run.NetworkNone}
		if img == "debian12-app/oci" {
			o.Command = []string{"/bin/true"}
		}
		s, _, _ := timeRun(img, o)
		o.Network = run.NetworkObserve
		s2, _, _ := timeRun(img, o)
		t.Logf("start %-22s network none %v, observe %v (mean of %d)", img, s.Round(time.Millisecond), s2.Round(time.Millisecond), rounds)
	}
	// The observer under load: 100 DNS lookups and 100 refused connections.
	net := []string{"sh", "-c", "i=0; while [ $i -lt 100 ]; do nslookup n$i.example.org >/dev/null 2>&1; nc -w 1 192.0.2.1 4444 </dev/null 2>/dev/null; i=$((i+1)); done"}
	_, none, _ := timeRun("multiarch-busybox/oci", run.Options{Tracer: run.TracerNone, Command: net, Network: run.NetworkNone, Duration: time.Minute})
	_, obs, _ := timeRun("multiarch-busybox/oci", run.Options{Tracer: run.TracerNone, Command: net, Network: run.NetworkObserve, Duration: time.Minute})
	t.Logf("100 lookups + 100 connects: network none %v (all fail at once), observe %v (all answered)", none.Round(time.Millisecond), obs.Round(time.Millisecond))
	// Recording: 300 programs executed, each opening files.
	work := []string{"sh", "-c", "i=0; while [ $i -lt 300 ]; do /bin/busybox cat /etc/passwd >/dev/null; i=$((i+1)); done"}
	_, bare, _ := timeRun("multiarch-busybox/oci", run.Options{Tracer: run.TracerNone, Command: work, Duration: time.Minute})
	_, traced, n := timeRun("multiarch-busybox/oci", run.Options{Tracers: tracers, Command: work, Duration: time.Minute})
	t.Logf("300 execs: untraced %v, traced by %s %v (%d events)", bare.Round(time.Millisecond), tracers[0].Name, traced.Round(time.Millisecond), n)
}
