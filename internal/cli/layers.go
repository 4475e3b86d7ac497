package cli

import (
	"context"
	"fmt"
	"io"
	"os"

	"github.com/spf13/cobra"

	"github.com/drydockscan/drydock/internal/layers"
	"github.com/drydockscan/drydock/internal/pipeline"
	"github.com/drydockscan/drydock/internal/report"
	"github.com/drydockscan/drydock/internal/source"
)

// layersFlags are the flags of `drydock layers`.
type layersFlags struct {
	output   string
	top      int
	ci       bool
	rules    layers.Rules
	exitCode int
	src      sourceFlags
}

// sourceFlags say where and how an image is opened.
type sourceFlags struct {
	platform string
	insecure bool
	username string
	password string
	token    string
	parallel int
	imageSrc []string
}

func (s *sourceFlags) options(getenv func(string) string) (source.Options, error) {
	o := source.Options{Insecure: s.insecure, Username: s.username, Password: s.password, Token: s.token,
		DockerHost: getenv("DOCKER_HOST"), PodmanHost: getenv("CONTAINER_HOST")}
	if s.platform != "" {
		p, err := source.ParsePlatform(s.platform)
		if err != nil {
			return o, err
		}
		o.Platform = p
	}
	order, err := source.ParseImageSources(s.imageSrc)
	if err != nil {
		return o, err
	}
	o.ImageSources = order
	return o, nil
}

func (a *app) layersCommand() *cobra.Command {
	o := layersFlags{rules: layers.DefaultRules}
	cmd := &cobra.Command{
		Use:   "layers IMAGE",
		Short: "Show what each layer adds, modifies, removes and wastes",
		Long: `Show an image layer by layer: size, command, files added, modified and removed,
the final tree with the layer each path came from, and the space the layers
waste — image efficiency and wasted bytes as dive defines them (docs/layers.md).

On a terminal without -o, an interactive view opens. --ci checks dive's rules
and exits 1 (or --exit-code) when one fails.`,
		Example: `  drydock layers ../shared/corpus/debian12-app/oci
  drydock layers docker:app:1.4 -o json > layers.json
  drydock layers app.tar --ci --lowest-efficiency 0.95 --highest-wasted-bytes 20MB`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.runLayers(cmd, args[0], &o)
		},
	}
	fs := cmd.Flags()
	fs.StringVarP(&o.output, "output", "o", "", "table or json (default: the interactive view on a terminal, else table)")
	fs.IntVar(&o.top, "top", 10, "wasted paths listed in the table (0: all)")
	fs.BoolVar(&o.ci, "ci", false, "check the efficiency rules and fail when one breaks (no interactive view)")
	fs.StringVar(&o.rules.LowestEfficiency, "lowest-efficiency", o.rules.LowestEfficiency, "--ci: fail when image efficiency is below this (0…1; \"disabled\" to skip)")
	fs.StringVar(&o.rules.HighestWastedBytes, "highest-wasted-bytes", o.rules.HighestWastedBytes, "--ci: fail when wasted bytes exceed this (20MB, 1GiB; \"disabled\" to skip)")
	fs.StringVar(&o.rules.HighestUserWastedPercent, "highest-user-wasted-percent", o.rules.HighestUserWastedPercent, "--ci: fail when wasted bytes over the bytes of the layers above the first exceed this fraction (0.1 = 10%; \"disabled\" to skip)")
	fs.IntVar(&o.exitCode, "exit-code", ExitPolicy, "exit code when a --ci rule fails")
	o.src.register(fs)
	return cmd
}

func (s *sourceFlags) register(fs interface {
	StringVar(*string, string, string, string)
	BoolVar(*bool, string, bool, string)
	IntVar(*int, string, int, string)
	StringSliceVar(*[]string, string, []string, string)
}) {
	fs.StringVar(&s.platform, "platform", "", "platform to pick from multi-platform images, os/arch[/variant]")
	fs.BoolVar(&s.insecure, "insecure", false, "allow plain HTTP and unverified TLS to registries")
	fs.StringVar(&s.username, "username", "", "registry user name (default: Docker credentials)")
	fs.StringVar(&s.password, "password", "", "registry password (prefer DRYDOCK_PASSWORD)")
	fs.StringVar(&s.token, "registry-token", "", "registry bearer token")
	fs.IntVar(&s.parallel, "parallel", 0, "layers read at once (default: number of CPUs)")
	fs.StringSliceVar(&s.imageSrc, "image-src", nil, "where a bare NAME:TAG is looked for, in order: docker, podman, registry (default docker,podman,registry)")
}

