package source

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"regexp"
	"slices"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

// openOCILayout opens an OCI layout directory or tar archive.
func openOCILayout(p, ref string, opts Options) (*Image, error) {
	st, err := os.Stat(p)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrNotFound, err)
	}
	l := &ociLayout{name: p}
	img := &Image{Kind: KindOCI}
	if st.IsDir() {
		l.fsys = os.DirFS(p)
	} else {
		t, err := openTarFS(p)
		if err != nil {
			return nil, err
		}
		l.fsys = t
		img.Kind = KindOCIArchive
		img.closers = append(img.closers, t)
	}
	if err := checkOCILayout(l.fsys); err != nil {
		img.Close()
		return nil, fmt.Errorf("%s: %w", p, err)
	}
	idx, err := l.index()
	if err != nil {
		img.Close()
		return nil, err
	}
	sel, err := selectImage(idx, ref, opts.Platform, 0)
	if err != nil {
		img.Close()
		return nil, fmt.Errorf("%s: %w", p, err)
	}
	img.Image, img.Platform = sel.img, sel.platform
	img.ManifestDigest = sel.desc.Digest.String()
	img.Name = ref
	if img.Name == "" {
		img.Name = sel.desc.Annotations[annotationImageName]
	}
	if err := fill(img, compressedOpener); err != nil {
		img.Close()
		return nil, fmt.Errorf("%s: %w", p, err)
	}
	return img, nil
}

var digestName = regexp.MustCompile(`(?:^|/)(?:sha256/)?([0-9a-f]{64})(?:\.json)?$`)

// openDockerArchive opens a `docker save` archive (classic, or Docker 25+
// with an OCI layout inside), choosing the image by tag when it holds
// several.
func openDockerArchive(p, tag string, _ Options) (*Image, error) {
	t, err := openTarFS(p)
	if err != nil {
		return nil, err
	}
	img := &Image{Kind: KindDockerArchive, closers: []io.Closer{t}}
	fail := func(err error) (*Image, error) {
		img.Close()
		return nil, fmt.Errorf("%s: %w", p, err)
	}
	raw, err := readSmall(t, "manifest.json")
	if err != nil {
		return fail(err)
	}
	var m tarball.Manifest
	if err := json.Unmarshal(raw, &m); err != nil {
		return fail(fmt.Errorf("manifest.json: %w", err))
	}
	if len(m) == 0 {
		return fail(fmt.Errorf("manifest.json lists no image"))
	}
	d, err := pickArchiveImage(m, tag)
	if err != nil {
		return fail(err)
	}
	var tagRef *name.Tag
	if len(m) > 1 || tag != "" {
		for _, rt := range d.RepoTags {
			if t, err := name.NewTag(rt); err == nil {
				tagRef = &t
				break
			}
		}
	}
	opener := func() (io.ReadCloser, error) { return os.Open(p) }
	gimg, err := tarball.Image(opener, tagRef)
	if err != nil {
		return fail(err)
	}
	img.Image = gimg
	if len(d.RepoTags) > 0 {
		img.Name = d.RepoTags[0]
	}
	rawCfg, err := readSmall(t, d.Config)
	if err != nil {
		return fail(err)
	}
	if mm := digestName.FindStringSubmatch(d.Config); mm != nil {
		if err := verifyBytes(rawCfg, v1.Hash{Algorithm: "sha256", Hex: mm[1]}); err != nil {
			return fail(fmt.Errorf("config %s: %w", d.Config, err))
		}
	}
	cf, err := v1.ParseConfigFile(bytes.NewReader(rawCfg))
	if err != nil {
		return fail(fmt.Errorf("config %s is not valid JSON: %w", d.Config, err))
	}
	img.Config, img.Platform = cf, cf.Platform()
	if len(d.Layers) != len(cf.RootFS.DiffIDs) {
		return fail(fmt.Errorf("manifest.json lists %d layers but the config has %d diff_ids", len(d.Layers), len(cf.RootFS.DiffIDs)))
	}
	var history []v1.History
	for _, h := range cf.History {
		if !h.EmptyLayer {
			history = append(history, h)
		}
	}
	var digests []v1.Hash
	for _, lp := range d.Layers {
		member := path.Clean("/" + lp)[1:]
		var h v1.Hash
		if mm := digestName.FindStringSubmatch(member); mm != nil && strings.Contains(member, "blobs/") {
			h = v1.Hash{Algorithm: "sha256", Hex: mm[1]}
		}
		digests = append(digests, h)
	}
	ociTypes, err := ociLayerTypes(t, p, d.Config, digests)
	if err != nil {
		return fail(err)
	}
	for i, lp := range d.Layers {
		member := path.Clean("/" + lp)[1:]
		st, err := fs.Stat(t, member)
		if err != nil {
			return fail(fmt.Errorf("layer %d: %w", i, err))
		}
		lay := Layer{Index: i, DiffID: cf.RootFS.DiffIDs[i], Digest: digests[i], Size: st.Size(), MediaType: "application/vnd.docker.image.rootfs.diff.tar"}
		if src, ok := d.LayerSources[lay.DiffID]; ok {
			lay.MediaType = string(src.MediaType)
		}
		if ociTypes != nil {
			lay.MediaType = ociTypes[i]
		}
		if err := checkLayerMediaType(i, lay.DiffID, lay.Digest, lay.MediaType); err != nil {
			return fail(err)
		}
		if i < len(history) {
			lay.CreatedBy = history[i].CreatedBy
		}
		lay.Open = func() (io.ReadCloser, error) {
			f, err := t.Open(member)
			if err != nil {
				return nil, err
			}
			return f.(io.ReadCloser), nil
		}
		img.Layers = append(img.Layers, lay)
	}
	return img, nil
}

