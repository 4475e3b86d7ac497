package source_test

import (
	"context"
	"crypto/tls"
	"encoding/base64"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/drydockscan/drydock/internal/analyze"
	"github.com/drydockscan/drydock/internal/analyze/analyzers"
	"github.com/drydockscan/drydock/internal/analyze/analyzetest"
	"github.com/drydockscan/drydock/internal/inventory"
	"github.com/drydockscan/drydock/internal/scan"
	"github.com/drydockscan/drydock/internal/source"
	"github.com/drydockscan/drydock/internal/testutil/registrytest"
)

// pushLayout copies the OCI layout's top-level entry (an image or an index)
// to ref, with go-containerregistry.
func pushLayout(t *testing.T, layout, ref string, opts ...remote.Option) {
	t.Helper()
	img, err := source.Open(context.Background(), "oci:"+layout, source.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer img.Close()
	r, err := name.ParseReference(ref)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(r, img.Image, opts...); err != nil {
		t.Fatalf("push %s: %v", ref, err)
	}
}

func inventoryOf(t *testing.T, target string, opts source.Options) (*source.Image, []inventory.Package) {
	t.Helper()
	ctx := context.Background()
	img, err := source.Open(ctx, target, opts)
	if err != nil {
		t.Fatalf("open %s: %v", target, err)
	}
	t.Cleanup(func() { img.Close() })
	res, err := scan.Image(ctx, img, scan.Options{Analyzers: analyzers.For(analyze.ModeImage)})
	if err != nil {
		t.Fatalf("scan %s: %v", target, err)
	}
	pkgs := res.Inventory.Packages
	for i := range pkgs {
		pkgs[i].Files = nil
	}
	return img, pkgs
}

func TestRegistryAnonymous(t *testing.T) {
	corpus := analyzetest.Corpus(t)
	reg := registrytest.Start(t, registrytest.Options{})
	layout := filepath.Join(corpus, "debian12-app", "oci")
	pushLayout(t, layout, reg.Host+"/corpus/debian12-app:v1")
	_, want := inventoryOf(t, layout, source.Options{})

	byTag, got := inventoryOf(t, reg.Host+"/corpus/debian12-app:v1", source.Options{})
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("registry inventory differs from the OCI layout's (-layout +registry):\n%s", diff)
	}
	if byTag.Kind != source.KindRegistry || byTag.ManifestDigest == "" {
		t.Errorf("kind %s digest %q", byTag.Kind, byTag.ManifestDigest)
	}
	// By digest, with the explicit prefix.
	byDigest, got := inventoryOf(t, "registry:"+reg.Host+"/corpus/debian12-app@"+byTag.ManifestDigest, source.Options{})
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("by digest (-layout +registry):\n%s", diff)
	}
	if byDigest.ManifestDigest != byTag.ManifestDigest {
		t.Errorf("digest %s, want %s", byDigest.ManifestDigest, byTag.ManifestDigest)
	}
	// A tag that does not exist is an error, not an empty inventory.
	if _, err := source.Open(context.Background(), reg.Host+"/corpus/debian12-app:nope", source.Options{}); err == nil {
		t.Error("missing tag: no error")
	}
}