func (a *app) runLayers(cmd *cobra.Command, target string, o *layersFlags) error {
	ctx := cmd.Context()
	switch o.output {
	case "", "table", "json":
	default:
		return fmt.Errorf("-o %q: drydock layers writes table or json", o.output)
	}
	if o.exitCode == ExitError || o.exitCode < 0 || o.exitCode > 125 {
		return fmt.Errorf("--exit-code %d: want 0…125, not %d", o.exitCode, ExitError)
	}
	if o.ci {
		if err := o.rules.Validate(); err != nil {
			return err
		}
	}
	sopts, err := o.src.options(a.env.Getenv)
	if err != nil {
		return err
	}
	sopts.Logger = a.log
	img, err := source.Open(ctx, target, sopts)
	if err != nil {
		return err
	}
	defer img.Close()
	entries, err := layers.Read(ctx, img, layers.Options{Parallel: o.src.parallel})
	if err != nil {
		return err
	}
	an := layers.Analyze(imageName(img), layerInfos(img), entries)
	out := a.env.Stdout
	switch {
	case o.output == "json":
		err = layers.WriteJSON(out, an)
	case o.output == "" && a.env.StdoutIsTerminal && !o.ci:
		return layers.Explore(ctx, an, os.Stdin, out)
	default:
		err = layers.WriteTable(out, an, o.top)
	}
	if err != nil {
		return err
	}
	if !o.ci {
		return nil
	}
	results, failed := o.rules.Evaluate(an)
	w := out
	if o.output == "json" {
		w = a.env.Stderr // keep stdout valid JSON
	}
	writeRules(w, results)
	if failed > 0 {
		a.log.Info("layer rules failed", "failing", failed)
		return &pipeline.GateError{Code: o.exitCode, Failing: failed}
	}
	return nil
}

func writeRules(w io.Writer, results []layers.RuleResult) {
	fmt.Fprintln(w, "\nRules:")
	for _, r := range results {
		fmt.Fprintf(w, "  %s  %s: %s\n", r.Status, r.Rule, r.Detail)
	}
}

func imageName(img *source.Image) string {
	if img.Name != "" {
		return img.Name
	}
	return img.Ref
}

func layerInfos(img *source.Image) []layers.LayerInfo {
	out := make([]layers.LayerInfo, len(img.Layers))
	for i, l := range img.Layers {
		out[i] = layers.LayerInfo{DiffID: l.DiffID.String(), CreatedBy: l.CreatedBy, BlobSize: l.Size}
		if l.Digest.Hex != "" {
			out[i].Digest = l.Digest.String()
		}
	}
	return out
}

// maxHTMLWasted is how many wasted paths the HTML report lists.
const maxHTMLWasted = 15

// layerStats reads target's layers for the HTML report's layers section.
func (a *app) layerStats(ctx context.Context, target string, sopts source.Options, parallel int) (*report.LayerStats, error) {
	sopts.Logger = a.log
	img, err := source.Open(ctx, target, sopts)
	if err != nil {
		return nil, err
	}
	defer img.Close()
	if img.Kind == source.KindDir {
		return nil, nil
	}
	entries, err := layers.Read(ctx, img, layers.Options{Parallel: parallel})
	if err != nil {
		return nil, err
	}
	return toLayerStats(layers.Analyze(imageName(img), layerInfos(img), entries)), nil
}

func toLayerStats(an *layers.Analysis) *report.LayerStats {
	s := &report.LayerStats{Efficiency: an.Efficiency, WastedBytes: an.WastedBytes, UserWastedPercent: an.UserWastedPercent,
		SizeBytes: an.SizeBytes, WastedPaths: len(an.Wasted)}
	for _, l := range an.Layers {
		s.Layers = append(s.Layers, report.LayerStat{Index: l.Index, DiffID: l.DiffID, CreatedBy: l.CreatedBy, Size: l.Size,
			Added: l.Added.Files, Modified: l.Modified.Files, Removed: l.Removed.Files,
			AddedBytes: l.Added.Bytes, ModifiedBytes: l.Modified.Bytes, RemovedBytes: l.Removed.Bytes})
	}
	for i, w := range an.Wasted {
		if i >= maxHTMLWasted {
			break
		}
		s.Wasted = append(s.Wasted, report.WastedPath{Path: w.Path, Count: w.Count, Bytes: w.Bytes})
	}
	return s
}
