package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
	"unicode"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/drydockscan/drydock/internal/cache"
)

// cacheFlags choose the layer cache; the image command and the cache
// commands share them.
type cacheFlags struct {
	backend       string
	dir           string
	redisURL      string
	redisPassword string
	redisCA       string
	ttl           time.Duration
	off           bool
}

func (c *cacheFlags) register(fs *pflag.FlagSet, scan bool) {
	fs.StringVar(&c.backend, "cache-backend", cache.BackendFS, "layer cache: fs (files in --cache-dir), redis (shared, --cache-redis-url) or none")
	fs.StringVar(&c.dir, "cache-dir", "", "layer cache directory (default <user cache dir>/drydock/layers)")
	fs.StringVar(&c.redisURL, "cache-redis-url", "", "Redis server of the layer cache: redis://[user:password@]host:port[/db], rediss:// for TLS")
	fs.StringVar(&c.redisPassword, "cache-redis-password", "", "Redis password (prefer DRYDOCK_CACHE_REDIS_PASSWORD)")
	fs.StringVar(&c.redisCA, "cache-redis-ca", "", "PEM file of the CAs to trust for rediss:// (default: the system's)")
	fs.DurationVar(&c.ttl, "cache-ttl", 30*24*time.Hour, "Redis: an entry unused this long expires (0: never)")
	if scan {
		fs.BoolVar(&c.off, "no-cache", false, "neither read nor write the layer cache in this scan")
	}
}

// open opens the chosen store; nil when the cache is off.
func (c *cacheFlags) open(ctx context.Context) (cache.Store, error) {
	if c.off {
		return nil, nil
	}
	return cache.Open(ctx, cache.Config{
		Backend: c.backend, Dir: c.dir,
		Redis: cache.RedisOptions{URL: c.redisURL, Password: c.redisPassword, CAFile: c.redisCA, TTL: c.ttl},
	})
}

func (a *app) cacheCommand() *cobra.Command {
	var f cacheFlags
	cmd := &cobra.Command{
		Use:   "cache",
		Short: "Inspect and trim the layer cache",
		Long: `drydock keeps what it found in each image layer (packages, OS facts, file lists;
never findings) in a layer cache, keyed by the layer's verified digest and the
analyzers' versions, so a layer shared by many images is read once. Matching always
runs against the current database. The cache is files in --cache-dir (default
<user cache dir>/drydock/layers), or a Redis server that many runners share.`,
	}
	f.register(cmd.PersistentFlags(), false)
	open := func(ctx context.Context) (cache.Store, error) {
		s, err := f.open(ctx)
		if err == nil && s == nil {
			err = fmt.Errorf("--cache-backend none: there is no cache to work on")
		}
		return s, err
	}

	var asJSON bool
	var recent int
	status := &cobra.Command{
		Use:   "status",
		Short: "Entries, bytes, and the hits and misses of recent scans",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			s, err := open(cmd.Context())
			if err != nil {
				return err
			}
			defer s.Close()
			u, err := s.Usage(cmd.Context())
			if err != nil {
				return fmt.Errorf("layer cache %s: %w", s, err)
			}
			scans, err := s.Scans(cmd.Context(), recent)
			if err != nil {
				return fmt.Errorf("layer cache %s: %w", s, err)
			}
			var hits, misses int
			for _, r := range scans {
				hits += r.Hits
				misses += r.Misses
			}
			w := cmd.OutOrStdout()
			if asJSON {
				if scans == nil {
					scans = []cache.ScanRecord{}
				}
				enc := json.NewEncoder(w)
				enc.SetIndent("", "  ")
				return enc.Encode(map[string]any{
					"store": s.String(), "backend": f.backend, "entries": u.Entries, "bytes": u.Bytes,
					"recent": map[string]any{"scans": len(scans), "hits": hits, "misses": misses, "list": scans},
				})
			}
			fmt.Fprintf(w, "layer cache: %s (%s)\n", s, f.backend)
			fmt.Fprintf(w, "entries:     %d\n", u.Entries)
			fmt.Fprintf(w, "size:        %s (%d bytes)\n", humanBytes(u.Bytes), u.Bytes)
			if len(scans) == 0 {
				fmt.Fprintln(w, "recent scans: none recorded")
				return nil
			}
			rate := 0.0
			if hits+misses > 0 {
				rate = float64(hits) / float64(hits+misses) * 100
			}
			fmt.Fprintf(w, "last %d scans: %d layer hits, %d misses (%.0f%% hits)\n\n", len(scans), hits, misses, rate)
			tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
			fmt.Fprintln(tw, "TIME\tHITS\tMISSES\tTARGET")
			for _, r := range scans {
				fmt.Fprintf(tw, "%s\t%d\t%d\t%s\n", r.Time.UTC().Format(time.RFC3339), r.Hits, r.Misses, r.Target)
			}
			return tw.Flush()
		},
	}
	status.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	status.Flags().IntVar(&recent, "recent", 20, "how many recent scans to show and count")

	var maxSize, maxAge string
	prune := &cobra.Command{
		Use:     "prune",
		Short:   "Remove entries unused for longer than --max-age, then the least recently used beyond --max-size",
		Example: `  drydock cache prune --max-size 2GB --max-age 30d`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var o cache.PruneOptions
			var err error
			if maxSize == "" && maxAge == "" {
				return fmt.Errorf("give --max-size, --max-age or both")
			}
			if maxSize != "" {
				if o.MaxSize, err = parseSize(maxSize); err != nil {
					return fmt.Errorf("--max-size: %w", err)
				}
			}
			if maxAge != "" {
				if o.MaxAge, err = parseAge(maxAge); err != nil {
					return fmt.Errorf("--max-age: %w", err)
				}
			}
			s, err := open(cmd.Context())
			if err != nil {
				return err
			}
			defer s.Close()
			removed, err := s.Prune(cmd.Context(), o)
			if err != nil {
				return fmt.Errorf("layer cache %s: %w", s, err)
			}
			left, err := s.Usage(cmd.Context())
			if err != nil {
				return fmt.Errorf("layer cache %s: %w", s, err)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "removed %d entries (%s); %d entries (%s) left\n",
				removed.Entries, humanBytes(removed.Bytes), left.Entries, humanBytes(left.Bytes))
			return nil
		},
	}
	prune.Flags().StringVar(&maxSize, "max-size", "", "keep at most this much (2GB, 500MiB, bytes)")
	prune.Flags().StringVar(&maxAge, "max-age", "", "remove entries unused for longer than this (30d, 12h)")

	clean := &cobra.Command{
		Use:   "clean",
		Short: "Remove every entry",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			s, err := open(cmd.Context())
			if err != nil {
				return err
			}
			defer s.Close()
			removed, err := s.Clean(cmd.Context())
			if err != nil {
				return fmt.Errorf("layer cache %s: %w", s, err)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "removed %d entries (%s)\n", removed.Entries, humanBytes(removed.Bytes))
			return nil
		},
	}
	cmd.AddCommand(status, prune, clean)
	return cmd
}