func TestRegistryMultiPlatform(t *testing.T) {
	corpus := analyzetest.Corpus(t)
	reg := registrytest.Start(t, registrytest.Options{})
	for _, layout := range []string{"oci", "oci-nested"} {
		dir := filepath.Join(corpus, "multiarch-busybox", layout)
		idx, err := source.OpenIndex(dir)
		if err != nil {
			t.Fatal(err)
		}
		ref, _ := name.ParseReference(reg.Host + "/corpus/multiarch:" + layout)
		if err := remote.WriteIndex(ref, idx); err != nil {
			t.Fatalf("push index: %v", err)
		}
		for _, platform := range []string{"linux/amd64", "linux/arm64", "linux/arm64/v8"} {
			p, _ := source.ParsePlatform(platform)
			_, want := inventoryOf(t, "oci:"+dir, source.Options{Platform: p})
			img, got := inventoryOf(t, ref.String(), source.Options{Platform: p})
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("%s %s (-layout +registry):\n%s", layout, platform, diff)
			}
			if img.IndexDigest == "" || img.Platform == nil || img.Platform.Architecture != p.Architecture {
				t.Errorf("%s %s: index %q platform %v", layout, platform, img.IndexDigest, img.Platform)
			}
			for _, pkg := range got {
				if pkg.Arch != "all" && pkg.Arch != p.Architecture {
					t.Errorf("%s %s: package %s has arch %s", layout, platform, pkg.Name, pkg.Arch)
				}
			}
		}
		p, _ := source.ParsePlatform("linux/s390x")
		_, err = source.Open(context.Background(), ref.String(), source.Options{Platform: p})
		if err == nil || !strings.Contains(err.Error(), "linux/amd64") || !strings.Contains(err.Error(), "linux/arm64") {
			t.Errorf("unknown platform: error %v should list the available platforms", err)
		}
	}
}

func TestRegistryTLS(t *testing.T) {
	corpus := analyzetest.Corpus(t)
	reg := registrytest.Start(t, registrytest.Options{TLS: true})
	trusted := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: reg.CAPool}}
	pushLayout(t, filepath.Join(corpus, "edge-layers", "oci"), reg.Host+"/corpus/edge:1", remote.WithTransport(trusted))
	ref := reg.Host + "/corpus/edge:1"

	// Verified TLS with the right CA.
	if _, pkgs := inventoryOf(t, ref, source.Options{Transport: trusted}); len(pkgs) == 0 {
		t.Error("no packages over verified TLS")
	}
	// Without the CA the certificate is refused: TLS is verified by default.
	_, err := source.Open(context.Background(), ref, source.Options{})
	if err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Errorf("untrusted certificate: error %v, want a certificate error", err)
	}
	// --insecure accepts it.
	if _, pkgs := inventoryOf(t, ref, source.Options{Insecure: true}); len(pkgs) == 0 {
		t.Error("no packages with --insecure")
	}
}

func TestRegistryHtpasswd(t *testing.T) {
	corpus := analyzetest.Corpus(t)
	reg := registrytest.Start(t, registrytest.Options{TLS: true, Users: map[string]string{"scanner": "s3cret-pass"}})
	trusted := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: reg.CAPool}}
	good := authn.FromConfig(authn.AuthConfig{Username: "scanner", Password: "s3cret-pass"})
	pushLayout(t, filepath.Join(corpus, "edge-layers", "oci"), reg.Host+"/private/edge:1", remote.WithTransport(trusted), remote.WithAuth(good))
	ref := reg.Host + "/private/edge:1"
	_, want := inventoryOf(t, filepath.Join(corpus, "edge-layers", "oci"), source.Options{})

	// Anonymous: refused.
	_, err := source.Open(context.Background(), ref, source.Options{Transport: trusted, Keychain: authn.NewMultiKeychain()})
	if err == nil || !strings.Contains(err.Error(), "HTTP 401") {
		t.Errorf("anonymous: error %v, want HTTP 401", err)
	}
	// Wrong password: refused, and the password is not in the error.
	_, err = source.Open(context.Background(), ref, source.Options{Transport: trusted, Username: "scanner", Password: "wrong-pass"})
	if err == nil {
		t.Error("wrong password: no error")
	} else if strings.Contains(err.Error(), "wrong-pass") {
		t.Errorf("error shows the password: %v", err)
	}
	// Flags.
	_, got := inventoryOf(t, ref, source.Options{Transport: trusted, Username: "scanner", Password: "s3cret-pass"})
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("basic auth from flags (-layout +registry):\n%s", diff)
	}
	// ~/.docker/config.json.
	cfgDir := t.TempDir()
	auth := base64.StdEncoding.EncodeToString([]byte("scanner:s3cret-pass"))
	writeFile(t, filepath.Join(cfgDir, "config.json"), `{"auths":{"`+reg.Host+`":{"auth":"`+auth+`"}}}`)
	t.Setenv("DOCKER_CONFIG", cfgDir)
	_, got = inventoryOf(t, ref, source.Options{Transport: trusted})
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("basic auth from docker config (-layout +registry):\n%s", diff)
	}
	// A credential helper named in the docker config.
	helperDir := t.TempDir()
	writeFile(t, filepath.Join(helperDir, "docker-credential-drydocktest"),
		"#!/bin/sh\nread server\necho '{\"ServerURL\":\"'$server'\",\"Username\":\"scanner\",\"Secret\":\"s3cret-pass\"}'\n")
	if err := os.Chmod(filepath.Join(helperDir, "docker-credential-drydocktest"), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", helperDir+string(os.PathListSeparator)+os.Getenv("PATH"))
	writeFile(t, filepath.Join(cfgDir, "config.json"), `{"credHelpers":{"`+reg.Host+`":"drydocktest"}}`)
	_, got = inventoryOf(t, ref, source.Options{Transport: trusted})
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("basic auth from a credential helper (-layout +registry):\n%s", diff)
	}
}

