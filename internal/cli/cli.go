// Package cli is drydock's command line: flags, configuration file and
// environment are turned into calls of the library packages, and errors
// into exit codes.
package cli

import (
	"context"
	"fmt"
	"io"
	"log/slog"

	"github.com/spf13/cobra"

	"github.com/drydockscan/drydock/internal/buildinfo"
	"github.com/drydockscan/drydock/internal/pipeline"
)

// Exit codes.
const (
	ExitOK     = 0
	ExitPolicy = 1 // the scan worked and the policy gate failed
	ExitError  = 2 // the scan could not be done
)

// Env is the process environment the CLI runs in.
type Env struct {
	Stdout, Stderr io.Writer
	Getenv         func(string) string
	// IsTerminal reports whether stderr is a terminal (progress bars).
	IsTerminal bool
	// StdoutIsTerminal reports whether stdout is a terminal (colour);
	// Width is its width in columns (0 when unknown).
	StdoutIsTerminal bool
	Width            int
}

// Run executes the command line and returns the exit code.
func Run(ctx context.Context, args []string, env Env) int {
	if env.Getenv == nil {
		env.Getenv = func(string) string { return "" }
	}
	app := &app{env: env}
	root := app.rootCommand()
	root.SetArgs(args)
	root.SetOut(env.Stdout)
	root.SetErr(env.Stderr)
	err := root.ExecuteContext(ctx)
	if err == nil {
		return ExitOK
	}
	if code, ok := pipeline.IsGate(err); ok {
		return code
	}
	fmt.Fprintf(env.Stderr, "drydock: %v\n", err)
	return ExitError
}

// app holds what the commands share.
type app struct {
	env        Env
	configPath string
	quiet      bool
	debug      bool
	log        *slog.Logger
	// sections are the configuration file's structured sections (see
	// applyConfig).
	sections map[string]any
}

func (a *app) rootCommand() *cobra.Command {
	root := &cobra.Command{
		Use:   "drydock",
		Short: "Container image security scanner",
		Long: `drydock finds what is inside container images — OS and language packages, layer by
layer — matches them against a local vulnerability database built from the primary
public sources, and reports the result (table, JSON, SARIF, CycloneDX with VEX, SPDX,
CSV, JUnit, GitLab, HTML, templates) with exit codes a CI pipeline can gate on:
0 pass, 1 gate failed (--fail-on), 2 error.`,
		SilenceUsage:  true,
		SilenceErrors: true,
		PersistentPreRunE: func(cmd *cobra.Command, _ []string) error {
			a.sections = map[string]any{}
			if err := applyConfig(cmd, a.configPath, a.env.Getenv, a.sections); err != nil {
				return err
			}
			a.log = newLogger(a.env.Stderr, a.quiet, a.debug)
			return nil
		},
	}
	pf := root.PersistentFlags()
	pf.StringVar(&a.configPath, "config", "", "configuration file (YAML; default $DRYDOCK_CONFIG or <user config dir>/drydock/config.yaml)")
	pf.BoolVarP(&a.quiet, "quiet", "q", false, "print nothing but the reports and errors")
	pf.BoolVar(&a.debug, "debug", false, "print debug logs")
	root.AddCommand(a.imageCommand(), a.fsCommand(), a.sbomCommand(), a.configCommand(), a.layersCommand(), a.dbCommand(), a.cacheCommand(), a.serverCommand(), a.versionCommand(), a.runCommand())
	return root
}

func (a *app) versionCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print drydock's version",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			fmt.Fprintf(cmd.OutOrStdout(), "drydock %s\n", buildinfo.Version())
			return nil
		},
	}
}

func newLogger(w io.Writer, quiet, debug bool) *slog.Logger {
	level := slog.LevelInfo
	switch {
	case debug:
		level = slog.LevelDebug
	case quiet:
		level = slog.LevelError
	}
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: level}))
}
