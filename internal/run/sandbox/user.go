package sandbox

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strconv"
	"strings"

	"github.com/drydockscan/drydock/internal/run/rootfs"
)

// User is the identity the container's program runs as.
type User struct {
	UID, GID uint32
	Groups   []uint32
	Home     string
}

// maxIDFile caps /etc/passwd and /etc/group as read from an image.
const maxIDFile = 4 << 20

// ResolveUser reads spec as docker run --user does — "user[:group]", each
// a name or a number — against the image's /etc/passwd and /etc/group.
// A number that the files do not know is used as it is (with group 0 when
// no group is given); a name they do not know is an error.
func ResolveUser(root *os.Root, spec string) (User, error) {
	u := User{Home: "/"}
	name, group, hasGroup := strings.Cut(spec, ":")
	passwd := readIDFile(root, "etc/passwd")
	groups := readIDFile(root, "etc/group")
	userName := ""
	switch {
	case name == "":
	case isNumber(name):
		n, err := parseID(name)
		if err != nil {
			return u, fmt.Errorf("--user %q: %w", spec, err)
		}
		u.UID = n
		for _, f := range passwd {
			if len(f) >= 6 && f[2] == name {
				userName = f[0]
				u.GID, _ = parseID(f[3])
				u.Home = f[5]
				break
			}
		}
	default:
		found := false
		for _, f := range passwd {
			if len(f) >= 6 && f[0] == name {
				uid, err1 := parseID(f[2])
				gid, err2 := parseID(f[3])
				if err1 != nil || err2 != nil {
					return u, fmt.Errorf("--user %q: bad /etc/passwd entry for %s", spec, name)
				}
				u.UID, u.GID, u.Home, userName, found = uid, gid, f[5], name, true
				break
			}
		}
		if !found {
			return u, fmt.Errorf("--user %q: no user %q in the image's /etc/passwd", spec, name)
		}
	}
	if hasGroup {
		switch {
		case isNumber(group):
			n, err := parseID(group)
			if err != nil {
				return u, fmt.Errorf("--user %q: %w", spec, err)
			}
			u.GID = n
		default:
			found := false
			for _, f := range groups {
				if len(f) >= 3 && f[0] == group {
					gid, err := parseID(f[2])
					if err != nil {
						return u, fmt.Errorf("--user %q: bad /etc/group entry for %s", spec, group)
					}
					u.GID, found = gid, true
					break
				}
			}
			if !found {
				return u, fmt.Errorf("--user %q: no group %q in the image's /etc/group", spec, group)
			}
		}
	}
	if userName != "" {
		for _, f := range groups {
			if len(f) < 4 {
				continue
			}
			for _, m := range strings.Split(f[3], ",") {
				if m == userName {
					if gid, err := parseID(f[2]); err == nil && gid != u.GID {
						u.Groups = append(u.Groups, gid)
					}
				}
			}
		}
	}
	return u, nil
}

func isNumber(s string) bool {
	if s == "" {
		return false
	}
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	return true
}

func parseID(s string) (uint32, error) {
	n, err := strconv.ParseUint(s, 10, 32)
	if err != nil {
		return 0, fmt.Errorf("bad id %q", s)
	}
	return uint32(n), nil
}

// readIDFile reads a colon-separated file of the image, its links
// resolved inside the root; a missing or unreadable file is empty.
func readIDFile(root *os.Root, p string) [][]string {
	rp, err := rootfs.Resolve(root, p)
	if err != nil {
		return nil
	}
	f, err := root.Open(rp)
	if err != nil {
		return nil
	}
	defer f.Close()
	if st, err := f.Stat(); err != nil || !st.Mode().IsRegular() {
		return nil
	}
	b, err := io.ReadAll(io.LimitReader(f, maxIDFile))
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	var out [][]string
	for _, line := range strings.Split(string(b), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		out = append(out, strings.Split(line, ":"))
	}
	return out
}
