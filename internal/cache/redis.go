package cache

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"os"
	"slices"
	"time"

	"github.com/redis/go-redis/v9"
)

// Redis is a store in a Redis server that many runners share. Entries are
// strings under "drydock:layer:<key>", each with its own time to live,
// which a hit renews (GETEX): an entry unused for a TTL expires. Recent
// scans are a capped list under "drydock:scans".
type Redis struct {
	client *redis.Client
	ttl    time.Duration
	desc   string
}

const (
	redisPrefix   = "drydock:layer:"
	redisScans    = "drydock:scans"
	redisScansMax = 1000
)

// RedisOptions configure a Redis store.
type RedisOptions struct {
	// URL is redis://[user:password@]host:port[/db] or rediss:// for TLS.
	URL string
	// Password overrides the URL's password.
	Password string
	// CAFile is a PEM file of CAs to trust for rediss:// (default: the
	// system's).
	CAFile string
	// TTL is each entry's time to live (0: no expiry).
	TTL time.Duration
	// TLSConfig overrides the TLS settings (tests).
	TLSConfig *tls.Config
}

// OpenRedis connects to the server and checks that it answers.
func OpenRedis(ctx context.Context, o RedisOptions) (*Redis, error) {
	opt, err := redis.ParseURL(o.URL)
	if err != nil {
		return nil, fmt.Errorf("layer cache: redis URL %s: %w", redactURL(o.URL), err)
	}
	if o.Password != "" {
		opt.Password = o.Password
	}
	if opt.TLSConfig != nil {
		if o.CAFile != "" {
			pem, err := os.ReadFile(o.CAFile)
			if err != nil {
				return nil, fmt.Errorf("layer cache: %w", err)
			}
			pool := x509.NewCertPool()
			if !pool.AppendCertsFromPEM(pem) {
				return nil, fmt.Errorf("layer cache: %s holds no PEM certificate", o.CAFile)
			}
			opt.TLSConfig.RootCAs = pool
		}
		if o.TLSConfig != nil {
			opt.TLSConfig = o.TLSConfig
		}
	}
	// A cache must never hold a scan up for long: fail fast, then miss.
	opt.DialTimeout, opt.ReadTimeout, opt.WriteTimeout = 5*time.Second, 10*time.Second, 10*time.Second
	opt.MaxRetries = 1
	r := &Redis{client: redis.NewClient(opt), ttl: o.TTL, desc: redactURL(o.URL)}
	if err := r.client.Ping(ctx).Err(); err != nil {
		r.client.Close()
		return nil, fmt.Errorf("layer cache: redis %s: %w", r.desc, err)
	}
	return r, nil
}

// redactURL drops the user information from a URL for messages.
func redactURL(s string) string {
	u, err := url.Parse(s)
	if err != nil {
		return "(invalid URL)"
	}
	u.User = nil
	return u.String()
}

// Get implements Store.
func (r *Redis) Get(ctx context.Context, key Key) ([]byte, error) {
	var cmd *redis.StringCmd
	if r.ttl > 0 {
		cmd = r.client.GetEx(ctx, redisPrefix+string(key), r.ttl)
	} else {
		cmd = r.client.Get(ctx, redisPrefix+string(key))
	}
	b, err := cmd.Bytes()
	if errors.Is(err, redis.Nil) {
		return nil, fmt.Errorf("%s: %w", key, ErrNotFound)
	}
	return b, err
}

// Put implements Store. SET replaces a value atomically.
func (r *Redis) Put(ctx context.Context, key Key, b []byte) error {
	return r.client.Set(ctx, redisPrefix+string(key), b, r.ttl).Err()
}

type redisEntry struct {
	key  string
	size int64
	idle time.Duration
}

func (r *Redis) entries(ctx context.Context, idle bool) ([]redisEntry, error) {
	var out []redisEntry
	it := r.client.Scan(ctx, 0, redisPrefix+"*", 1000).Iterator()
	var keys []string
	for it.Next(ctx) {
		keys = append(keys, it.Val())
	}
	if err := it.Err(); err != nil {
		return nil, err
	}
	for chunk := range slices.Chunk(keys, 500) {
		pipe := r.client.Pipeline()
		sizes := make([]*redis.IntCmd, len(chunk))
		idles := make([]*redis.DurationCmd, len(chunk))
		for i, k := range chunk {
			sizes[i] = pipe.StrLen(ctx, k)
			if idle {
				idles[i] = pipe.ObjectIdleTime(ctx, k)
			}
		}
		if _, err := pipe.Exec(ctx); err != nil && !errors.Is(err, redis.Nil) {
			return nil, err
		}
		for i, k := range chunk {
			e := redisEntry{key: k, size: sizes[i].Val()}
			if idle {
				e.idle = idles[i].Val()
			}
			out = append(out, e)
		}
	}
	return out, nil
}

// Usage implements Store.
func (r *Redis) Usage(ctx context.Context) (Usage, error) {
	es, err := r.entries(ctx, false)
	var u Usage
	for _, e := range es {
		if e.size > 0 {
			u.Entries++
			u.Bytes += e.size
		}
	}
	return u, err
}

// Prune implements Store: last use is the server's idle time of the key.
func (r *Redis) Prune(ctx context.Context, o PruneOptions) (Usage, error) {
	es, err := r.entries(ctx, true)
	if err != nil {
		return Usage{}, err
	}
	now := o.Now
	if now.IsZero() {
		now = time.Now()
	}
	o.Now = now
	used := func(e redisEntry) time.Time { return now.Add(-e.idle) }
	return r.remove(ctx, pruneOrder(es, used, func(e redisEntry) int64 { return e.size }, o))
}

func (r *Redis) remove(ctx context.Context, es []redisEntry) (Usage, error) {
	var removed Usage
	for chunk := range slices.Chunk(es, 500) {
		keys := make([]string, len(chunk))
		for i, e := range chunk {
			keys[i] = e.key
			removed.Entries++
			removed.Bytes += e.size
		}
		if err := r.client.Unlink(ctx, keys...).Err(); err != nil {
			return removed, err
		}
	}
	return removed, nil
}

// Clean implements Store.
func (r *Redis) Clean(ctx context.Context) (Usage, error) {
	es, err := r.entries(ctx, false)
	if err != nil {
		return Usage{}, err
	}
	u, err := r.remove(ctx, es)
	if err != nil {
		return u, err
	}
	return u, r.client.Del(ctx, redisScans).Err()
}

// AddScan implements Store.
func (r *Redis) AddScan(ctx context.Context, rec ScanRecord) error {
	b, err := json.Marshal(rec)
	if err != nil {
		return err
	}
	pipe := r.client.TxPipeline()
	pipe.LPush(ctx, redisScans, b)
	pipe.LTrim(ctx, redisScans, 0, redisScansMax-1)
	_, err = pipe.Exec(ctx)
	return err
}

// Scans implements Store.
func (r *Redis) Scans(ctx context.Context, n int) ([]ScanRecord, error) {
	if n <= 0 {
		return nil, nil
	}
	vals, err := r.client.LRange(ctx, redisScans, 0, int64(n-1)).Result()
	if err != nil {
		return nil, err
	}
	var out []ScanRecord
	for _, v := range vals {
		var rec ScanRecord
		if json.Unmarshal([]byte(v), &rec) == nil {
			out = append(out, rec)
		}
	}
	return out, nil
}

// String implements Store.
func (r *Redis) String() string { return r.desc }

// Close implements Store.
func (r *Redis) Close() error { return r.client.Close() }
