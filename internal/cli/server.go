package cli

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"go.yaml.in/yaml/v3"

	"github.com/drydockscan/drydock/internal/analyze"
	"github.com/drydockscan/drydock/internal/buildinfo"
	"github.com/drydockscan/drydock/internal/client"
	"github.com/drydockscan/drydock/internal/finding"
	"github.com/drydockscan/drydock/internal/pipeline"
	"github.com/drydockscan/drydock/internal/report"
	"github.com/drydockscan/drydock/internal/server"
	"github.com/drydockscan/drydock/internal/server/notify"
	"github.com/drydockscan/drydock/internal/source"
)

// clientFlags send a scan's inventory to a drydock server for matching.
type clientFlags struct {
	server   string
	token    string
	serverCA string
}

func (c *clientFlags) register(cmd *cobra.Command) {
	fs := cmd.Flags()
	fs.StringVar(&c.server, "server", "", "client mode: read the target here, match on this drydock server (URL); the server stores the result")
	fs.StringVar(&c.token, "token", "", "the server's API token, scope scan (prefer DRYDOCK_TOKEN)")
	fs.StringVar(&c.serverCA, "server-ca", "", "PEM file of the CA that signed the server's certificate (default: the system's)")
}

// matcher returns the client-mode matcher, or nil without --server.
func (c *clientFlags) matcher() (pipeline.Matcher, error) {
	if c.server == "" {
		return nil, nil
	}
	return client.New(c.server, c.token, c.serverCA)
}

// defaultStore is sqlite:<user data dir>/drydock/server.db.
func defaultStore() string {
	dir := os.Getenv("XDG_DATA_HOME")
	if dir == "" {
		if home, err := os.UserHomeDir(); err == nil {
			dir = filepath.Join(home, ".local", "share")
		}
	}
	if dir == "" {
		dir = os.TempDir()
	}
	return "sqlite:" + filepath.Join(dir, "drydock", "server.db")
}

func (a *app) serverCommand() *cobra.Command {
	var (
		c        server.Config
		db       dbFlags
		insecure bool
		user     string
		pass     string
		regToken string
		platform string
		osOwned  bool
		holdDir  string
		failOn   string
	)
	cmd := &cobra.Command{
		Use:   "server",
		Short: "Run the scanning service: API, scan workers and a store of every image",
		Long: `Run drydock as a service. The API queues scans (image references, pulled with
the server's registry credentials, and uploaded archives) and matches
inventories that clients send (drydock image --server URL). Workers run the
scans through the same pipeline as the command line and keep their
vulnerability database current; after every update, every stored inventory
is matched again and the changes are recorded as events.

One machine: drydock server (an embedded SQLite store, nothing to install).
Many: drydock server --role api and any number of drydock server --role worker,
all with --store postgres://…  See docs/server.md.`,
		Example: `  drydock server --listen 127.0.0.1:8080
  drydock server token create --name ci --scope scan
  drydock server --role api --store postgres://drydock@db/drydock --tls-cert cert.pem --tls-key key.pem
  drydock server --role worker --store postgres://drydock@db/drydock --db-update-interval 1h`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			d, err := a.dbSetup(&db)
			if err != nil {
				return err
			}
			// The server updates on its own schedule, not before each scan.
			d.MaxAge = c.DBUpdateInterval
			if d.MaxAge <= 0 {
				d.MaxAge = 24 * time.Hour
			}
			d.Update.Progress = nil
			c.DB, c.IncludeOSOwned = d, osOwned
			c.Inventory = pipeline.InventoryOptions{
				Mode:   analyze.ModeImage,
				Source: source.Options{Insecure: insecure, Username: user, Password: pass, Token: regToken},
			}
			if platform != "" {
				p, err := source.ParsePlatform(platform)
				if err != nil {
					return err
				}
				c.Inventory.Source.Platform = p
			}
			if c.Store == "" {
				c.Store = defaultStore()
			}
			if c.UploadDir == "" {
				dir, err := os.UserCacheDir()
				if err != nil {
					dir = os.TempDir()
				}
				c.UploadDir = filepath.Join(dir, "drydock", "uploads")
			}
			c.HoldDir = holdDir
			if failOn != "" && !strings.EqualFold(failOn, "none") {
				sev, ok := finding.ParseSeverity(failOn)
				if !ok {
					return fmt.Errorf("--fail-on %q: want CRITICAL, HIGH, MEDIUM, LOW, NEGLIGIBLE, UNKNOWN or none", failOn)
				}
				c.FailOn = sev
			}
			if err := a.serverSections(&c); err != nil {
				return err
			}
			c.Tool = report.Tool{Name: "drydock", Version: buildinfo.Version()}
			c.Logger = a.log
			return server.Run(cmd.Context(), c)
		},
	}
	fs := cmd.Flags()
	fs.StringVar(&c.Listen, "listen", "127.0.0.1:8080", "address the API listens on")
	fs.StringVar(&c.Store, "store", "", "sqlite:PATH or postgres://USER@HOST/DB (default sqlite:<user data dir>/drydock/server.db)")
	fs.StringVar(&c.Role, "role", server.RoleAll, "api (serve the API, queue scans), worker (run scans) or all")
	fs.StringVar(&c.TLSCert, "tls-cert", "", "serve HTTPS with this certificate (PEM)")
	fs.StringVar(&c.TLSKey, "tls-key", "", "the certificate's private key (PEM)")
	fs.DurationVar(&c.DBUpdateInterval, "db-update-interval", 6*time.Hour, "how often the vulnerability database is updated (then every stored inventory is matched again); 0 never")
	fs.IntVar(&c.Concurrency, "concurrency", 1, "scans one worker process runs at once")
	fs.DurationVar(&c.ScanTimeout, "scan-timeout", 15*time.Minute, "a scan running longer is cancelled and retried")
	fs.DurationVar(&c.RescueAfter, "rescue-after", 0, "a scan whose worker stopped answering is retried after this long (default --scan-timeout + 1m)")
	fs.StringVar(&c.UploadDir, "upload-dir", "", "where uploaded archives wait for a worker; API and workers must share it (default <user cache dir>/drydock/uploads)")
	fs.Int64Var(&c.MaxUpload, "max-upload", 4<<30, "largest image archive accepted, in bytes")
	fs.BoolVar(&insecure, "insecure", false, "allow plain HTTP and unverified TLS to registries")
	fs.StringVar(&user, "username", "", "registry user name for pulls (default: Docker credentials)")
	fs.StringVar(&pass, "password", "", "registry password (prefer DRYDOCK_PASSWORD)")
	fs.StringVar(&regToken, "registry-token", "", "registry bearer token")
	fs.StringVar(&platform, "platform", "", "platform to pick from multi-platform images")
	fs.BoolVar(&osOwned, "match-os-owned", false, "also match language packages that an OS package installed against the language feeds")
	fs.StringArrayVar(&c.Watch, "watch", nil, "watch REGISTRY/REPOSITORY[:TAG-GLOB]: scan every new digest of its tags, follow moved tags, mark removed ones (repeatable)")
	fs.DurationVar(&c.WatchInterval, "watch-interval", 15*time.Minute, "how often watched repositories are listed; 0 relies on registry notifications alone")
	fs.StringVar(&failOn, "fail-on", "HIGH", "the server's gate: an image with an open finding at or above this severity fails (none: no gate); verdict changes are events")
	fs.BoolVar(&c.NoUI, "no-ui", false, "do not serve the web interface under /ui/")
	fs.StringVar(&holdDir, "test-hold-dir", "", "")
	_ = fs.MarkHidden("test-hold-dir")
	db.register(fs, false)
	cmd.AddCommand(a.serverTokenCommand())
	return cmd
}

