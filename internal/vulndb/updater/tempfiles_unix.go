//go:build unix

package updater

import (
	"errors"
	"os"
	"syscall"
)

// processAlive reports whether a process with that id runs (or exists
// under another user).
func processAlive(pid int) bool {
	err := syscall.Kill(pid, 0)
	return err == nil || errors.Is(err, syscall.EPERM)
}

// locked reports whether another process holds a lock on the file, as
// bbolt does on the database files it has open. A file that cannot be
// opened counts as locked: it is left alone.
func locked(path string) bool {
	f, err := os.Open(path)
	if err != nil {
		return true
	}
	defer f.Close()
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		return true
	}
	_ = syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
	return false
}
