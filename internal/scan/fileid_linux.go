package scan

import (
	"io"
	"os"
	"syscall"

	"github.com/drydockscan/drydock/internal/cache"
)

// backed is a blob read from part of a file (a member of an image
// archive).
type backed interface {
	Backing() (f *os.File, offset, length int64)
}

// fileID identifies the bytes r reads by the file that holds them, when r
// reads a file (or part of one) directly.
func fileID(r io.Reader) (cache.FileID, bool) {
	var f *os.File
	var off, n int64 = 0, -1
	switch v := r.(type) {
	case *os.File:
		f = v
	case backed:
		f, off, n = v.Backing()
	default:
		return cache.FileID{}, false
	}
	if f == nil {
		return cache.FileID{}, false
	}
	st, err := f.Stat()
	if err != nil || !st.Mode().IsRegular() {
		return cache.FileID{}, false
	}
	sys, ok := st.Sys().(*syscall.Stat_t)
	if !ok {
		return cache.FileID{}, false
	}
	if n < 0 {
		n = st.Size()
	}
	return cache.FileID{
		Boot: cache.BootID(), Dev: uint64(sys.Dev), Ino: sys.Ino, Size: st.Size(),
		MtimeNS: st.ModTime().UnixNano(), CtimeNS: sys.Ctim.Nano(), Offset: off, Length: n,
	}, true
}
