package cli

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"go.yaml.in/yaml/v3"
)

// sectionKeys are the configuration file's structured sections, read by
// the commands that use them rather than as flags: notify (the server's
// notification rules and channels) and watch's credentials.
var sectionKeys = []string{"notify"}

// applyConfig fills every flag the user did not set on the command line
// from the environment (DRYDOCK_<FLAG_NAME>) or, failing that, from the
// configuration file. Keys of the file are flag names; nested maps join
// their keys with "-" (db: {path: x} is db-path). The structured sections
// (notify, and watch's credentials) go into sections; a watch map's
// repositories and interval are the flags --watch and --watch-interval.
func applyConfig(cmd *cobra.Command, path string, getenv func(string) string, sections map[string]any) error {
	explicit := path != ""
	if path == "" {
		path = getenv("DRYDOCK_CONFIG")
		explicit = path != ""
	}
	if path == "" {
		if dir, err := os.UserConfigDir(); err == nil {
			path = filepath.Join(dir, "drydock", "config.yaml")
		}
	}
	values := map[string][]string{}
	if path != "" {
		b, err := os.ReadFile(path)
		switch {
		case err == nil:
			if len(b) > 1<<20 {
				return fmt.Errorf("config %s: larger than 1 MiB", path)
			}
			var doc map[string]any
			if err := yaml.Unmarshal(b, &doc); err != nil {
				return fmt.Errorf("config %s: %w", path, err)
			}
			for _, k := range sectionKeys {
				if v, ok := doc[k]; ok {
					sections[k] = v
					delete(doc, k)
				}
			}
			if w, ok := doc["watch"].(map[string]any); ok {
				// watch: {repositories: [...], interval: 5m, credentials: {host: {...}}}
				if c, ok := w["credentials"]; ok {
					sections["watch-credentials"] = c
					delete(w, "credentials")
				}
				if r, ok := w["repositories"]; ok {
					doc["watch"] = r
				} else {
					delete(doc, "watch")
				}
				if iv, ok := w["interval"]; ok {
					doc["watch-interval"] = iv
				}
				for k := range w {
					if k != "repositories" && k != "interval" {
						return fmt.Errorf("config %s: unknown setting watch.%s (have repositories, interval, credentials)", path, k)
					}
				}
			}
			if err := flatten("", doc, values); err != nil {
				return fmt.Errorf("config %s: %w", path, err)
			}
		case errors.Is(err, os.ErrNotExist) && !explicit:
		default:
			return fmt.Errorf("config: %w", err)
		}
	}
	known := allFlagNames(cmd.Root())
	for k := range values {
		if !slices.Contains(known, k) {
			return fmt.Errorf("config %s: unknown setting %q", path, k)
		}
	}
	var err error
	cmd.Flags().VisitAll(func(f *pflag.Flag) {
		if err != nil || f.Changed || f.Name == "config" || f.Name == "help" {
			return
		}
		env := "DRYDOCK_" + strings.ToUpper(strings.ReplaceAll(f.Name, "-", "_"))
		var vals []string
		if v := getenv(env); v != "" {
			if isList(f) {
				vals = strings.Split(v, ",")
			} else {
				vals = []string{v}
			}
		} else if v, ok := values[f.Name]; ok {
			vals = v
		}
		for _, v := range vals {
			if e := f.Value.Set(strings.TrimSpace(v)); e != nil {
				err = fmt.Errorf("setting %s from %s or the config file: %w", f.Name, env, e)
				return
			}
		}
	})
	return err
}

func isList(f *pflag.Flag) bool {
	t := f.Value.Type()
	return strings.HasSuffix(t, "Array") || strings.HasSuffix(t, "Slice")
}

func flatten(prefix string, m map[string]any, out map[string][]string) error {
	for k, v := range m {
		key := k
		if prefix != "" {
			key = prefix + "-" + k
		}
		switch v := v.(type) {
		case map[string]any:
			if err := flatten(key, v, out); err != nil {
				return err
			}
		case []any:
			for _, e := range v {
				out[key] = append(out[key], fmt.Sprint(e))
			}
		case nil:
		default:
			out[key] = []string{fmt.Sprint(v)}
		}
	}
	return nil
}

func allFlagNames(root *cobra.Command) []string {
	var names []string
	var rec func(c *cobra.Command)
	rec = func(c *cobra.Command) {
		c.Flags().VisitAll(func(f *pflag.Flag) { names = append(names, f.Name) })
		c.PersistentFlags().VisitAll(func(f *pflag.Flag) { names = append(names, f.Name) })
		for _, s := range c.Commands() {
			rec(s)
		}
	}
	rec(root)
	return names
}
