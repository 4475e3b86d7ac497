// Command drydock scans container images for what they contain and what is
// wrong with it.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"golang.org/x/term"

	"github.com/drydockscan/drydock/internal/cli"
	"github.com/drydockscan/drydock/internal/run/holdinit"
)

func main() {
	// In a container of drydock run --runtime docker, drydock is the
	// container's first program: it holds the workload until released.
	if holdinit.Is(os.Args[0]) {
		os.Exit(holdinit.Main(os.Args, os.Stdin, os.Stderr))
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
	os.Exit(code)
}
