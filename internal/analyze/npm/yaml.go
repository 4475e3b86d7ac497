package npm

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"iter"

	"go.yaml.in/yaml/v3"
)

// maxYAMLNodes caps an estimate of the nodes a YAML lock file parses
// into. yaml.v3 keeps the whole node tree in memory (a few hundred bytes
// per node), so the estimate bounds memory before parsing starts.
const maxYAMLNodes = 1 << 20

// maxYAMLDocs caps the documents of one YAML file.
const maxYAMLDocs = 4

// parseYAML parses a YAML lock file into node trees, one per document.
//
// Decoding into yaml.Node, rather than into Go maps and structs, skips
// yaml.v3's duplicate-key check, which is quadratic in the keys of a
// mapping; the readers below never follow alias nodes, so aliases cannot
// expand ("billion laughs"). Nesting depth is capped by yaml.v3 itself.
func parseYAML(kind string, b []byte) ([]*yaml.Node, error) {
	if len(b) > maxYAMLLock {
		return nil, fmt.Errorf("%w: %s: %d bytes of YAML, more than %d", ErrMalformed, kind, len(b), maxYAMLLock)
	}
	est := 2*(bytes.Count(b, []byte{'\n'})+bytes.Count(b, []byte{','})) +
		bytes.Count(b, []byte{'['}) + bytes.Count(b, []byte{'{'})
	if est > maxYAMLNodes {
		return nil, fmt.Errorf("%w: %s: too many YAML nodes (about %d, at most %d)", ErrMalformed, kind, est, maxYAMLNodes)
	}
	dec := yaml.NewDecoder(bytes.NewReader(b))
	var docs []*yaml.Node
	for {
		var n yaml.Node
		err := dec.Decode(&n)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("%w: %s: %v", ErrMalformed, kind, err)
		}
		if len(docs) == maxYAMLDocs {
			return nil, fmt.Errorf("%w: %s: more than %d YAML documents", ErrMalformed, kind, maxYAMLDocs)
		}
		docs = append(docs, &n)
	}
	return docs, nil
}

// root returns a document's top node.
func root(doc *yaml.Node) *yaml.Node {
	if doc != nil && doc.Kind == yaml.DocumentNode && len(doc.Content) == 1 {
		return doc.Content[0]
	}
	return doc
}

// pairs iterates over a mapping's scalar keys and their values. Anything
// but a mapping yields nothing; so do alias nodes, which are never
// followed.
func pairs(n *yaml.Node) iter.Seq2[string, *yaml.Node] {
	return func(yield func(string, *yaml.Node) bool) {
		if n == nil || n.Kind != yaml.MappingNode {
			return
		}
		for i := 0; i+1 < len(n.Content); i += 2 {
			k := n.Content[i]
			if k.Kind != yaml.ScalarNode {
				continue
			}
			if !yield(k.Value, n.Content[i+1]) {
				return
			}
		}
	}
}

// field returns a mapping's value for key (the last one if repeated).
func field(n *yaml.Node, key string) *yaml.Node {
	var out *yaml.Node
	for k, v := range pairs(n) {
		if k == key {
			out = v
		}
	}
	return out
}

// scalar returns a scalar node's value, "" for anything else.
func scalar(n *yaml.Node) string {
	if n == nil || n.Kind != yaml.ScalarNode {
		return ""
	}
	return n.Value
}

// isMapping reports whether n is a mapping (an empty flow mapping "{}"
// included).
func isMapping(n *yaml.Node) bool { return n != nil && n.Kind == yaml.MappingNode }
