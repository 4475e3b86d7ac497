// Package pgtest runs a real PostgreSQL server (Debian's postgresql
// package) on 127.0.0.1 for tests: initdb into a temporary directory and
// postgres on a free port, as an unprivileged user when the tests run as
// root. One server serves a whole test binary; each test gets a database
// of its own.
package pgtest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
)

// RequireEnv, when set to 1, makes a missing PostgreSQL an error instead
// of a skip (.ci/run sets it).
const RequireEnv = "DRYDOCK_REQUIRE_POSTGRES"

// Server is a running PostgreSQL.
type Server struct {
	Port int
	dir  string
	bin  string
	// as is the unprivileged user postgres runs as ("" for the current).
	as string

	mu   sync.Mutex
	cmd  *exec.Cmd
	logs bytes.Buffer
	n    int
}

// ErrMissing is returned when no PostgreSQL is installed.
var ErrMissing = errors.New("PostgreSQL is not installed (Debian package postgresql; .ci/run installs it)")

// binDir finds the newest /usr/lib/postgresql/<v>/bin, or pg_config's.
func binDir() (string, error) {
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	sort.Slice(dirs, func(i, j int) bool {
		vi, _ := strconv.Atoi(filepath.Base(filepath.Dir(dirs[i])))
		vj, _ := strconv.Atoi(filepath.Base(filepath.Dir(dirs[j])))
		return vi > vj
	})
	for _, d := range dirs {
		if _, err := os.Stat(filepath.Join(d, "initdb")); err == nil {
			return d, nil
		}
	}
	if p, err := exec.LookPath("initdb"); err == nil {
		return filepath.Dir(p), nil
	}
	return "", ErrMissing
}

// Start initialises a cluster in a new temporary directory and starts it.
func Start() (*Server, error) {
	bin, err := binDir()
	if err != nil {
		return nil, err
	}
	s := &Server{bin: bin}
	if os.Geteuid() == 0 {
		// PostgreSQL refuses to run as root.
		if _, err := user.Lookup("postgres"); err != nil {
			return nil, fmt.Errorf("running as root and there is no postgres user to run PostgreSQL as: %w", err)
		}
		s.as = "postgres"
	}
	if s.dir, err = os.MkdirTemp("", "drydock-pgtest-"); err != nil {
		return nil, err
	}
	if err := os.Chmod(s.dir, 0o755); err != nil {
		return nil, err
	}
	if s.as != "" {
		u, _ := user.Lookup(s.as)
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		if err := os.Chown(s.dir, uid, gid); err != nil {
			return nil, err
		}
	}
	out, err := s.command("initdb", "-D", s.data(), "-U", "drydock", "--auth=trust", "--encoding=UTF8", "--no-sync").CombinedOutput()
	if err != nil {
		s.Cleanup()
		return nil, fmt.Errorf("initdb: %v\n%s", err, out)
	}
	if s.Port, err = freePort(); err != nil {
		return nil, err
	}
	if err := s.Restart(); err != nil {
		s.Cleanup()
		return nil, err
	}
	return s, nil
}

func (s *Server) data() string { return filepath.Join(s.dir, "data") }

// command runs a PostgreSQL program, as the unprivileged user when needed
// (setpriv execs it, so signals reach postgres itself).
func (s *Server) command(prog string, args ...string) *exec.Cmd {
	path := filepath.Join(s.bin, prog)
	if s.as == "" {
		return exec.Command(path, args...)
	}
	return exec.Command("setpriv", append([]string{"--reuid=" + s.as, "--regid=" + s.as, "--init-groups", "--", path}, args...)...)
}

// Restart starts the server (again) and waits until it takes connections.
func (s *Server) Restart() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	cmd := s.command("postgres", "-D", s.data(), "-k", s.dir, "-p", strconv.Itoa(s.Port),
		"-c", "listen_addresses=127.0.0.1", "-c", "fsync=off", "-c", "max_connections=200", "-c", "log_min_messages=warning")
	cmd.Stdout, cmd.Stderr = &s.logs, &s.logs
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("starting postgres: %w", err)
	}
	s.cmd = cmd
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		c, err := pgx.Connect(ctx, s.URL("postgres"))
		cancel()
		if err == nil {
			c.Close(context.Background())
			return nil
		}
		time.Sleep(50 * time.Millisecond)
	}
	return fmt.Errorf("postgres on port %d did not start:\n%s", s.Port, s.logs.String())
}

// Stop shuts the server down (fast: connections are closed) and waits.
func (s *Server) Stop() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd == nil {
		return nil
	}
	_ = s.cmd.Process.Signal(syscall.SIGINT)
	err := s.cmd.Wait()
	s.cmd = nil
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		err = nil
	}
	return err
}

// Cleanup stops the server and removes its files.
func (s *Server) Cleanup() {
	_ = s.Stop()
	if s.dir != "" {
		os.RemoveAll(s.dir)
	}
}

// Logs returns what the server printed.
func (s *Server) Logs() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.logs.String()
}

// URL is the connection URL of a database.
func (s *Server) URL(db string) string {
	return fmt.Sprintf("postgres://drydock@127.0.0.1:%d/%s?sslmode=disable", s.Port, db)
}

// NewDatabase creates a fresh, empty database and returns its URL.
func (s *Server) NewDatabase(ctx context.Context) (string, error) {
	s.mu.Lock()
	s.n++
	name := fmt.Sprintf("test_%d_%d", os.Getpid(), s.n)
	s.mu.Unlock()
	c, err := pgx.Connect(ctx, s.URL("postgres"))
	if err != nil {
		return "", err
	}
	defer c.Close(ctx)
	if _, err := c.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		return "", err
	}
	return s.URL(name), nil
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}
