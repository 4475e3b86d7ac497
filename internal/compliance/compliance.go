// Package compliance builds compliance reports from a scan's findings:
// each control of a benchmark is pass, fail or manual (cannot be decided
// from an image), with the evidence and the remediation.
package compliance

import (
	"fmt"
	"slices"
	"strings"

	"github.com/drydockscan/drydock/internal/finding"
	"github.com/drydockscan/drydock/internal/misconfig"
	"github.com/drydockscan/drydock/internal/report"
)

// CISDocker16 is the id of the CIS Docker Benchmark v1.6.0 image controls.
const CISDocker16 = "cis-docker-1.6"

// Specs lists the compliance reports drydock builds.
func Specs() []string { return []string{CISDocker16} }

// control is one benchmark control and how drydock decides it.
type control struct {
	id, title, remediation string
	// checks are the misconfiguration checks that fail it.
	checks []string
	// secrets: secrets in files fail it too.
	secrets bool
	// vulns: fixable vulnerabilities fail it; no fixable one passes it.
	vulns bool
	// manual: without a failing check the control needs a person.
	manual string
}

var cisDocker16 = []control{
	{id: "4.1", title: "Ensure that a user for the container has been created", checks: []string{misconfig.RootUser},
		remediation: "Create a non-root user in the image and set it with USER."},
	{id: "4.2", title: "Ensure that containers use only trusted base images", checks: []string{misconfig.UnpinnedBaseImage, misconfig.LatestTag},
		manual:      "Whether the base image is trusted depends on where it comes from; drydock cannot decide it from the image.",
		remediation: "Build from vetted base images, pinned by digest, from a registry you trust; verify their signatures."},
	{id: "4.3", title: "Ensure that unnecessary packages are not installed in the container", checks: []string{misconfig.SudoPresent, misconfig.PackageCache},
		manual:      "Which packages are necessary depends on the application; review the inventory.",
		remediation: "Install only what the application needs (--no-install-recommends, minimal or distroless bases); remove caches and sudo."},
	{id: "4.4", title: "Ensure images are scanned and rebuilt to include security patches", vulns: true,
		manual:      "The vulnerability scanner did not run.",
		remediation: "Rebuild the image on an updated base and upgrade the packages with published fixes; scan in CI."},
	{id: "4.5", title: "Ensure Content trust for Docker is enabled",
		manual:      "Content trust is a setting of the engine and registry (DOCKER_CONTENT_TRUST=1), not of the image.",
		remediation: "Set DOCKER_CONTENT_TRUST=1 where images are pulled and built, or verify signatures (cosign, Notation) at admission."},
	{id: "4.6", title: "Ensure that HEALTHCHECK instructions have been added to container images", checks: []string{misconfig.NoHealthcheck},
		remediation: "Add a HEALTHCHECK instruction."},
	{id: "4.7", title: "Ensure update instructions are not used alone in Dockerfiles", checks: []string{misconfig.UpdateAlone},
		remediation: "Combine the package index update with the install in one RUN."},
	{id: "4.8", title: "Ensure setuid and setgid permissions are removed", checks: []string{misconfig.SetuidSetgid},
		remediation: "Remove setuid and setgid bits the application does not need."},
	{id: "4.9", title: "Ensure that COPY is used instead of ADD in Dockerfiles", checks: []string{misconfig.AddRemoteURL},
		remediation: "Use COPY for local files and a verified download for remote ones."},
	{id: "4.10", title: "Ensure secrets are not stored in Dockerfiles", checks: []string{misconfig.SecretInEnv, misconfig.SecretInLabel, misconfig.SecretInHistory, misconfig.SecretInArg}, secrets: true,
		remediation: "Remove secrets from the image, its configuration and its history; use build secrets and run-time secrets; rotate exposed ones."},
	{id: "4.11", title: "Ensure only verified packages are installed", checks: []string{misconfig.PipeToShell},
		manual:      "Whether every package was verified (signed repositories, checksums) cannot be fully decided from the image.",
		remediation: "Install from signed package repositories; verify checksums or signatures of anything downloaded."},
	{id: "4.12", title: "Ensure all signed artifacts are validated",
		manual:      "Signature validation happens when artifacts are fetched, not in the image.",
		remediation: "Validate the signatures of base images and downloaded artifacts in the build."},
}

