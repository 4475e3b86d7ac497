package version

import (
	"fmt"
	"strings"

	"github.com/drydockscan/drydock/internal/vulndb"
)

// Affected reports whether version lies in the range described by events,
// evaluated as the OSV schema's IncludedInRanges does for one range:
//
//   - the events are taken in version order (events with equal versions
//     keep their order in the input);
//   - walking them, an introduced event at or below version makes it
//     affected, a fixed event at or below version makes it unaffected,
//     a last_affected event strictly below version makes it unaffected;
//   - if the range has limit events, version must be below at least one
//     of them ("*" is infinity).
//
// "introduced": "0" sorts before every version. An error is returned if
// version or any event's version cannot be ordered by c.
//
// Rather than sorting, Affected finds the last event (in that order) whose
// condition holds for version: its kind decides. It allocates nothing.
func Affected(c Comparer, version string, events []vulndb.Event) (bool, error) {
	if err := Validate(c, version); err != nil {
		return false, err
	}
	hasLimit, belowLimit := false, false
	last := -1 // index of the last event, in version order, that fires
	for i := range events {
		e := &events[i]
		kind, v := eventKind(e)
		switch kind {
		case evNone:
			return false, fmt.Errorf("version: range event %d has no version", i)
		case evLimit:
			hasLimit = true
			if belowLimit {
				continue
			}
			if strings.Contains(v, "*") {
				belowLimit = true
				continue
			}
			cmp, err := c.Compare(version, v)
			if err != nil {
				return false, fmt.Errorf("version: limit event: %w", err)
			}
			belowLimit = cmp < 0
			continue
		}
		fires, err := eventFires(c, version, kind, v)
		if err != nil {
			return false, err
		}
		if !fires {
			continue
		}
		if last >= 0 {
			// Events sort by version; ties keep input order, so a later
			// index wins ties.
			lk, lv := eventKind(&events[last])
			cmp, err := cmpEvents(c, lk, lv, kind, v)
			if err != nil {
				return false, err
			}
			if cmp > 0 {
				continue
			}
		}
		last = i
	}
	if hasLimit && !belowLimit {
		return false, nil
	}
	if last < 0 {
		return false, nil
	}
	k, _ := eventKind(&events[last])
	return k == evIntroduced, nil
}

const (
	evNone = iota
	evIntroduced
	evFixed
	evLastAffected
	evLimit
)

func eventKind(e *vulndb.Event) (int, string) {
	switch {
	case e.Introduced != "":
		return evIntroduced, e.Introduced
	case e.Fixed != "":
		return evFixed, e.Fixed
	case e.LastAffected != "":
		return evLastAffected, e.LastAffected
	case e.Limit != "":
		return evLimit, e.Limit
	}
	return evNone, ""
}

// isZero reports whether an event is OSV's "introduced: 0", which sorts
// before every version.
func isZero(kind int, v string) bool { return kind == evIntroduced && v == "0" }

// eventFires reports whether an event's condition holds for version.
func eventFires(c Comparer, version string, kind int, v string) (bool, error) {
	if isZero(kind, v) {
		return true, nil
	}
	cmp, err := c.Compare(version, v)
	if err != nil {
		return false, fmt.Errorf("version: range event: %w", err)
	}
	if kind == evLastAffected {
		return cmp > 0, nil
	}
	return cmp >= 0, nil
}

// cmpEvents orders two event versions, "introduced: 0" first.
func cmpEvents(c Comparer, ka int, a string, kb int, b string) (int, error) {
	za, zb := isZero(ka, a), isZero(kb, b)
	switch {
	case za && zb:
		return 0, nil
	case za:
		return -1, nil
	case zb:
		return 1, nil
	}
	cmp, err := c.Compare(a, b)
	if err != nil {
		return 0, fmt.Errorf("version: range event: %w", err)
	}
	return cmp, nil
}
