package updater_test

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/drydockscan/drydock/internal/cli"
	"github.com/drydockscan/drydock/internal/testutil/vulndbtest"
	"github.com/drydockscan/drydock/internal/vulndb/store"
	"github.com/drydockscan/drydock/internal/vulndb/updater"
)

// Environment of the `drydock db import` child TestStaleTempFiles runs.
const (
	childDB  = "DRYDOCK_TEST_IMPORT_DB"
	childSrc = "DRYDOCK_TEST_IMPORT_SRC"
)

// TestDBImportChild is not a test of its own: TestStaleTempFiles runs the
// test binary with it as `drydock db import`, to kill it mid-way.
func TestDBImportChild(t *testing.T) {
	db, src := os.Getenv(childDB), os.Getenv(childSrc)
	if db == "" || src == "" {
		t.Skip("the db import child of TestStaleTempFiles")
	}
	env := map[string]string{"DRYDOCK_DB_PATH": db, "DRYDOCK_OFFLINE": "true"}
	os.Exit(cli.Run(context.Background(), []string{"db", "import", src},
		cli.Env{Stdout: io.Discard, Stderr: os.Stderr, Getenv: func(k string) string { return env[k] }}))
}

// importChild is a running `drydock db import`.
type importChild struct {
	cmd  *exec.Cmd
	done chan error // receives Wait's result once
}

// startImport runs `drydock db import src` into db in a child process.
func startImport(t *testing.T, db, src string) *importChild {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestDBImportChild$")
	cmd.Env = append(os.Environ(), childDB+"="+db, childSrc+"="+src)
	var logs bytes.Buffer
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	c := &importChild{cmd: cmd, done: make(chan error, 1)}
	go func() { c.done <- cmd.Wait() }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-c.done
		if t.Failed() {
			t.Logf("db import's output:\n%s", logs.String())
		}
	})
	return c
}

// tempsOf lists the temporary databases next to db, by name.
func tempsOf(t *testing.T, db string) []string {
	t.Helper()
	m, err := filepath.Glob(db + ".new-*")
	if err != nil {
		t.Fatal(err)
	}
	for i := range m {
		m[i] = filepath.Base(m[i])
	}
	return m
}

// waitForTemp waits until the child has written part of its temporary
// database, and returns its name. It fails when the child exits first.
func waitForTemp(t *testing.T, c *importChild, db string) string {
	t.Helper()
	prefix := filepath.Base(db) + ".new-" + strconv.Itoa(c.cmd.Process.Pid) + "-"
	for {
		for _, name := range tempsOf(t, db) {
			if st, err := os.Stat(filepath.Join(filepath.Dir(db), name)); err == nil && st.Size() > 0 && strings.HasPrefix(name, prefix) {
				return name
			}
		}
		select {
		case err := <-c.done:
			c.done <- err
			t.Fatalf("db import exited (%v) before writing its temporary database", err)
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// TestStaleTempFiles kills a real `drydock db import` while it builds a
// new database: its temporary file stays behind. An import running beside
// a live import leaves that import's file alone; the next import after the
// kill removes the leftover.
func TestStaleTempFiles(t *testing.T) {
	vulndata := vulndbtest.Dir(t)
	mirror := filepath.Join(vulndata, "osv-mirror")
	small := filepath.Join(mirror, "crates.io", "all.zip")
	dir := t.TempDir()
	db := filepath.Join(dir, "vuln.db")
	ctx := context.Background()
	quiet := updater.Options{Logger: slog.New(slog.DiscardHandler)}
	importSmall := func() {
		t.Helper()
		res, err := updater.Import(ctx, db, small, quiet)
		if err == nil {
			err = res.Err()
		}
		if err != nil {
			t.Fatal(err)
		}
	}

	// A live import's file is not touched by an import beside it.
	child := startImport(t, db, mirror)
	live := waitForTemp(t, child, db)
	importSmall()
	if got := tempsOf(t, db); len(got) != 1 || got[0] != live {
		t.Fatalf("while an import runs, another left %q; want the running import's %s", got, live)
	}

	// Killed mid-way, the import leaves its file.
	if err := child.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	err := <-child.done
	child.done <- err // for the cleanup
	if ee, ok := err.(*exec.ExitError); !ok || ee.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
		t.Fatalf("db import ended with %v before it was killed", err)
	}
	if got := tempsOf(t, db); len(got) != 1 || got[0] != live {
		t.Fatalf("after the kill: %q; want the killed import's %s", got, live)
	}

	// Leftovers of other kinds: an older name without a process id, a
	// compaction of a dead process, and a file named after a live process
	// (this one) that nothing has locked yet.
	dead := exec.Command(os.Args[0], "-test.run=^$")
	if err := dead.Run(); err != nil {
		t.Fatal(err)
	}
	ownName := "vuln.db.new-" + strconv.Itoa(os.Getpid()) + "-1"
	for _, name := range []string{"vuln.db.new-271828", "vuln.db.new-" + strconv.Itoa(dead.Process.Pid) + "-31415.compact", ownName, "vuln.db.newer", "other.db.new-1-1"} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte("leftover"), 0o644); err != nil {
			t.Fatal(err)
		}
	}

	// The next import removes what no live process writes.
	importSmall()
	var s *store.DB
	if got := tempsOf(t, db); len(got) != 1 || got[0] != ownName {
		t.Errorf("after the next import: %q; want only %s (its process lives)", got, ownName)
	}
	for _, keep := range []string{"vuln.db.newer", "other.db.new-1-1"} {
		if _, err := os.Stat(filepath.Join(dir, keep)); err != nil {
			t.Errorf("%s, not a temporary database of vuln.db, was removed: %v", keep, err)
		}
	}
	s, err = store.Open(ctx, db, store.Options{ReadOnly: true})
	if err != nil {
		t.Fatalf("database after the imports: %v", err)
	}
	s.Close()
}