// ociLayerTypes returns the layers' media types from the OCI manifest of a
// docker archive that holds an OCI layout too (docker save of Docker 25
// and later): nil when it has no oci-layout file or no manifest of the
// image whose config is the member config. The layout's version is
// checked like any OCI layout's; an OCI manifest of this image that
// lists other layers than manifest.json is refused.
func ociLayerTypes(t *tarFS, name, config string, digests []v1.Hash) ([]string, error) {
	if _, ok := t.entries["oci-layout"]; !ok {
		return nil, nil
	}
	if err := checkOCILayout(t); err != nil {
		return nil, err
	}
	mm := digestName.FindStringSubmatch(path.Clean("/" + config)[1:])
	if mm == nil {
		return nil, nil
	}
	want := v1.Hash{Algorithm: "sha256", Hex: mm[1]}
	l := &ociLayout{fsys: t, name: name}
	idx, err := l.index()
	if err != nil {
		return nil, err
	}
	m, err := findManifest(l, idx, want, 0)
	if err != nil || m == nil {
		return nil, err
	}
	if len(m.Layers) != len(digests) {
		return nil, fmt.Errorf("manifest.json lists %d layers, the OCI manifest of the same image %d", len(digests), len(m.Layers))
	}
	types := make([]string, len(m.Layers))
	for i, desc := range m.Layers {
		if digests[i] != (v1.Hash{}) && desc.Digest != digests[i] {
			return nil, fmt.Errorf("layer %d: manifest.json names blob %s, the OCI manifest of the same image %s", i, digests[i], desc.Digest)
		}
		types[i] = string(desc.MediaType)
	}
	return types, nil
}

// findManifest looks through an OCI layout's index (and the indexes it
// nests) for the image manifest whose config is config.
func findManifest(l *ociLayout, idx *layoutIndex, config v1.Hash, depth int) (*v1.Manifest, error) {
	if depth > maxIndexDepth {
		return nil, fmt.Errorf("image indexes nested deeper than %d", maxIndexDepth)
	}
	for _, d := range idx.im.Manifests {
		switch {
		case d.MediaType.IsIndex():
			raw, err := l.readVerified(d.Digest)
			if err != nil {
				return nil, err
			}
			child, err := l.newIndex(raw)
			if err != nil {
				return nil, err
			}
			if m, err := findManifest(l, child, config, depth+1); m != nil || err != nil {
				return m, err
			}
		case d.MediaType.IsImage():
			raw, err := l.readVerified(d.Digest)
			if err != nil {
				return nil, err
			}
			m, err := v1.ParseManifest(bytes.NewReader(raw))
			if err != nil {
				return nil, fmt.Errorf("%s: manifest %s: %w", l.name, d.Digest, err)
			}
			if m.Config.Digest == config {
				return m, nil
			}
		}
	}
	return nil, nil
}

func pickArchiveImage(m tarball.Manifest, tag string) (*tarball.Descriptor, error) {
	if tag == "" {
		if len(m) == 1 {
			return &m[0], nil
		}
		return nil, fmt.Errorf("the archive holds %d images; choose one with ARCHIVE:TAG (tags: %s)", len(m), strings.Join(allTags(m), ", "))
	}
	want, err := name.NewTag(tag)
	for i := range m {
		for _, rt := range m[i].RepoTags {
			if rt == tag {
				return &m[i], nil
			}
			if err == nil {
				if t, err := name.NewTag(rt); err == nil && t.Name() == want.Name() {
					return &m[i], nil
				}
			}
		}
	}
	return nil, fmt.Errorf("%w: no image tagged %q in the archive (tags: %s)", ErrNotFound, tag, strings.Join(allTags(m), ", "))
}

func allTags(m tarball.Manifest) []string {
	var out []string
	for _, d := range m {
		out = append(out, d.RepoTags...)
	}
	slices.Sort(out)
	return out
}

func readSmall(fsys fs.FS, name string) ([]byte, error) {
	name = path.Clean("/" + name)[1:]
	f, err := fsys.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxManifestSize+1))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	if len(b) > maxManifestSize {
		return nil, fmt.Errorf("%s: larger than %d bytes", name, maxManifestSize)
	}
	return b, nil
}

func openDir(p string) (*Image, error) {
	st, err := os.Stat(p)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrNotFound, err)
	}
	if !st.IsDir() {
		return nil, fmt.Errorf("%s: not a directory", p)
	}
	return &Image{Kind: KindDir, Dir: p, Name: p}, nil
}
