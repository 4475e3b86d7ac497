package layers

import (
	"context"
	"io"
)

// Explore is replaced by the interactive view.
func Explore(_ context.Context, a *Analysis, _ io.Reader, out io.Writer) error {
	return WriteTable(out, a, 10)
}
