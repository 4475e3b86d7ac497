// Package misconfig checks how an image was built and what it will run
// as: its configuration (user, health check, ports, environment, labels),
// its history (build arguments, remote ADD, lone update instructions), its
// final file system (setuid/setgid, world-writable, package-manager
// caches, sudo) and Dockerfiles. Every check has a stable id, a severity,
// a remediation and, where one applies, its CIS Docker Benchmark v1.6.0
// control.
package misconfig

import (
	"fmt"

	"github.com/drydockscan/drydock/internal/finding"
)

// Check describes one check.
type Check struct {
	ID          string
	Title       string
	Severity    finding.Severity
	CIS         string
	Description string
	Remediation string
	// Sources lists where the check looks: config, history, file,
	// dockerfile.
	Sources []string
}

// Check ids.
const (
	RootUser          = "root-user"
	NoHealthcheck     = "no-healthcheck"
	RemoteAdminPort   = "remote-admin-port"
	SecretInEnv       = "secret-in-env"
	SecretInLabel     = "secret-in-label"
	SecretInHistory   = "secret-in-history"
	SecretInArg       = "secret-in-arg"
	AddRemoteURL      = "add-remote-url"
	UpdateAlone       = "update-alone"
	SetuidSetgid      = "setuid-setgid"
	WorldWritable     = "world-writable"
	PackageCache      = "package-manager-cache"
	SudoPresent       = "sudo-present"
	UnpinnedBaseImage = "unpinned-base-image"
	LatestTag         = "latest-tag"
	AptNoPin          = "apt-install-unpinned"
	AptNoCleanup      = "apt-install-no-cleanup"
	PipeToShell       = "curl-pipe-shell"
)

