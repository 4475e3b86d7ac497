package gobinary

import (
	"bytes"
	"context"
	"encoding/binary"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/drydockscan/drydock/internal/analyze"
	"github.com/drydockscan/drydock/internal/inventory"
)

// miniELF returns the smallest ELF64 executable debug/buildinfo accepts:
// one writable PT_LOAD segment holding a .go.buildinfo section with the
// Go 1.18+ inline layout (header, then varint-prefixed version and
// module strings), plus a section-name table.
func miniELF(goVersion, modinfo string) []byte {
	const (
		ehsize, phsize, shsize = 64, 56, 64
		dataOff                = 128
		vaddr                  = 0x400000
	)
	blob := []byte("\xff Go buildinf:")
	blob = append(blob, 8, 2)
	blob = append(blob, make([]byte, 16)...)
	blob = binary.AppendUvarint(blob, uint64(len(goVersion)))
	blob = append(blob, goVersion...)
	if modinfo != "" {
		// The go command frames module info with two 16-byte sentinels.
		modinfo = strings.Repeat("\x30", 16) + modinfo + strings.Repeat("\xf9", 16)
	}
	blob = binary.AppendUvarint(blob, uint64(len(modinfo)))
	blob = append(blob, modinfo...)
	// The linker pads the section; an empty string at its very end
	// would not be readable.
	blob = append(blob, make([]byte, 16)...)
	shstr := "\x00.go.buildinfo\x00.shstrtab\x00"
	strOff := dataOff + len(blob)
	shOff := (strOff + len(shstr) + 7) &^ 7

	le := binary.LittleEndian
	out := make([]byte, shOff+3*shsize)
	copy(out, "\x7fELF\x02\x01\x01")
	le.PutUint16(out[16:], 2)  // ET_EXEC
	le.PutUint16(out[18:], 62) // EM_X86_64
	le.PutUint32(out[20:], 1)
	le.PutUint64(out[32:], ehsize) // e_phoff
	le.PutUint64(out[40:], uint64(shOff))
	le.PutUint16(out[52:], ehsize)
	le.PutUint16(out[54:], phsize)
	le.PutUint16(out[56:], 1)
	le.PutUint16(out[58:], shsize)
	le.PutUint16(out[60:], 3)
	le.PutUint16(out[62:], 2) // e_shstrndx

	ph := out[ehsize:]
	le.PutUint32(ph[0:], 1) // PT_LOAD
	le.PutUint32(ph[4:], 6) // PF_R|PF_W
	le.PutUint64(ph[8:], dataOff)
	le.PutUint64(ph[16:], vaddr+dataOff)
	le.PutUint64(ph[24:], vaddr+dataOff)
	le.PutUint64(ph[32:], uint64(len(blob)))
	le.PutUint64(ph[40:], uint64(len(blob)))
	le.PutUint64(ph[48:], 16)

	copy(out[dataOff:], blob)
	copy(out[strOff:], shstr)

	sh := out[shOff+shsize:]
	le.PutUint32(sh[0:], 1) // ".go.buildinfo"
	le.PutUint32(sh[4:], 1) // SHT_PROGBITS
	le.PutUint64(sh[8:], 3) // SHF_WRITE|SHF_ALLOC
	le.PutUint64(sh[16:], vaddr+dataOff)
	le.PutUint64(sh[24:], dataOff)
	le.PutUint64(sh[32:], uint64(len(blob)))
	le.PutUint64(sh[48:], 16)
	sh = out[shOff+2*shsize:]
	le.PutUint32(sh[0:], 15) // ".shstrtab"
	le.PutUint32(sh[4:], 3)  // SHT_STRTAB
	le.PutUint64(sh[24:], uint64(strOff))
	le.PutUint64(sh[32:], uint64(len(shstr)))
	le.PutUint64(sh[48:], 1)
	return out
}

