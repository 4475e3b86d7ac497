package cli

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/drydockscan/drydock/internal/analyze"
	"github.com/drydockscan/drydock/internal/analyze/analyzers"
	"github.com/drydockscan/drydock/internal/buildinfo"
	"github.com/drydockscan/drydock/internal/report"
	"github.com/drydockscan/drydock/internal/scan"
	"github.com/drydockscan/drydock/internal/source"
)

// scanFlags are the flags of the scanning commands.
type scanFlags struct {
	outputs  []string
	platform string
	insecure bool
	username string
	password string
	token    string
	parallel int
}

func (o *scanFlags) register(fs *pflag.FlagSet, image bool) {
	fs.StringArrayVarP(&o.outputs, "output", "o", nil, "report FORMAT[=FILE]; repeat for several reports from one scan (formats: "+formatNames()+"; default table)")
	fs.IntVar(&o.parallel, "parallel", 0, "layers analysed at once (default: number of CPUs)")
	if image {
		fs.StringVar(&o.platform, "platform", "", "platform to pick from multi-platform images, os/arch[/variant] (default: the only one, else linux/<host arch>)")
		fs.BoolVar(&o.insecure, "insecure", false, "allow plain HTTP and unverified TLS to registries")
		fs.StringVar(&o.username, "username", "", "registry user name (default: Docker credentials)")
		fs.StringVar(&o.password, "password", "", "registry password (prefer DRYDOCK_PASSWORD)")
		fs.StringVar(&o.token, "registry-token", "", "registry bearer token")
	}
}

func formatNames() string {
	var n []string
	for _, f := range report.Formats() {
		n = append(n, f.Name)
	}
	return strings.Join(n, ", ")
}

func (a *app) imageCommand() *cobra.Command {
	var o scanFlags
	cmd := &cobra.Command{
		Use:   "image TARGET",
		Short: "Scan a container image",
		Long: `Scan a container image: a docker save archive, an OCI layout (directory or tar),
a registry reference, or a root file-system directory. The kind is detected;
prefixes force it: docker-archive:PATH[:TAG], oci:PATH[:REF], oci-archive:PATH[:REF],
registry:REF, dir:PATH.`,
		Example: `  drydock image ../shared/corpus/debian12-app/oci
  drydock image registry.example.com/team/app:1.4 -o json=report.json -o table
  drydock image --platform linux/arm64 oci:./layout:latest`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.runScan(cmd.Context(), args[0], analyze.ModeImage, &o)
		},
	}
	o.register(cmd.Flags(), true)
	return cmd
}

func (a *app) fsCommand() *cobra.Command {
	var o scanFlags
	cmd := &cobra.Command{
		Use:   "fs DIR",
		Short: "Scan a project directory (lock files, manifests, binaries)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.runScan(cmd.Context(), "dir:"+args[0], analyze.ModeFS, &o)
		},
	}
	o.register(cmd.Flags(), false)
	return cmd
}

// output is one requested report.
type output struct {
	format report.Format
	path   string // "" for stdout
}

func parseOutputs(specs []string) ([]output, error) {
	if len(specs) == 0 {
		specs = []string{"table"}
	}
	var out []output
	for _, s := range specs {
		name, path, _ := strings.Cut(s, "=")
		f, err := report.Lookup(name)
		if err != nil {
			return nil, err
		}
		out = append(out, output{format: f, path: path})
	}
	return out, nil
}

func (a *app) runScan(ctx context.Context, target string, mode analyze.Mode, o *scanFlags) error {
	outputs, err := parseOutputs(o.outputs)
	if err != nil {
		return err
	}
	opts := source.Options{Insecure: o.insecure, Username: o.username, Password: o.password, Token: o.token, Logger: a.log}
	if o.platform != "" {
		p, err := source.ParsePlatform(o.platform)
		if err != nil {
			return err
		}
		opts.Platform = p
	}
	img, err := source.Open(ctx, target, opts)
	if err != nil {
		return err
	}
	defer img.Close()
	a.log.Debug("image opened", "kind", img.Kind, "name", img.Name, "layers", len(img.Layers), "platform", platformOf(img))
	res, err := scan.Image(ctx, img, scan.Options{Analyzers: analyzers.For(mode), Parallel: o.parallel, Logger: a.log})
	if err != nil {
		return err
	}
	a.log.Debug("scan done", "duration", res.Stats.Duration, "packages", len(res.Inventory.Packages), "entries", res.Stats.Entries)
	for name, d := range res.Stats.PerAnalyzer {
		a.log.Debug("analyzer time", "analyzer", name, "duration", d)
	}
	rep := report.New(report.Tool{Name: "drydock", Version: buildinfo.Version()}, targetOf(img), &res.Inventory)
	for _, out := range outputs {
		if err := writeOutput(out, rep, a.env.Stdout); err != nil {
			return err
		}
	}
	return nil
}

func platformOf(img *source.Image) string {
	if img.Platform == nil {
		return ""
	}
	s := img.Platform.OS + "/" + img.Platform.Architecture
	if img.Platform.Variant != "" {
		s += "/" + img.Platform.Variant
	}
	return s
}

func targetOf(img *source.Image) report.Target {
	t := report.Target{
		Ref: img.Ref, Kind: string(img.Kind), Name: img.Name,
		ManifestDigest: img.ManifestDigest, IndexDigest: img.IndexDigest, Platform: platformOf(img),
	}
	if img.Image != nil {
		if d, err := img.Image.ConfigName(); err == nil {
			t.ConfigDigest = d.String()
		}
	}
	if img.Config != nil && !img.Config.Created.IsZero() {
		t.Created = img.Config.Created.UTC().Format("2006-01-02T15:04:05Z07:00")
	}
	return t
}

// writeOutput writes one report to stdout or, atomically, to a file.
func writeOutput(out output, rep *report.Report, stdout io.Writer) error {
	if out.path == "" || out.path == "-" {
		return out.format.Write(stdout, rep, report.Options{})
	}
	dir := filepath.Dir(out.path)
	f, err := os.CreateTemp(dir, ".drydock-report-*")
	if err != nil {
		return fmt.Errorf("writing %s report: %w", out.format.Name, err)
	}
	defer os.Remove(f.Name())
	if err := out.format.Write(f, rep, report.Options{}); err != nil {
		f.Close()
		return fmt.Errorf("writing %s report to %s: %w", out.format.Name, out.path, err)
	}
	if err := f.Chmod(0o644); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(f.Name(), out.path)
}
