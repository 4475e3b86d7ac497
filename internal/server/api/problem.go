package api

import (
	"encoding/json"
	"net/http"
)

// Problem is an RFC 9457 problem document. Code is a stable,
// machine-readable code (also the last part of Type).
type Problem struct {
	Type     string `json:"type"`
	Title    string `json:"title"`
	Status   int    `json:"status"`
	Detail   string `json:"detail,omitempty"`
	Instance string `json:"instance,omitempty"`
	Code     string `json:"code"`
}

// Stable problem codes.
const (
	CodeBadRequest       = "bad-request"
	CodeBadJSON          = "invalid-json"
	CodeUnauthorized     = "unauthorized"
	CodeForbidden        = "forbidden"
	CodeNotFound         = "not-found"
	CodeMethod           = "method-not-allowed"
	CodeTooLarge         = "too-large"
	CodeMediaType        = "unsupported-media-type"
	CodeBadFormat        = "unknown-format"
	CodeScanNotDone      = "scan-not-done"
	CodeNotReady         = "not-ready"
	CodeUnavailable      = "unavailable"
	CodeInternal         = "internal"
	CodeBadInventory     = "invalid-inventory"
	CodeBadPURL          = "invalid-purl"
	CodeBadVersionRange  = "invalid-version-range"
	CodeBadImageRef      = "invalid-image-reference"
	CodeBadTriage        = "invalid-triage"
	problemTypeURNPrefix = "urn:drydock:problem:"
)

var titles = map[string]string{
	CodeBadRequest:      "Bad request",
	CodeBadJSON:         "The request body is not valid JSON for this endpoint",
	CodeUnauthorized:    "A valid bearer token is required",
	CodeForbidden:       "The token's scope does not allow this",
	CodeNotFound:        "Not found",
	CodeMethod:          "Method not allowed",
	CodeTooLarge:        "The request body is too large",
	CodeMediaType:       "Unsupported media type",
	CodeBadFormat:       "Unknown report format",
	CodeScanNotDone:     "The scan has no report yet",
	CodeNotReady:        "The server is not ready",
	CodeUnavailable:     "The service is unavailable",
	CodeInternal:        "Internal error",
	CodeBadInventory:    "The inventory cannot be read",
	CodeBadPURL:         "Not a package URL",
	CodeBadVersionRange: "Not a version range",
	CodeBadImageRef:     "Not an image reference",
	CodeBadTriage:       "The decision cannot be recorded",
}

// writeProblem answers with a problem document.
func writeProblem(w http.ResponseWriter, r *http.Request, status int, code, detail string) {
	p := Problem{Type: problemTypeURNPrefix + code, Title: titles[code], Status: status, Detail: detail, Code: code}
	if r != nil {
		p.Instance = r.URL.Path
	}
	w.Header().Set("Content-Type", "application/problem+json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(p)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
