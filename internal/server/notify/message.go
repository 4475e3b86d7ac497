package notify

import (
	"encoding/json"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/drydockscan/drydock/internal/server/store"
)

// Message is what every channel says about one event.
type Message struct {
	// Delivery is the delivery's id (event id and channel): receivers
	// may use it to drop a message they already have.
	Delivery string `json:"delivery"`
	Rule     string `json:"rule"`
	// Summary is one line saying what happened.
	Summary string      `json:"summary"`
	Event   store.Event `json:"event"`
	// Image is the image the event is about, when it is about one.
	Image *Image `json:"image,omitempty"`
	// Link opens the event's page in the server's UI (with public-url).
	Link string `json:"link,omitempty"`
}

// Image names the image an event is about.
type Image struct {
	Digest     string       `json:"digest"`
	Repository string       `json:"repository,omitempty"`
	Tags       []string     `json:"tags,omitempty"`
	Counts     store.Counts `json:"counts"`
	Gate       string       `json:"gate,omitempty"`
}

// eventData is what the summary reads of an event's data.
type eventData struct {
	Package struct {
		Name    string `json:"name"`
		Version string `json:"version"`
	} `json:"package"`
	Severity      string   `json:"severity"`
	FixedVersions []string `json:"fixed_versions"`
	Title         string   `json:"title"`
	From          string   `json:"from"`
	To            string   `json:"to"`
	Failing       int      `json:"failing"`
	Repository    string   `json:"repository"`
	Tag           string   `json:"tag"`
	Ref           string   `json:"ref"`
	Error         string   `json:"error"`
}

// newMessage describes an event.
func newMessage(delivery, rule string, e store.Event, im *Image, publicURL string) Message {
	m := Message{Delivery: delivery, Rule: rule, Event: e, Image: im}
	var d eventData
	_ = json.Unmarshal(e.Data, &d)
	name := ""
	if im != nil {
		name = im.Repository
		if len(im.Tags) > 0 {
			name += ":" + strings.Join(im.Tags, ",")
		}
		if name == "" {
			name = shortDigest(im.Digest)
		} else {
			name += " (" + shortDigest(im.Digest) + ")"
		}
	}
	pkg := d.Package.Name + " " + d.Package.Version
	switch e.Type {
	case store.EventFindingNew:
		m.Summary = fmt.Sprintf("New %s finding %s in %s of %s", d.Severity, e.VulnID, pkg, name)
	case store.EventFindingResolved:
		m.Summary = fmt.Sprintf("Resolved: %s in %s of %s", e.VulnID, pkg, name)
	case store.EventFindingKEV:
		m.Summary = fmt.Sprintf("%s (%s, in %s of %s) is now in CISA's Known Exploited Vulnerabilities catalogue", e.VulnID, d.Severity, pkg, name)
	case store.EventFixAvailable:
		m.Summary = fmt.Sprintf("A fix is available for %s in %s of %s: %s", e.VulnID, pkg, name, strings.Join(d.FixedVersions, ", "))
	case store.EventGateChanged:
		m.Summary = fmt.Sprintf("Gate verdict of %s changed from %s to %s (%d failing findings)", name, d.From, d.To, d.Failing)
	case store.EventScanFailed:
		m.Summary = fmt.Sprintf("Scan of %s failed: %s", d.Ref, d.Error)
	case store.EventImageAdded:
		m.Summary = "New image " + name
	case store.EventTagMoved:
		m.Summary = fmt.Sprintf("Tag %s:%s moved from %s to %s", d.Repository, d.Tag, shortDigest(d.From), shortDigest(e.Digest))
	case store.EventTagRemoved:
		m.Summary = fmt.Sprintf("Tag %s:%s was removed from its registry", d.Repository, d.Tag)
	case store.EventImageGone:
		m.Summary = fmt.Sprintf("Image %s is gone from its registry", name)
	case store.EventTriageExpired:
		m.Summary = fmt.Sprintf("An acceptance expired (%s %s): its findings count again", e.VulnID, name)
	default:
		m.Summary = e.Type + " " + name
	}
	if d.Title != "" && (e.Type == store.EventFindingNew || e.Type == store.EventFindingKEV) {
		m.Summary += " — " + d.Title
	}
	if publicURL != "" {
		base := strings.TrimSuffix(publicURL, "/")
		switch {
		case e.VulnID != "" && e.Digest == "":
			m.Link = base + "/ui/#/vulnerability/" + url.PathEscape(e.VulnID)
		case e.Digest != "":
			m.Link = base + "/ui/#/image/" + url.PathEscape(e.Digest)
		default:
			m.Link = base + "/ui/#/events"
		}
	}
	return m
}

func shortDigest(d string) string {
	if i := strings.IndexByte(d, ':'); i >= 0 && len(d) > i+13 {
		return d[:i+13]
	}
	return d
}

// facts are the message's details as label/value pairs (chat cards and
// mail bodies).
func (m *Message) facts() [][2]string {
	var d eventData
	_ = json.Unmarshal(m.Event.Data, &d)
	var out [][2]string
	add := func(k, v string) {
		if strings.TrimSpace(v) != "" {
			out = append(out, [2]string{k, v})
		}
	}
	add("Event", m.Event.Type)
	if m.Image != nil {
		add("Repository", m.Image.Repository)
		add("Tags", strings.Join(m.Image.Tags, ", "))
		add("Digest", m.Image.Digest)
		add("Gate", m.Image.Gate)
	}
	add("Vulnerability", m.Event.VulnID)
	add("Severity", d.Severity)
	add("Package", strings.TrimSpace(d.Package.Name+" "+d.Package.Version))
	add("Fixed in", strings.Join(d.FixedVersions, ", "))
	add("When", m.Event.At.UTC().Format(time.RFC3339))
	add("Rule", m.Rule)
	add("Link", m.Link)
	return out
}
