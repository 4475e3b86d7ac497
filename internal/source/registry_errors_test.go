package source_test

import (
	"context"
	"crypto/tls"
	"net/http"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/drydockscan/drydock/internal/analyze"
	"github.com/drydockscan/drydock/internal/analyze/analyzers"
	"github.com/drydockscan/drydock/internal/analyze/analyzetest"
	"github.com/drydockscan/drydock/internal/scan"
	"github.com/drydockscan/drydock/internal/source"
	"github.com/drydockscan/drydock/internal/testutil/registrytest"
)

// registryInternals are what the registry client library writes in its
// errors and a user should not have to read.
var registryInternals = []string{"map[", "MANIFEST_UNKNOWN", "NAME_UNKNOWN", "BLOB_UNKNOWN", "UNAUTHORIZED", "/v2/"}

// deleteBlob removes a blob from one repository of a registry (the
// registry allows deletes), so pulling it from there fails.
func deleteBlob(t *testing.T, host, repo, digest string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodDelete, "http://"+host+"/v2/"+repo+"/blobs/"+digest, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted {
		t.Fatalf("deleting %s from %s: %s", digest, repo, resp.Status)
	}
}

// TestRegistryNotFound: a missing tag, image, repository or blob is an
// error saying what was not found, in which repository, on which registry,
// without the client library's internals.
func TestRegistryNotFound(t *testing.T) {
	corpus := analyzetest.Corpus(t)
	reg := registrytest.Start(t, registrytest.Options{})
	layout := filepath.Join(corpus, "edge-layers", "oci")
	for _, repo := range []string{"corpus/edge", "corpus/no-config", "corpus/no-layer"} {
		pushLayout(t, layout, reg.Host+"/"+repo+":1")
	}
	local, err := source.Open(context.Background(), "oci:"+layout, source.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer local.Close()
	cfg, err := local.Image.ConfigName()
	if err != nil {
		t.Fatal(err)
	}
	layer := local.Layers[1].Digest.String()
	deleteBlob(t, reg.Host, "corpus/no-config", cfg.String())
	deleteBlob(t, reg.Host, "corpus/no-layer", layer)
	zeros := "sha256:" + strings.Repeat("0", 64)

	tests := []struct {
		name, ref string
		want      string
	}{
		{"tag", reg.Host + "/corpus/edge:nope",
			`tag "nope" not found in repository "corpus/edge" on registry ` + reg.Host + ` (HTTP 404); it has 1 tag: 1`},
		{"digest", reg.Host + "/corpus/edge@" + zeros,
			`image ` + zeros + ` not found in repository "corpus/edge" on registry ` + reg.Host + ` (HTTP 404)`},
		{"repository", reg.Host + "/corpus/nothere:1",
			`repository "corpus/nothere" not found on registry ` + reg.Host + ` (HTTP 404)`},
		{"config blob", reg.Host + "/corpus/no-config:1",
			`config blob ` + cfg.String() + ` not found in repository "corpus/no-config" on registry ` + reg.Host + ` (HTTP 404)`},
		{"layer blob", reg.Host + "/corpus/no-layer:1",
			`layer 1 (` + local.Layers[1].DiffID.String() + `): opening blob: blob ` + layer + ` not found in repository "corpus/no-layer" on registry ` + reg.Host + ` (HTTP 404)`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			img, err := source.Open(ctx, tc.ref, source.Options{})
			if err == nil {
				// Layers are pulled when the scan reads them.
				_, err = scan.Image(ctx, img, scan.Options{Analyzers: analyzers.For(analyze.ModeImage)})
				img.Close()
			}
			if err == nil {
				t.Fatal("no error")
			}
			msg := err.Error()
			t.Log(msg)
			if !strings.Contains(msg, tc.want) {
				t.Errorf("error %q\nlacks %q", msg, tc.want)
			}
			for _, bad := range registryInternals {
				if strings.Contains(msg, bad) {
					t.Errorf("error %q shows the client's %q", msg, bad)
				}
			}
		})
	}
}

// TestRegistryRefused: a registry refusing anonymous access or wrong
// credentials says which registry refused which repository, and how to
// give credentials, never showing the password.
func TestRegistryRefused(t *testing.T) {
	corpus := analyzetest.Corpus(t)
	reg := registrytest.Start(t, registrytest.Options{TLS: true, Users: map[string]string{"scanner": "s3cret-pass"}})
	trusted := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: reg.CAPool}}
	good := authn.FromConfig(authn.AuthConfig{Username: "scanner", Password: "s3cret-pass"})
	pushLayout(t, filepath.Join(corpus, "edge-layers", "oci"), reg.Host+"/private/edge:1", remote.WithTransport(trusted), remote.WithAuth(good))
	want := `registry ` + reg.Host + ` refused access to repository "private/edge" (HTTP 401)`
	for name, opts := range map[string]source.Options{
		"anonymous":      {Transport: trusted, Keychain: authn.NewMultiKeychain()},
		"wrong password": {Transport: trusted, Username: "scanner", Password: "wrong-pass"},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := source.Open(context.Background(), reg.Host+"/private/edge:1", opts)
			if err == nil {
				t.Fatal("no error")
			}
			msg := err.Error()
			t.Log(msg)
			if !strings.Contains(msg, want) || !strings.Contains(msg, "--username") {
				t.Errorf("error %q\nlacks %q and how to give credentials", msg, want)
			}
			for _, bad := range append(registryInternals, "wrong-pass") {
				if strings.Contains(msg, bad) {
					t.Errorf("error %q shows %q", msg, bad)
				}
			}
		})
	}
}
