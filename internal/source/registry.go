package source

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"net/http"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// openRegistry pulls an image by reference (tag or digest).
func openRegistry(ctx context.Context, ref string, opts Options) (*Image, error) {
	var nameOpts []name.Option
	if opts.Insecure {
		nameOpts = append(nameOpts, name.Insecure)
	}
	r, err := name.ParseReference(ref, nameOpts...)
	if err != nil {
		return nil, fmt.Errorf("%q is neither a file nor a valid image reference: %w", ref, err)
	}
	ropts := []remote.Option{remote.WithContext(ctx), remote.WithTransport(transport(opts)), remote.WithUserAgent("drydock")}
	switch {
	case opts.Username != "" || opts.Password != "":
		ropts = append(ropts, remote.WithAuth(authn.FromConfig(authn.AuthConfig{Username: opts.Username, Password: opts.Password})))
	case opts.Token != "":
		ropts = append(ropts, remote.WithAuth(&authn.Bearer{Token: opts.Token}))
	case opts.Keychain != nil:
		ropts = append(ropts, remote.WithAuthFromKeychain(opts.Keychain))
	default:
		ropts = append(ropts, remote.WithAuthFromKeychain(authn.DefaultKeychain))
	}
	desc, err := remote.Get(r, ropts...)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", r.Name(), err)
	}
	img := &Image{Kind: KindRegistry, Name: r.Name()}
	if desc.MediaType.IsIndex() {
		idx, err := desc.ImageIndex()
		if err != nil {
			return nil, fmt.Errorf("%s: %w", r.Name(), err)
		}
		sel, err := selectImage(idx, "", opts.Platform, 0)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", r.Name(), err)
		}
		img.Image, img.Platform = sel.img, sel.platform
		img.IndexDigest = desc.Digest.String()
		img.ManifestDigest = sel.desc.Digest.String()
	} else {
		i, err := desc.Image()
		if err != nil {
			return nil, fmt.Errorf("%s: %w", r.Name(), err)
		}
		img.Image = i
		img.ManifestDigest = desc.Digest.String()
	}
	if err := fill(img, compressedOpener); err != nil {
		return nil, fmt.Errorf("%s: %w", r.Name(), err)
	}
	for i := range img.Layers {
		img.Layers[i].Remote = true
	}
	return img, nil
}

// transport returns the HTTP transport for registry requests: TLS is
// verified, and plain HTTP is refused unless --insecure was given or the
// registry is on the loopback interface (as Docker allows).
func transport(opts Options) http.RoundTripper {
	base := opts.Transport
	if base == nil {
		t := remote.DefaultTransport.(*http.Transport).Clone()
		if opts.Insecure {
			t.TLSClientConfig = &tls.Config{InsecureSkipVerify: true} //nolint:gosec // the user asked for --insecure
		}
		base = t
	}
	return &httpGuard{base: base, insecure: opts.Insecure}
}

type httpGuard struct {
	base     http.RoundTripper
	insecure bool
}

func (g *httpGuard) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.URL.Scheme == "http" && !g.insecure && !isLoopback(req.URL.Hostname()) {
		return nil, fmt.Errorf("refusing plain HTTP to %s: use --insecure for a registry without TLS", req.URL.Host)
	}
	return g.base.RoundTrip(req)
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
