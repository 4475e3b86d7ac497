package cli

import (
	"maps"
	"slices"

	"github.com/spf13/cobra"

	"github.com/drydockscan/drydock/internal/analyze"
	"github.com/drydockscan/drydock/internal/inventory"
	"github.com/drydockscan/drydock/internal/pipeline"
	"github.com/drydockscan/drydock/internal/report"
	"github.com/drydockscan/drydock/internal/sbom"
)

func (a *app) sbomCommand() *cobra.Command {
	var o scanFlags
	cmd := &cobra.Command{
		Use:   "sbom FILE",
		Short: "Match an SBOM (CycloneDX, SPDX or drydock JSON) like an image",
		Long: `Read a software bill of materials — CycloneDX (JSON or XML), SPDX (JSON or
tag-value) or a drydock JSON report — and match its packages like an image's:
package URLs give the ecosystems, the document's operating-system component or
its purls' distro qualifier the distribution. Every report format and the gate
work as for drydock image.`,
		Example: `  drydock sbom supplier-sbom.cdx.json --fail-on HIGH
  drydock sbom app.spdx -o sarif=drydock.sarif`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			doc, err := sbom.ReadFile(args[0])
			if err != nil {
				return err
			}
			for _, reason := range slices.Sorted(maps.Keys(doc.Skipped)) {
				a.log.Warn("SBOM entries not matched", "reason", reason, "count", doc.Skipped[reason])
			}
			if doc.Inventory.OS == nil && slices.ContainsFunc(doc.Inventory.Packages, func(p inventory.Package) bool { return inventory.IsOS(p.Type) }) {
				a.log.Warn("the SBOM names no distribution: OS packages not matched")
			}
			inv := &pipeline.Inventoried{
				Target:    report.Target{Ref: args[0], Kind: "sbom", Name: doc.Name, ManifestDigest: doc.Digest},
				Inventory: doc.Inventory,
			}
			a.log.Debug("sbom read", "format", doc.Format, "packages", len(doc.Inventory.Packages))
			if len(doc.Inventory.Packages) == 0 {
				a.log.Warn("the SBOM lists no package drydock can match", "file", args[0])
			}
			return a.scan(cmd.Context(), args[0], analyze.ModeImage, &o, inv)
		},
	}
	o.register(cmd.Flags(), false)
	return cmd
}