// parseSize reads "2GB", "500MiB", "1.5G", "1048576".
func parseSize(s string) (int64, error) {
	s = strings.TrimSpace(s)
	i := strings.IndexFunc(s, func(r rune) bool { return !unicode.IsDigit(r) && r != '.' })
	num, unit := s, ""
	if i >= 0 {
		num, unit = s[:i], strings.ToUpper(strings.TrimSpace(s[i:]))
	}
	v, err := strconv.ParseFloat(num, 64)
	if err != nil || v < 0 {
		return 0, fmt.Errorf("invalid size %q (want e.g. 2GB, 500MiB)", s)
	}
	mult := map[string]float64{
		"": 1, "B": 1,
		"K": 1e3, "KB": 1e3, "M": 1e6, "MB": 1e6, "G": 1e9, "GB": 1e9, "T": 1e12, "TB": 1e12,
		"KIB": 1 << 10, "MIB": 1 << 20, "GIB": 1 << 30, "TIB": 1 << 40,
	}[unit]
	if mult == 0 {
		return 0, fmt.Errorf("invalid size unit in %q (B, KB, MB, GB, TB, KiB, MiB, GiB, TiB)", s)
	}
	return int64(v * mult), nil
}

// parseAge reads "30d", "2w", or a Go duration ("12h", "90m").
func parseAge(s string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	for suffix, unit := range map[string]time.Duration{"d": 24 * time.Hour, "w": 7 * 24 * time.Hour} {
		if n, ok := strings.CutSuffix(s, suffix); ok {
			v, err := strconv.ParseFloat(n, 64)
			if err != nil || v < 0 {
				return 0, fmt.Errorf("invalid age %q (want e.g. 30d, 12h)", s)
			}
			return time.Duration(v * float64(unit)), nil
		}
	}
	d, err := time.ParseDuration(s)
	if err != nil || d < 0 {
		return 0, fmt.Errorf("invalid age %q (want e.g. 30d, 12h)", s)
	}
	return d, nil
}

func humanBytes(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.1f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}
