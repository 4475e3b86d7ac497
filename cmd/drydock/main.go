// Command drydock scans container images for what they contain and what is
// wrong with it.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/drydockscan/drydock/internal/cli"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := cli.Run(ctx, os.Args[1:], cli.Env{Stdout: os.Stdout, Stderr: os.Stderr, Getenv: os.Getenv})
	stop()
	os.Exit(code)
}
