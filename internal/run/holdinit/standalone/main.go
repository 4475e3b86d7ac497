// Command standalone is the hold helper of package holdinit alone. drydock
// itself is the helper it binds into Docker containers; the tests, whose
// binaries are not statically linked, build this one instead
// (CGO_ENABLED=0).
package main

import (
	"os"

	"github.com/drydockscan/drydock/internal/run/holdinit"
)

func main() {
	os.Exit(holdinit.Main(os.Args, os.Stdin, os.Stderr))
}
