package source

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	regtransport "github.com/google/go-containerregistry/pkg/v1/remote/transport"
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
		err = registryErr(r, manifestWhat(r), err)
		var re *registryError
		if errors.As(err, &re) && re.status == http.StatusNotFound {
			re.tags, re.noRepository = repositoryTags(r, ropts)
			if _, byTag := r.(name.Tag); !byTag {
				re.tags = ""
			}
		}
		return nil, err
	}
	img := &Image{Kind: KindRegistry, Name: r.Name()}
	if desc.MediaType.IsIndex() {
		idx, err := desc.ImageIndex()
		if err != nil {
			return nil, fmt.Errorf("%s: %w", r.Name(), err)
		}
		sel, err := selectImage(idx, "", opts.Platform, 0)
		if err != nil {
			return nil, registryErr(r, "a platform's image manifest", err)
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
	what := "the config blob"
	if m, err := img.Image.Manifest(); err == nil {
		what = "config blob " + m.Config.Digest.String()
	}
	if err := fill(img, registryOpener(r)); err != nil {
		return nil, registryErr(r, what, err)
	}
	for i := range img.Layers {
		img.Layers[i].Remote = true
	}
	return img, nil
}

// manifestWhat names what a reference asks a registry for: a tag, or an
// image by digest.
func manifestWhat(r name.Reference) string {
	if d, ok := r.(name.Digest); ok {
		return "image " + d.DigestStr()
	}
	return fmt.Sprintf("tag %q", r.Identifier())
}

// registryOpener opens a layer blob from the registry, saying which blob
// of which repository is missing or refused.
func registryOpener(r name.Reference) func(i int, l v1.Layer, d v1.Hash) func() (io.ReadCloser, error) {
	return func(_ int, l v1.Layer, d v1.Hash) func() (io.ReadCloser, error) {
		return func() (io.ReadCloser, error) {
			rc, err := l.Compressed()
			if err != nil {
				// The scan names the layer; this names the blob.
				return nil, registryErr(r, "blob "+d.String(), err)
			}
			return rc, nil
		}
	}
}

// maxTagsShown is how many of a repository's tags an error about a
// missing tag lists.
const maxTagsShown = 5

// repositoryTags asks the registry, after a manifest was not found,
// whether the repository exists and which tags it has (the first few, and
// how many), so the error can say which of the two is missing. Registries
// answer a missing repository's manifests with MANIFEST_UNKNOWN, like a
// missing tag; its tag list with NAME_UNKNOWN.
func repositoryTags(r name.Reference, ropts []remote.Option) (tags string, noRepository bool) {
	list, err := remote.List(r.Context(), ropts...)
	var te *regtransport.Error
	switch {
	case errors.As(err, &te) && te.StatusCode == http.StatusNotFound:
		return "", true
	case err != nil:
		return "", false
	case len(list) == 0:
		return "it has no tags", false
	}
	shown := list[:min(len(list), maxTagsShown)]
	tags = fmt.Sprintf("it has %d tags: %s", len(list), strings.Join(shown, ", "))
	if len(list) == 1 {
		tags = "it has 1 tag: " + list[0]
	}
	if len(list) > len(shown) {
		tags += ", …"
	}
	return tags, false
}

// registryError is a registry's "not found" or refusal said in terms of
// the image: what, in which repository, on which registry. Error leaves
// out the registry's own wording (error codes, Go maps of details); Unwrap
// gives it.
type registryError struct {
	registry, repository string
	// what names the object asked for: `tag "1.4"`, "image sha256:…",
	// "blob sha256:…".
	what   string
	status int
	code   regtransport.ErrorCode
	// noRepository is set when the repository itself does not exist;
	// tags lists some of its tags when a manifest was not found.
	noRepository bool
	tags         string
	err          error
}

func (e *registryError) Error() string {
	switch {
	case e.noRepository || e.code == regtransport.NameUnknownErrorCode:
		return fmt.Sprintf("repository %q not found on registry %s (HTTP %d)", e.repository, e.registry, e.status)
	case e.status == http.StatusNotFound && e.tags != "":
		return fmt.Sprintf("%s not found in repository %q on registry %s (HTTP %d); %s", e.what, e.repository, e.registry, e.status, e.tags)
	case e.status == http.StatusNotFound:
		return fmt.Sprintf("%s not found in repository %q on registry %s (HTTP %d)", e.what, e.repository, e.registry, e.status)
	case e.status == http.StatusUnauthorized:
		return fmt.Sprintf("registry %s refused access to repository %q (HTTP 401): credentials are missing or wrong, "+
			"or the repository does not exist; give them with --username and DRYDOCK_PASSWORD, --registry-token, or docker login",
			e.registry, e.repository)
	case e.status == http.StatusForbidden:
		return fmt.Sprintf("registry %s denied access to repository %q (HTTP 403): the credentials may not pull from it",
			e.registry, e.repository)
	}
	return fmt.Sprintf("registry %s, repository %q, %s: HTTP %d", e.registry, e.repository, e.what, e.status)
}

func (e *registryError) Unwrap() error { return e.err }

// registryErr turns the error of a registry request for what into a
// registryError when the registry answered "not found" or refused access;
// other errors (network, TLS, a platform the index lacks) keep their text,
// prefixed with the reference.
func registryErr(r name.Reference, what string, err error) error {
	var te *regtransport.Error
	if !errors.As(err, &te) {
		return fmt.Errorf("%s: %w", r.Name(), err)
	}
	switch te.StatusCode {
	case http.StatusNotFound, http.StatusUnauthorized, http.StatusForbidden:
	default:
		return fmt.Errorf("%s: %w", r.Name(), err)
	}
	e := &registryError{
		registry: r.Context().RegistryStr(), repository: r.Context().RepositoryStr(),
		what: what, status: te.StatusCode, err: err,
	}
	if len(te.Errors) > 0 {
		e.code = te.Errors[0].Code
	}
	return e
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
