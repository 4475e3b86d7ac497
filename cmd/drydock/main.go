// Command drydock scans container images for what they contain and what is
// wrong with it.
package main

import (
	"context"
	"os"
	"os/signal"
	"path/filepath"
	"runtime/debug"
	"slices"
	"syscall"

	"golang.org/x/term"

	"github.com/drydockscan/drydock/internal/cli"
	"github.com/drydockscan/drydock/internal/gcpolicy"
	// Imported for its initialiser: it must run before the other
	// packages' (see its documentation).
	_ "github.com/drydockscan/drydock/internal/hugeheap"
	"github.com/drydockscan/drydock/internal/hugetext"
	"github.com/drydockscan/drydock/internal/run/holdinit"
)

// oneShotMemoryLimit is the soft heap limit of the commands other than the
// server; oneShotStartHeap the heap they reach before collecting at all.
const (
	oneShotMemoryLimit = 160 << 20
	oneShotStartHeap   = 64 << 20
)

func main() {
	// In a container of drydock run --runtime docker, drydock is the
	// container's first program: it holds the workload until released.
	if holdinit.Is(os.Args[0]) {
		os.Exit(holdinit.Main(os.Args, os.Stdin, os.Stderr))
	}
	// A one-shot command does not collect garbage while its heap is small
	// (a warm rescan would spend a fifth of its time on it), and gets a soft
	// limit on the Go heap once it is not: the collector then returns
	// memory to the system instead of letting the heap grow to twice its
	// live size, which keeps a scan of millions of files under 250 MB of
	// RSS at no measurable cost in time. A scan whose live heap needs more
	// still gets it. GOMEMLIMIT, when set, says otherwise; GOGC keeps the
	// runtime's pacing under the soft limit; the server sizes itself
	// (GOMEMLIMIT when wanted).
	oneShot := !slices.Contains(os.Args[1:], "server")
	if os.Getenv("GOMEMLIMIT") == "" && oneShot {
		if os.Getenv("GOGC") == "" {
			(&gcpolicy.Policy{Start: oneShotStartHeap, Limit: oneShotMemoryLimit}).Apply()
		} else {
			debug.SetMemoryLimit(oneShotMemoryLimit)
		}
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	env := cli.Env{
		Stdout: os.Stdout, Stderr: os.Stderr, Getenv: os.Getenv,
		IsTerminal:       term.IsTerminal(int(os.Stderr.Fd())),
		StdoutIsTerminal: term.IsTerminal(int(os.Stdout.Fd())),
	}
	if env.StdoutIsTerminal {
		if w, _, err := term.GetSize(int(os.Stdout.Fd())); err == nil {
			env.Width = w
		}
	}
	code := cli.Run(ctx, os.Args[1:], env)
	stop()
	if oneShot {
		// With the output written, make the next command start faster
		// (see the package's documentation); best effort, like the two
		// settings above.
		marker := ""
		if dir, err := os.UserCacheDir(); err == nil {
			marker = filepath.Join(dir, "drydock", "hugetext")
		}
		_, _ = hugetext.Settle(marker)
	}
	os.Exit(code)
}