// serverSections reads the configuration file's notify section and
// watch credentials into the server's configuration.
func (a *app) serverSections(c *server.Config) error {
	decode := func(key string, v any) error {
		raw, ok := a.sections[key]
		if !ok {
			return nil
		}
		b, err := yaml.Marshal(raw)
		if err != nil {
			return err
		}
		dec := yaml.NewDecoder(bytes.NewReader(b))
		dec.KnownFields(true)
		if err := dec.Decode(v); err != nil {
			return fmt.Errorf("config: %s: %w", strings.ReplaceAll(key, "-", "."), err)
		}
		return nil
	}
	if _, ok := a.sections["notify"]; ok {
		c.Notify = &notify.Config{}
		if err := decode("notify", c.Notify); err != nil {
			return err
		}
		if err := c.Notify.Validate(); err != nil {
			return fmt.Errorf("config: %w", err)
		}
	}
	return decode("watch-credentials", &c.WatchCredentials)
}

func (a *app) serverTokenCommand() *cobra.Command {
	cmd := &cobra.Command{Use: "token", Short: "Manage the server's API tokens"}
	var storeURL, name, scope string
	create := &cobra.Command{
		Use:   "create",
		Short: "Create an API token and print it (it is stored hashed: it cannot be shown again)",
		Example: `  drydock server token create --name ci --scope scan
  drydock server token create --name dashboard --scope read --store postgres://drydock@db/drydock`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if storeURL == "" {
				storeURL = defaultStore()
			}
			secret, t, err := server.CreateToken(cmd.Context(), storeURL, name, scope, a.log)
			if err != nil {
				return err
			}
			a.log.Info("token created", "id", t.ID, "name", t.Name, "scope", t.Scope)
			fmt.Fprintln(cmd.OutOrStdout(), secret)
			return nil
		},
	}
	create.Flags().StringVar(&storeURL, "store", "", "the server's store (default sqlite:<user data dir>/drydock/server.db)")
	create.Flags().StringVar(&name, "name", "", "what the token is for (ci, dashboard, …)")
	create.Flags().StringVar(&scope, "scope", "read", "read (query), scan (also submit scans and inventories) or admin")
	cmd.AddCommand(create)
	return cmd
}