func writeFile(t *testing.T, p, s string) {
	t.Helper()
	if err := os.WriteFile(p, []byte(s), 0o600); err != nil {
		t.Fatal(err)
	}
}

func TestPlainHTTPRefusedOffLoopback(t *testing.T) {
	// A registry name that is not loopback: drydock must not fall back to
	// plain HTTP without --insecure. The transport records what it is asked.
	var asked []string
	rt := roundTripFunc(func(r *http.Request) (*http.Response, error) {
		asked = append(asked, r.URL.Scheme+"://"+r.URL.Host)
		return nil, errors.New("no network in this test")
	})
	_, err := source.Open(context.Background(), "registry:10.1.2.3:5000/app:1", source.Options{Transport: rt})
	if err == nil {
		t.Fatal("no error")
	}
	for _, a := range asked {
		if strings.HasPrefix(a, "http://") {
			t.Errorf("plain HTTP request made without --insecure: %s", a)
		}
	}
	asked = nil
	_, _ = source.Open(context.Background(), "registry:10.1.2.3:5000/app:1", source.Options{Transport: rt, Insecure: true})
	if len(asked) == 0 {
		t.Error("--insecure made no request")
	}
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// TestRegistryLayerMediaType refuses an image whose manifest lists a blob
// of another kind as a layer.
func TestRegistryLayerMediaType(t *testing.T) {
	corpus := analyzetest.Corpus(t)
	reg := registrytest.Start(t, registrytest.Options{})
	img, err := source.Open(context.Background(), filepath.Join(corpus, "edge-layers", "oci"), source.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer img.Close()
	layers, err := img.Image.Layers()
	if err != nil {
		t.Fatal(err)
	}
	for _, mt := range []types.MediaType{types.OCIConfigJSON, types.OCIManifestSchema1, "application/x-anything"} {
		bad, err := mutate.Append(empty.Image, mutate.Addendum{Layer: layers[0]}, mutate.Addendum{Layer: layers[1], MediaType: mt})
		if err != nil {
			t.Fatal(err)
		}
		bad = mutate.MediaType(bad, types.OCIManifestSchema1)
		ref, _ := name.ParseReference(reg.Host + "/hostile/media-type:" + strings.NewReplacer("/", "-", ".", "-", "+", "-").Replace(string(mt)))
		if err := remote.Write(ref, bad); err != nil {
			t.Fatalf("push: %v", err)
		}
		_, err = source.Open(context.Background(), ref.String(), source.Options{})
		if !errors.Is(err, source.ErrMediaType) || !strings.Contains(err.Error(), "layer 1 (sha256:") || !strings.Contains(err.Error(), string(mt)) {
			t.Errorf("%s: error %v, want ErrMediaType naming layer 1", mt, err)
		}
	}
}
