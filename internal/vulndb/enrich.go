package vulndb

// KEV is a CVE's entry in CISA's Known Exploited Vulnerabilities catalogue.
// Dates are as the catalogue writes them (YYYY-MM-DD).
type KEV struct {
	CVE               string `json:"cveID"`
	VendorProject     string `json:"vendorProject,omitempty"`
	Product           string `json:"product,omitempty"`
	VulnerabilityName string `json:"vulnerabilityName,omitempty"`
	DateAdded         string `json:"dateAdded"`
	DueDate           string `json:"dueDate,omitempty"`
	// KnownRansomwareCampaignUse is "Known" or "Unknown".
	KnownRansomwareCampaignUse string   `json:"knownRansomwareCampaignUse,omitempty"`
	ShortDescription           string   `json:"shortDescription,omitempty"`
	RequiredAction             string   `json:"requiredAction,omitempty"`
	Notes                      string   `json:"notes,omitempty"`
	CWEs                       []string `json:"cwes,omitempty"`
}

// ValidCVE reports whether id is a well-formed CVE id ("CVE-2024-12345").
func ValidCVE(id string) bool {
	if len(id) < 13 || len(id) > 32 || id[:4] != "CVE-" || id[8] != '-' {
		return false
	}
	for i := 4; i < len(id); i++ {
		if i == 8 {
			continue
		}
		if id[i] < '0' || id[i] > '9' {
			return false
		}
	}
	return true
}
