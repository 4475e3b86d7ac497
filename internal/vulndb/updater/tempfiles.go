package updater

import (
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// A database built afresh is written to a temporary file next to its path,
// named "<name>.new-<pid>-<random>" (and "….compact" while it is
// compacted), then renamed into place. A process killed meanwhile leaves
// that file behind, as big as the database. Every update and import first
// removes the ones no live process is writing (removeStale).

// tempPattern is the os.CreateTemp pattern of the temporary database for
// path, naming this process.
func tempPattern(path string) string {
	return filepath.Base(path) + ".new-" + strconv.Itoa(os.Getpid()) + "-*"
}

// removeStale removes the temporary databases a killed update or import
// left next to path. A file is kept while its writer lives: when a process
// holds its lock (bbolt locks the files it writes), or when the process
// its name records is still running (a build between creating the file
// and locking it). It returns the files it removed.
func removeStale(path string, log *slog.Logger) []string {
	base := filepath.Base(path) + ".new-"
	entries, err := os.ReadDir(filepath.Dir(path))
	if err != nil {
		return nil
	}
	var removed []string
	for _, e := range entries {
		name := e.Name()
		rest, ok := strings.CutPrefix(name, base)
		if !ok || !e.Type().IsRegular() {
			continue
		}
		file := filepath.Join(filepath.Dir(path), name)
		if pid, ok := tempPID(rest); ok && processAlive(pid) {
			continue
		}
		if locked(file) {
			continue
		}
		if err := os.Remove(file); err != nil {
			log.Warn("cannot remove a stale temporary database", "path", file, "error", err)
			continue
		}
		log.Info("removed a temporary database a stopped update left", "path", file)
		removed = append(removed, file)
	}
	return removed
}

// tempPID reads the process id from the part of a temporary database's
// name after ".new-" ("12345-678901" or "12345-678901.compact"). Names
// without one (written by older versions) give false.
func tempPID(rest string) (int, bool) {
	s, _, ok := strings.Cut(rest, "-")
	if !ok {
		return 0, false
	}
	pid, err := strconv.Atoi(s)
	return pid, err == nil && pid > 0
}
