package analyze

// CanonicalDir exposes the merge's memoised directory resolution to the
// tests, which hold it to View.Resolve.
func CanonicalDir(v *View, dir string, memo map[string]string) string {
	return canonicalDir(v, dir, memo)
}
