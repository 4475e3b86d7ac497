package gobinary

import (
	"archive/zip"
	"io"
)

type zipWriter struct{ w *zip.Writer }

func newZip(w io.Writer) *zipWriter { return &zipWriter{zip.NewWriter(w)} }

func (z *zipWriter) add(name, content string) error {
	f, err := z.w.Create(name)
	if err != nil {
		return err
	}
	_, err = io.WriteString(f, content)
	return err
}

func (z *zipWriter) close() error { return z.w.Close() }