// Build builds the named compliance report from a judged report.
func Build(spec string, r *report.Report) (*report.Compliance, error) {
	if spec != CISDocker16 {
		return nil, fmt.Errorf("--compliance: unknown specification %q (have: %s)", spec, strings.Join(Specs(), ", "))
	}
	c := &report.Compliance{Spec: spec, Title: "CIS Docker Benchmark v1.6.0, section 4: Container Images and Build File Configuration"}
	configRan := r.Misconfigurations != nil
	for _, ctl := range cisDocker16 {
		cc := report.ComplianceControl{ID: ctl.id, Title: ctl.title, Checks: slices.Clone(ctl.checks), Remediation: ctl.remediation, Evidence: []string{}}
		failing := false
		for _, m := range r.Misconfigurations {
			if m.Suppression == nil && slices.Contains(ctl.checks, m.ID) {
				failing = true
				ev := m.ID + ": " + m.Evidence
				if m.Line > 0 {
					ev = fmt.Sprintf("%s (%s:%d)", ev, m.Path, m.Line)
				}
				cc.Evidence = append(cc.Evidence, ev)
			}
		}
		if ctl.secrets {
			for _, s := range r.Secrets {
				if s.Suppression != nil {
					continue
				}
				failing = true
				where := fmt.Sprintf("added in layer %d", s.LayerIndex)
				if s.RemovedInLayerIndex != nil {
					where += fmt.Sprintf(", deleted in layer %d (still shipped)", *s.RemovedInLayerIndex)
				}
				cc.Evidence = append(cc.Evidence, fmt.Sprintf("%s in %s, %s: %s", s.ID, s.Path, where, s.Match))
			}
		}
		switch {
		case failing:
			cc.Status = report.StatusFail
		case ctl.vulns:
			cc.Status, cc.Evidence = vulnStatus(r, ctl)
		case len(ctl.checks) > 0 && ctl.manual == "" && configRan:
			cc.Status = report.StatusPass
			cc.Evidence = append(cc.Evidence, "no finding of "+strings.Join(ctl.checks, ", "))
		case len(ctl.checks) > 0 && ctl.manual == "":
			cc.Status = report.StatusManual
			cc.Evidence = append(cc.Evidence, "the config scanner did not run")
		default:
			cc.Status = report.StatusManual
			if len(ctl.checks) > 0 && configRan {
				cc.Evidence = append(cc.Evidence, "no finding of "+strings.Join(ctl.checks, ", "))
			}
			cc.Evidence = append(cc.Evidence, ctl.manual)
		}
		switch cc.Status {
		case report.StatusPass:
			c.Pass++
		case report.StatusFail:
			c.Fail++
		default:
			c.Manual++
		}
		c.Controls = append(c.Controls, cc)
	}
	return c, nil
}

// vulnStatus decides 4.4: fail with the fixable vulnerabilities, pass
// without any, manual when no database was used.
func vulnStatus(r *report.Report, ctl control) (string, []string) {
	if r.Database == nil && r.Vulnerabilities == nil {
		return report.StatusManual, []string{ctl.manual}
	}
	fixable := map[string]bool{}
	var ids []string
	for _, f := range r.Vulnerabilities {
		if f.Suppression != nil || f.Status != finding.StatusFixed {
			continue
		}
		key := f.Package.Name + " " + f.Package.Version
		if !fixable[key] {
			fixable[key] = true
			ids = append(ids, key)
		}
	}
	if len(ids) == 0 {
		return report.StatusPass, []string{"no unsuppressed vulnerability with a published fix"}
	}
	slices.Sort(ids)
	ev := []string{fmt.Sprintf("%d packages have vulnerabilities with a published fix", len(ids))}
	if len(ids) > 20 {
		ids = append(ids[:20], "…")
	}
	return report.StatusFail, append(ev, strings.Join(ids, ", "))
}
