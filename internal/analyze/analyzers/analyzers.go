// Package analyzers is the one list of every analyzer drydock runs. Adding
// an ecosystem means writing one package under internal/analyze and adding
// it here.
package analyzers

import (
	"github.com/drydockscan/drydock/internal/analyze"
	"github.com/drydockscan/drydock/internal/analyze/apk"
	"github.com/drydockscan/drydock/internal/analyze/dotnet"
	"github.com/drydockscan/drydock/internal/analyze/dpkg"
	"github.com/drydockscan/drydock/internal/analyze/gobinary"
	"github.com/drydockscan/drydock/internal/analyze/gomod"
	"github.com/drydockscan/drydock/internal/analyze/java"
	"github.com/drydockscan/drydock/internal/analyze/npm"
	"github.com/drydockscan/drydock/internal/analyze/osrelease"
	"github.com/drydockscan/drydock/internal/analyze/php"
	"github.com/drydockscan/drydock/internal/analyze/python"
	"github.com/drydockscan/drydock/internal/analyze/rpm"
	"github.com/drydockscan/drydock/internal/analyze/ruby"
	"github.com/drydockscan/drydock/internal/analyze/rust"
)

// For returns the analyzers for a scan mode, in a fixed order.
func For(mode analyze.Mode) []analyze.Analyzer {
	list := []analyze.Analyzer{
		osrelease.New(),
		dpkg.New(),
		apk.New(),
		rpm.New(),
		gobinary.New(),
		rust.New(),
		java.New(),
		dotnet.New(),
		npm.New(mode),
		python.New(),
		ruby.New(mode),
		php.New(mode),
	}
	if mode == analyze.ModeFS {
		list = append(list,
			gomod.New(),
			python.NewLock(),
		)
	}
	return list
}