// Checks is the catalogue of every check, in documentation order.
func Checks() []Check {
	return []Check{
		{ID: RootUser, Title: "Image runs as root", Severity: finding.High, CIS: "4.1", Sources: []string{"config", "dockerfile"},
			Description: "The image sets no USER, or sets root (name or uid 0): its processes run as root, and a break-out of the container starts with root's privileges.",
			Remediation: "Create an unprivileged user in the image and add `USER <name or uid>` (not root, not 0) as the last user instruction."},
		{ID: NoHealthcheck, Title: "No HEALTHCHECK", Severity: finding.Low, CIS: "4.6", Sources: []string{"config", "dockerfile"},
			Description: "The image defines no HEALTHCHECK (or disables it): the engine cannot tell a hung container from a healthy one.",
			Remediation: "Add `HEALTHCHECK CMD <command that fails when the service is unhealthy>`."},
		{ID: RemoteAdminPort, Title: "Remote-administration port exposed", Severity: finding.High, Sources: []string{"config", "dockerfile"},
			Description: "The image exposes a remote-administration port (22 SSH, 23 telnet, 2375/2376 Docker API, 3389 RDP, 5900 VNC, 5985/5986 WinRM): containers are administered through the engine, not by logging in.",
			Remediation: "Remove the EXPOSE of the port and the server behind it; use `docker exec` or your orchestrator to get a shell."},
		{ID: SecretInEnv, Title: "Secret in an environment variable", Severity: finding.Critical, CIS: "4.10", Sources: []string{"config", "dockerfile"},
			Description: "An ENV value is, or is named like, a secret (password, token, key, credential). ENV values are stored in the image configuration, readable by anyone who can pull the image.",
			Remediation: "Remove the secret from the image; pass it at run time (orchestrator secrets, a mounted file) and rotate the exposed one."},
		{ID: SecretInLabel, Title: "Secret in a label", Severity: finding.Critical, CIS: "4.10", Sources: []string{"config", "dockerfile"},
			Description: "A label is, or is named like, a secret. Labels are stored in the image configuration, readable by anyone who can pull the image.",
			Remediation: "Remove the label and rotate the exposed secret."},
		{ID: SecretInHistory, Title: "Secret in the build history", Severity: finding.Critical, CIS: "4.10", Sources: []string{"history"},
			Description: "A history entry (`created_by`) holds a secret: build arguments used by RUN, ENV values later overwritten, or a token written into a command. The history ships with the image.",
			Remediation: "Use build secrets (`RUN --mount=type=secret`) instead of build arguments or ENV for secrets, rebuild, and rotate the exposed secret."},
		{ID: SecretInArg, Title: "Secret in a build argument", Severity: finding.High, CIS: "4.10", Sources: []string{"dockerfile"},
			Description: "An ARG is named like a secret or has a secret as default. Build arguments used by RUN are recorded in the image history.",
			Remediation: "Use build secrets (`RUN --mount=type=secret,id=…`) instead of build arguments."},
		{ID: AddRemoteURL, Title: "ADD of a remote URL", Severity: finding.Medium, CIS: "4.9", Sources: []string{"history", "dockerfile"},
			Description: "ADD fetches a remote URL at build time without verifying what it gets.",
			Remediation: "Download with a verified checksum in a RUN (or `ADD --checksum=sha256:…`), or COPY a vetted file from the build context."},
		{ID: UpdateAlone, Title: "Package index update alone in a layer", Severity: finding.Medium, CIS: "4.7", Sources: []string{"history", "dockerfile"},
			Description: "A RUN updates the package index (`apt-get update`, `apk update`, `yum makecache`) without installing in the same instruction: the cached layer keeps a stale index and later installs get old packages.",
			Remediation: "Update and install in one RUN: `RUN apt-get update && apt-get install -y … && rm -rf /var/lib/apt/lists/*`."},
		{ID: SetuidSetgid, Title: "setuid or setgid file", Severity: finding.Low, CIS: "4.8", Sources: []string{"file"},
			Description: "A file in the final file system has the setuid or setgid bit: a way to gain the owner's privileges inside the container.",
			Remediation: "Remove the bits the application does not need: `RUN find / -xdev -perm /6000 -type f -exec chmod a-s {} +`."},
		{ID: WorldWritable, Title: "World-writable file or directory", Severity: finding.Medium, Sources: []string{"file"},
			Description: "A file or directory outside the temporary directories (/tmp, /var/tmp, /dev/shm, /run/lock, /var/lock) is writable by every user.",
			Remediation: "Remove write permission for others: `chmod o-w <path>`."},
		{ID: PackageCache, Title: "Package-manager cache left in the image", Severity: finding.Low, CIS: "4.3", Sources: []string{"file"},
			Description: "Package indexes or downloaded packages (apt lists and archives, apk, yum/dnf, pip, npm caches) are left in the final file system: size, and stale metadata.",
			Remediation: "Clean in the same RUN that installs: `rm -rf /var/lib/apt/lists/*`, `apk add --no-cache`, `pip install --no-cache-dir`, `npm cache clean --force`."},
		{ID: SudoPresent, Title: "sudo installed", Severity: finding.Medium, CIS: "4.3", Sources: []string{"file"},
			Description: "sudo is installed: containers need no privilege escalation inside, and sudo's rules and setuid binary widen the attack surface.",
			Remediation: "Do not install sudo; run the steps that need root before the USER instruction."},
		{ID: UnpinnedBaseImage, Title: "Base image not pinned by digest", Severity: finding.Medium, CIS: "4.2", Sources: []string{"dockerfile"},
			Description: "FROM names an image by tag only: the tag can move, so the same Dockerfile builds on different, unvetted bases.",
			Remediation: "Pin the base image: `FROM image:tag@sha256:<digest>`, and update the digest deliberately."},
		{ID: LatestTag, Title: "Base image uses the latest tag", Severity: finding.Medium, CIS: "4.2", Sources: []string{"dockerfile"},
			Description: "FROM names an image without a tag or with `latest`: builds are not reproducible.",
			Remediation: "Name a specific version tag (and pin its digest)."},
		{ID: AptNoPin, Title: "apt-get install without version pins", Severity: finding.Low, Sources: []string{"dockerfile"},
			Description: "`apt-get install` installs packages without `package=version` pins: rebuilds get whatever the mirror has.",
			Remediation: "Pin versions (`apt-get install -y curl=7.88.1-10+deb12u5`) or build from a snapshot mirror."},
		{ID: AptNoCleanup, Title: "apt-get install without cleanup", Severity: finding.Low, CIS: "4.3", Sources: []string{"dockerfile"},
			Description: "A RUN installs with apt-get but does not remove /var/lib/apt/lists in the same instruction: the index stays in the layer.",
			Remediation: "End the RUN with `&& rm -rf /var/lib/apt/lists/*` (and use `--no-install-recommends`)."},
		{ID: PipeToShell, Title: "Remote script piped to a shell", Severity: finding.High, CIS: "4.11", Sources: []string{"dockerfile", "history"},
			Description: "A RUN downloads a script and pipes it straight into a shell (`curl … | sh`): whatever the server sends is run as root at build time, unverified.",
			Remediation: "Download to a file, verify its checksum or signature, then run it."},
	}
}

// byID indexes the catalogue.
var byID = func() map[string]Check {
	m := map[string]Check{}
	for _, c := range Checks() {
		m[c.ID] = c
	}
	return m
}()

// Lookup returns the check with the id.
func Lookup(id string) (Check, bool) {
	c, ok := byID[id]
	return c, ok
}

// newFinding makes a finding of the check id.
func newFinding(id, source, evidence string) finding.Misconfiguration {
	c, ok := byID[id]
	if !ok {
		panic(fmt.Sprintf("misconfig: unknown check %q", id))
	}
	return finding.Misconfiguration{
		ID: c.ID, Severity: c.Severity, Title: c.Title, Description: c.Description, CIS: c.CIS,
		Source: source, Evidence: evidence, Remediation: c.Remediation,
	}
}
