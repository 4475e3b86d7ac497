package osrelease_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/drydockscan/drydock/internal/analyze/analyzetest"
	"github.com/drydockscan/drydock/internal/analyze/osrelease"
	"github.com/drydockscan/drydock/internal/inventory"
)

// TestCorpusOSRelease parses every os-release of the corpus and compares
// the fields with those TRUTH.json recorded.
func TestCorpusOSRelease(t *testing.T) {
	for _, image := range []string{"debian12-app", "debian13-slim", "edge-layers"} {
		var tr struct {
			OS struct {
				Fields map[string]string `json:"fields"`
			} `json:"os"`
		}
		b, err := os.ReadFile(filepath.Join(analyzetest.Corpus(t), image, "TRUTH.json"))
		if err != nil {
			t.Fatal(err)
		}
		json.Unmarshal(b, &tr)
		var content []byte
		for _, blob := range analyzetest.Layers(t, image) {
			if c := analyzetest.ReadFromBlob(t, blob, "usr/lib/os-release"); c != nil {
				content = c
			}
		}
		got, err := osrelease.ParseOSRelease(content)
		if err != nil {
			t.Fatalf("%s: %v", image, err)
		}
		want := &inventory.OS{ID: tr.OS.Fields["ID"], VersionID: tr.OS.Fields["VERSION_ID"], Codename: tr.OS.Fields["VERSION_CODENAME"], PrettyName: tr.OS.Fields["PRETTY_NAME"]}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("%s (-truth +got):\n%s", image, diff)
		}
	}
}

func TestReleaseFiles(t *testing.T) {
	a := osrelease.New()
	tests := []struct {
		path, content string
		want          *inventory.OS
	}{
		{"etc/os-release", "NAME=\"Alpine Linux\"\nID=alpine\nVERSION_ID=3.19.1\nPRETTY_NAME=\"Alpine Linux v3.19\"\n",
			&inventory.OS{ID: "alpine", VersionID: "3.19.1", PrettyName: "Alpine Linux v3.19", Source: "/etc/os-release"}},
		{"etc/os-release", "ID=\"rocky\"\nID_LIKE=\"rhel centos fedora\"\nVERSION_ID=\"9.3\"\n",
			&inventory.OS{ID: "rocky", VersionID: "9.3", IDLike: []string{"rhel", "centos", "fedora"}, Source: "/etc/os-release"}},
		{"etc/os-release", "ID=ubuntu\nVERSION_ID=\"22.04\"\nUBUNTU_CODENAME=jammy\n",
			&inventory.OS{ID: "ubuntu", VersionID: "22.04", Codename: "jammy", Source: "/etc/os-release"}},
		{"etc/os-release", "ID=wolfi\nNAME=\"Wolfi\"\nPRETTY_NAME=\"Wolfi\"\n",
			&inventory.OS{ID: "wolfi", PrettyName: "Wolfi", Source: "/etc/os-release"}},
		{"usr/lib/os-release", "ID=amzn\nVERSION_ID=\"2023\"\nID_LIKE=\"fedora\"\n",
			&inventory.OS{ID: "amzn", VersionID: "2023", IDLike: []string{"fedora"}, Source: "/usr/lib/os-release"}},
		{"etc/os-release", "NAME=\"SLES\"\nVERSION_ID=\"15.5\"\nID=\"sles\"\nID_LIKE=\"suse\"\n",
			&inventory.OS{ID: "sles", VersionID: "15.5", IDLike: []string{"suse"}, Source: "/etc/os-release"}},
		{"etc/alpine-release", "3.19.1\n", &inventory.OS{ID: "alpine", VersionID: "3.19.1", Version: "3.19.1", Source: "/etc/alpine-release"}},
		{"etc/debian_version", "12.15\n", &inventory.OS{ID: "debian", VersionID: "12", Version: "12.15", Source: "/etc/debian_version"}},
		{"etc/debian_version", "trixie/sid\n", &inventory.OS{ID: "debian", Version: "trixie/sid", Source: "/etc/debian_version"}},
		{"etc/redhat-release", "Red Hat Enterprise Linux release 8.9 (Ootpa)\n", &inventory.OS{ID: "rhel", VersionID: "8.9", PrettyName: "Red Hat Enterprise Linux release 8.9 (Ootpa)", Source: "/etc/redhat-release"}},
		{"etc/centos-release", "CentOS Linux release 7.9.2009 (Core)\n", &inventory.OS{ID: "centos", VersionID: "7.9.2009", PrettyName: "CentOS Linux release 7.9.2009 (Core)", Source: "/etc/centos-release"}},
		{"etc/lsb-release", "DISTRIB_ID=Ubuntu\nDISTRIB_RELEASE=20.04\nDISTRIB_CODENAME=focal\n", &inventory.OS{ID: "ubuntu", VersionID: "20.04", Codename: "focal", Source: "/etc/lsb-release"}},
	}
	for _, tc := range tests {
		res, err := analyzetest.File(t, a, tc.path, []byte(tc.content))
		if err != nil {
			t.Errorf("%s %q: %v", tc.path, tc.content, err)
			continue
		}
		var got *inventory.OS
		if res != nil {
			got = res.OS
		}
		if diff := cmp.Diff(tc.want, got); diff != "" {
			t.Errorf("%s %q (-want +got):\n%s", tc.path, tc.content, diff)
		}
	}
	if _, err := analyzetest.File(t, a, "etc/os-release", []byte("ID=debian\nthis is not key value\n")); err == nil {
		t.Error("malformed os-release accepted")
	}
}

func FuzzParseOSRelease(f *testing.F) {
	f.Add([]byte("ID=debian\nVERSION_ID=\"12\"\nPRETTY_NAME='x'\n# c\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		o, err := osrelease.ParseOSRelease(b)
		if err == nil && o.ID == "" {
			t.Error("empty ID")
		}
	})
}
