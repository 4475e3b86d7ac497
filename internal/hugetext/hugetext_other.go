//go:build !linux

package hugetext

// Outcome says what Settle found or did.
type Outcome int

// Skipped is the only outcome where the kernel has no such page cache.
const Skipped Outcome = 0

func (Outcome) String() string { return "skipped" }

// Settle does nothing on this system.
func Settle(marker string) (Outcome, error) { return Skipped, nil }