const miniModinfo = "path\texample.com/cmd/x\n" +
	"mod\texample.com/x\tv1.0.0\th1:aaaa=\n" +
	"dep\tgolang.org/x/text\tv0.3.5\th1:bbbb=\n" +
	"dep\texample.com/old\tv1.0.0\n" +
	"=>\texample.com/new\tv1.1.0\th1:cccc=\n" +
	"build\t-trimpath=true\n" +
	"build\tvcs.revision=0123abcd\n"

func TestMiniELF(t *testing.T) {
	tests := []struct {
		name    string
		vers    string
		modinfo string
		want    []inventory.Package
	}{
		{
			name: "modules", vers: "go1.22.3", modinfo: miniModinfo,
			want: []inventory.Package{
				{Type: "golang", Name: "example.com/x", Version: "v1.0.0", Meta: map[string]string{
					MetaSum: "h1:aaaa=", MetaGoVersion: "go1.22.3", "build:-trimpath": "true", "build:vcs.revision": "0123abcd"}},
				{Type: "golang", Name: "golang.org/x/text", Version: "v0.3.5", Meta: map[string]string{MetaSum: "h1:bbbb="}},
				{Type: "golang", Name: "example.com/new", Version: "v1.1.0", Meta: map[string]string{
					MetaSum: "h1:cccc=", MetaReplacedPath: "example.com/old", MetaReplacedVersion: "v1.0.0"}},
				{Type: "golang", Name: "stdlib", Version: "1.22.3", Meta: map[string]string{MetaGoVersion: "go1.22.3"}},
			},
		},
		{
			name: "GOPATH build", vers: "go1.20",
			want: []inventory.Package{{Type: "golang", Name: "stdlib", Version: "1.20.0", Meta: map[string]string{MetaGoVersion: "go1.20"}}},
		},
		{
			name: "command-line-arguments", vers: "go1.21rc2", modinfo: "path\tcommand-line-arguments\nbuild\t-compiler=gc\n",
			want: []inventory.Package{{Type: "golang", Name: "stdlib", Version: "1.21.0-rc.2", Meta: map[string]string{MetaGoVersion: "go1.21rc2"}}},
		},
	}
	for _, tt := range tests {
		res, err := analyzeFile(t, "x", miniELF(tt.vers, tt.modinfo))
		if err != nil {
			t.Errorf("%s: %v", tt.name, err)
			continue
		}
		if res == nil {
			t.Errorf("%s: no result", tt.name)
			continue
		}
		if diff := cmp.Diff(tt.want, res.Packages); diff != "" {
			t.Errorf("%s (-want +got):\n%s", tt.name, diff)
		}
	}
}

// TestMiniELFMalformed checks errors on module info the go command would
// never write.
func TestMiniELFMalformed(t *testing.T) {
	tests := []struct {
		name    string
		modinfo string
	}{
		{"replacement first", "=>\texample.com/x\tv1.0.0\n"},
		{"build without =", "path\tx\nbuild\tnoequals\n"},
		{"dep with one column", "path\tx\ndep\tonly\n"},
	}
	for _, tt := range tests {
		res, err := analyzeFile(t, "x", miniELF("go1.22.0", tt.modinfo))
		if err == nil {
			t.Errorf("%s: no error, result %+v", tt.name, res)
		}
	}
}

func FuzzAnalyze(f *testing.F) {
	mini := miniELF("go1.22.3", miniModinfo)
	f.Add(mini)
	f.Add(miniELF("go1.9", ""))
	f.Add(mini[:len(mini)/2])
	f.Add([]byte("\x7fELF\x02\x01\x01"))
	f.Add(append([]byte("MZ"), make([]byte, 200)...))
	f.Add(append([]byte("\xcf\xfa\xed\xfe"), make([]byte, 200)...))
	f.Add(append([]byte("\xca\xfe\xba\xbe\x00\x00\x00\x02"), make([]byte, 200)...))
	a := New()
	f.Fuzz(func(t *testing.T, b []byte) {
		file := &analyze.File{Path: "x", Size: int64(len(b)), Mode: 0o755, Content: bytes.NewReader(b)}
		res, err := a.Analyze(context.Background(), file)
		if err != nil && res != nil {
			t.Fatalf("result and error: %v", err)
		}
	})
}
