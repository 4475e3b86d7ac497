package java

import (
	"archive/tar"
	"compress/flate"
	"io"
	"os"
	"strings"
	"testing"

	"github.com/drydockscan/drydock/internal/layerio"
)

func flateWriter(w io.Writer) (*flate.Writer, error) {
	return flate.NewWriter(w, flate.BestCompression)
}

// layerFile returns the content of one regular file of a layer blob.
func layerFile(t testing.TB, blob, name string) []byte {
	t.Helper()
	f, err := os.Open(blob)
	if err != nil {
		t.Fatal(err)
	}
	s, err := layerio.Open(f, "", "", layerio.DefaultLimits)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	tr := tar.NewReader(s)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			t.Fatalf("%s not in %s", name, blob)
		}
		if err != nil {
			t.Fatal(err)
		}
		if strings.TrimPrefix(h.Name, "./") == name && h.Typeflag == tar.TypeReg {
			b, err := io.ReadAll(tr)
			if err != nil {
				t.Fatal(err)
			}
			return b
		}
	}
}
