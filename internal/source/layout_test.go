package source

import (
	"encoding/json"
	"errors"
	"testing"
	"testing/fstest"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

func TestCheckOCILayout(t *testing.T) {
	tests := []struct {
		doc string // "" for no file
		ok  bool
	}{
		{`{"imageLayoutVersion":"1.0.0"}`, true},
		{"{\n    \"imageLayoutVersion\": \"1.0.0\"\n}\n", true},
		{`{"imageLayoutVersion":"1.0.0","extra":true}`, true},
		{``, false},
		{`{"imageLayoutVersion":"1.0.1"}`, false},
		{`{"imageLayoutVersion":"2.0.0"}`, false},
		{`{"imageLayoutVersion":""}`, false},
		{`{"imageLayoutVersion":1}`, false},
		{`{"imageLayoutVersion":null}`, false},
		{`{}`, false},
		{`[]`, false},
		{`"1.0.0"`, false},
		{`{"imageLayoutVersion":"1.0.0"} {"imageLayoutVersion":"2.0.0"}`, false},
		{`{"imageLayoutVersion":"1.0.0"`, false},
		{"\x00", false},
	}
	for _, tc := range tests {
		fsys := fstest.MapFS{}
		if tc.doc != "" {
			fsys["oci-layout"] = &fstest.MapFile{Data: []byte(tc.doc)}
		}
		err := checkOCILayout(fsys)
		if (err == nil) != tc.ok || (err != nil && !errors.Is(err, ErrLayoutVersion)) {
			t.Errorf("%q: %v", tc.doc, err)
		}
	}
}

func TestLayerMediaTypes(t *testing.T) {
	for mt, ok := range map[string]bool{
		"application/vnd.oci.image.layer.v1.tar+gzip":                  true,
		"application/vnd.oci.image.layer.v1.tar+zstd":                  true,
		"application/vnd.oci.image.layer.v1.tar":                       true,
		"application/vnd.oci.image.layer.nondistributable.v1.tar+gzip": true,
		"application/vnd.oci.image.layer.nondistributable.v1.tar+zstd": true,
		"application/vnd.oci.image.layer.nondistributable.v1.tar":      true,
		"application/vnd.docker.image.rootfs.diff.tar.gzip":            true,
		"application/vnd.docker.image.rootfs.diff.tar":                 true,
		"application/vnd.docker.image.rootfs.foreign.diff.tar.gzip":    true,
		"application/vnd.oci.image.config.v1+json":                     false,
		"application/vnd.oci.image.manifest.v1+json":                   false,
		"application/vnd.oci.image.index.v1+json":                      false,
		"application/vnd.docker.container.image.v1+json":               false,
		"application/vnd.docker.distribution.manifest.v2+json":         false,
		"application/vnd.in-toto+json":                                 false,
		"application/vnd.oci.image.layer.v1.tar+gzip+encrypted":        false,
		"application/vnd.oci.image.layer.v1.tar+GZIP":                  false,
		" application/vnd.oci.image.layer.v1.tar+gzip":                 false,
		"":           false,
		"text/plain": false,
		"application/vnd.docker.image.rootfs.diff.tar.gzip; charset=utf8": false,
	} {
		err := checkLayerMediaType(3, v1.Hash{Algorithm: "sha256", Hex: "ab"}, v1.Hash{}, mt)
		if (err == nil) != ok || (err != nil && !errors.Is(err, ErrMediaType)) {
			t.Errorf("%q: %v", mt, err)
		}
	}
}

// FuzzCheckOCILayout: any oci-layout file is either the one version
// drydock knows or refused, without a panic.
func FuzzCheckOCILayout(f *testing.F) {
	f.Add([]byte(`{"imageLayoutVersion":"1.0.0"}`))
	f.Add([]byte(`{"imageLayoutVersion":"1.1.0"}`))
	f.Add([]byte(`[`))
	f.Fuzz(func(t *testing.T, doc []byte) {
		err := checkOCILayout(fstest.MapFS{"oci-layout": &fstest.MapFile{Data: doc}})
		if err != nil {
			return
		}
		var v struct {
			Version string `json:"imageLayoutVersion"`
		}
		if json.Unmarshal(doc, &v) != nil || v.Version != ociLayoutVersion {
			t.Errorf("accepted %q", doc)
		}
	})
}
