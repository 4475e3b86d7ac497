//go:build linux || darwin || freebsd || netbsd || openbsd || dragonfly

package analyze

import "syscall"

// mapChunk returns size bytes of anonymous memory outside the Go heap, or
// nil when the system refuses. The index builder keeps its records there:
// the collector then neither counts them towards its heap goal nor keeps
// them after they are released, which caps the memory a walk of millions
// of entries needs.
func mapChunk(size int) []byte {
	b, err := syscall.Mmap(-1, 0, size, syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_ANON|syscall.MAP_PRIVATE)
	if err != nil {
		return nil
	}
	return b
}

// unmapChunk releases memory from mapChunk.
func unmapChunk(b []byte) { _ = syscall.Munmap(b) }
