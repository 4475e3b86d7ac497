package cli_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"testing"

	"github.com/drydockscan/drydock/internal/cli"
	"github.com/drydockscan/drydock/internal/vulndb/updater"
)

// baseEnv is the environment every CLI test runs with: the vulnerability
// database imported once from ../shared/vulndata, and no network.
var baseEnv = map[string]string{}

func TestMain(m *testing.M) {
	// A child process of a test (see helperCommand) runs the CLI only.
	if args := os.Getenv(helperArgsEnv); args != "" {
		var list []string
		if err := json.Unmarshal([]byte(args), &list); err != nil {
			fmt.Fprintln(os.Stderr, "helper:", err)
			os.Exit(2)
		}
		os.Exit(cli.Run(context.Background(), list, cli.Env{Stdout: os.Stdout, Stderr: os.Stderr, Getenv: os.Getenv}))
	}
	code, err := setup(m)
	if err != nil {
		fmt.Fprintln(os.Stderr, "cli tests:", err)
		os.Exit(2)
	}
	os.Exit(code)
}

func setup(m *testing.M) (int, error) {
	dir, err := os.MkdirTemp("", "drydock-cli-test-")
	if err != nil {
		return 0, err
	}
	defer os.RemoveAll(dir)
	db := filepath.Join(dir, "drydock.db")
	vulndata := filepath.Join("..", "..", "..", "shared", "vulndata")
	if _, err := os.Stat(vulndata); err != nil {
		return 0, fmt.Errorf("vulnerability data: %w", err)
	}
	ctx := context.Background()
	// The OSV mirror, then KEV (at its mirror path under vulndata).
	for _, src := range []string{filepath.Join(vulndata, "osv-mirror"), vulndata} {
		res, err := updater.Import(ctx, db, src, updater.Options{Logger: slog.New(slog.DiscardHandler)})
		if err != nil {
			return 0, fmt.Errorf("import %s: %w", src, err)
		}
		if err := res.Err(); err != nil {
			return 0, fmt.Errorf("import %s: %w", src, err)
		}
	}
	baseEnv["DRYDOCK_DB_PATH"] = db
	baseEnv["DRYDOCK_OFFLINE"] = "true"
	// Scans use no layer cache unless a test asks for one: the user's must
	// not be touched, and reports stay free of cache fields.
	baseEnv["DRYDOCK_CACHE_BACKEND"] = "none"
	return m.Run(), nil
}
