package source

import (
	"fmt"
	"runtime"
	"slices"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// Annotations naming an image inside an OCI layout.
const (
	annotationRefName   = "org.opencontainers.image.ref.name"
	annotationImageName = "io.containerd.image.name"
)

// maxIndexDepth bounds nested indexes.
const maxIndexDepth = 4

// DefaultPlatform is linux on the host's architecture.
func DefaultPlatform() v1.Platform {
	p := v1.Platform{OS: "linux", Architecture: runtime.GOARCH}
	if runtime.GOARCH == "arm64" {
		p.Variant = "v8"
	}
	return p
}

// ParsePlatform reads "os/arch[/variant]".
func ParsePlatform(s string) (*v1.Platform, error) {
	p, err := v1.ParsePlatform(s)
	if err != nil || p.OS == "" || p.Architecture == "" {
		return nil, fmt.Errorf("invalid platform %q: want os/arch[/variant]", s)
	}
	return p, nil
}

// platformMatches compares the way container runtimes do: an empty
// variant on either side matches, and arm64 is arm64/v8.
func platformMatches(want v1.Platform, got *v1.Platform) bool {
	if got == nil {
		return false
	}
	if want.OS != got.OS || want.Architecture != got.Architecture {
		return false
	}
	wv, gv := want.Variant, got.Variant
	if want.Architecture == "arm64" {
		wv, gv = strings.TrimPrefix(wv, "v8"), strings.TrimPrefix(gv, "v8")
	}
	return wv == "" || gv == "" || wv == gv
}

func platformString(p *v1.Platform) string {
	if p == nil {
		return "unknown"
	}
	s := p.OS + "/" + p.Architecture
	if p.Variant != "" {
		s += "/" + p.Variant
	}
	return s
}

// selection is what resolving an index produced.
type selection struct {
	img      v1.Image
	desc     v1.Descriptor
	platform *v1.Platform
}

// selectImage picks, from idx, the image named ref (an OCI ref.name or
// containerd image name; "" for any) for the platform. When the caller
// gave no platform and the index holds a single platform, that one is
// taken; otherwise the default platform.
func selectImage(idx v1.ImageIndex, ref string, platform *v1.Platform, depth int) (*selection, error) {
	if depth > maxIndexDepth {
		return nil, fmt.Errorf("image indexes nested deeper than %d", maxIndexDepth)
	}
	im, err := idx.IndexManifest()
	if err != nil {
		return nil, err
	}
	var candidates []v1.Descriptor
	for _, d := range im.Manifests {
		if ref != "" && depth == 0 && !refMatches(d, ref) {
			continue
		}
		if !d.MediaType.IsImage() && !d.MediaType.IsIndex() {
			continue // attestations, signatures, artifacts
		}
		if d.Platform != nil && d.Platform.OS == "unknown" {
			continue // buildkit attestation manifests
		}
		candidates = append(candidates, d)
	}
	if len(candidates) == 0 {
		if ref != "" && depth == 0 {
			return nil, fmt.Errorf("no image named %q (have: %s)", ref, strings.Join(refNames(im), ", "))
		}
		return nil, fmt.Errorf("the index holds no image")
	}
	// Nested indexes: descend into each until a platform matches.
	var platforms []string
	var images []v1.Descriptor
	for _, d := range candidates {
		if d.MediaType.IsIndex() {
			child, err := idx.ImageIndex(d.Digest)
			if err != nil {
				return nil, fmt.Errorf("nested index %s: %w", d.Digest, err)
			}
			sel, err := selectImage(child, "", platform, depth+1)
			if err == nil {
				return sel, nil
			}
			platforms = append(platforms, err.Error())
			continue
		}
		images = append(images, d)
	}
	want := platform
	if want == nil {
		if len(images) == 1 {
			return loadSelection(idx, images[0])
		}
		p := DefaultPlatform()
		want = &p
	}
	for _, d := range images {
		if d.Platform == nil && len(images) == 1 {
			return loadSelection(idx, d)
		}
		if platformMatches(*want, d.Platform) {
			return loadSelection(idx, d)
		}
		platforms = append(platforms, platformString(d.Platform))
	}
	slices.Sort(platforms)
	return nil, fmt.Errorf("no image for platform %s (available: %s)", platformString(want), strings.Join(slices.Compact(platforms), ", "))
}

func loadSelection(idx v1.ImageIndex, d v1.Descriptor) (*selection, error) {
	img, err := idx.Image(d.Digest)
	if err != nil {
		return nil, fmt.Errorf("image %s: %w", d.Digest, err)
	}
	p := d.Platform
	if p == nil {
		if cf, err := img.ConfigFile(); err == nil {
			p = cf.Platform()
		}
	}
	return &selection{img: img, desc: d, platform: p}, nil
}

func refMatches(d v1.Descriptor, ref string) bool {
	rn := d.Annotations[annotationRefName]
	in := d.Annotations[annotationImageName]
	if rn == ref || in == ref {
		return true
	}
	// "name:tag" given, ref.name holds only the tag, or the full name.
	if in != "" && (strings.HasSuffix(in, "/"+ref) || strings.TrimPrefix(in, "docker.io/") == ref) {
		return true
	}
	return false
}

func refNames(im *v1.IndexManifest) []string {
	var out []string
	for _, d := range im.Manifests {
		if n := d.Annotations[annotationRefName]; n != "" {
			out = append(out, n)
		} else if n := d.Annotations[annotationImageName]; n != "" {
			out = append(out, n)
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}
