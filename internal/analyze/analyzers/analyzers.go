// Package analyzers is the one list of every analyzer drydock runs. Adding
// an ecosystem means writing one package under internal/analyze and adding
// it here.
package analyzers

import (
	"github.com/drydockscan/drydock/internal/analyze"
	"github.com/drydockscan/drydock/internal/analyze/dpkg"
	"github.com/drydockscan/drydock/internal/analyze/osrelease"
)

// For returns the analyzers for a scan mode, in a fixed order.
func For(mode analyze.Mode) []analyze.Analyzer {
	list := []analyze.Analyzer{
		osrelease.New(),
		dpkg.New(),
	}
	if mode == analyze.ModeFS {
		list = append(list)
	}
	return list
}
