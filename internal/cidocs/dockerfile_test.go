package cidocs

import (
	"debug/elf"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestDockerfileBinary runs the Dockerfile's own build command (the RUN go
// build line with the stage's ENV) on this machine and checks what the
// image would ship: a static binary (no ELF interpreter, no shared
// libraries), small, that runs and reports the version the build stamped.
// Building the image itself needs its base images from docker.io and
// gcr.io; TestDockerfile checks the stages statically.
func TestDockerfileBinary(t *testing.T) {
	if testing.Short() {
		t.Skip("builds drydock")
	}
	b, err := os.ReadFile(filepath.Join(repoRoot, "Dockerfile"))
	if err != nil {
		t.Fatal(err)
	}
	text := regexp.MustCompile(`\\\n\s*`).ReplaceAllString(string(b), " ")
	var run string
	env := os.Environ()
	for _, l := range strings.Split(text, "\n") {
		l = strings.TrimSpace(l)
		if v, ok := strings.CutPrefix(l, "ENV "); ok {
			env = append(env, strings.Fields(v)...)
		}
		if v, ok := strings.CutPrefix(l, "RUN go build"); ok {
			run = "go build" + v
		}
		if strings.HasPrefix(l, "FROM ") && run != "" {
			break
		}
	}
	if run == "" {
		t.Fatal("no RUN go build line in the Dockerfile")
	}
	out := filepath.Join(t.TempDir(), "drydock")
	run = strings.ReplaceAll(run, "/out/drydock", out)
	cmd := exec.Command("bash", "-c", run)
	cmd.Dir = repoRoot
	cmd.Env = append(env, "VERSION=v9.9.9-docker")
	if msg, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%s: %v\n%s", run, err, msg)
	}
	f, err := elf.Open(out)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP || p.Type == elf.PT_DYNAMIC {
			t.Errorf("binary has a %v program header: not static", p.Type)
		}
	}
	if libs, _ := f.ImportedLibraries(); len(libs) > 0 {
		t.Errorf("binary needs shared libraries %v", libs)
	}
	st, err := os.Stat(out)
	if err != nil {
		t.Fatal(err)
	}
	// One binary holds the scanner, the server (SQLite and PostgreSQL
	// drivers, the job queue), the engine clients, the sandbox and its
	// tracers, and the licence texts; a regression past this is worth a
	// look.
	if st.Size() > 64<<20 {
		t.Errorf("binary is %d MiB, want a small image (< 64 MiB)", st.Size()>>20)
	}
	t.Logf("static binary: %.1f MiB", float64(st.Size())/(1<<20))
	v, err := exec.Command(out, "version").Output()
	if err != nil || strings.TrimSpace(string(v)) != "drydock v9.9.9-docker" {
		t.Errorf("version: %q, %v", v, err)
	}
}
