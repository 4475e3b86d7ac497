package cache

import (
	"context"
	"fmt"
)

// Backends a user can choose (--cache-backend).
const (
	BackendFS    = "fs"
	BackendRedis = "redis"
	BackendNone  = "none"
)

// Config chooses and configures a store.
type Config struct {
	// Backend is BackendFS (default), BackendRedis or BackendNone.
	Backend string
	// Dir is the FS store's directory (default DefaultDir()).
	Dir   string
	Redis RedisOptions
}

// Open opens the configured store; (nil, nil) for BackendNone.
func Open(ctx context.Context, c Config) (Store, error) {
	switch c.Backend {
	case BackendFS, "":
		dir := c.Dir
		if dir == "" {
			d, err := DefaultDir()
			if err != nil {
				return nil, err
			}
			dir = d
		}
		return OpenFS(dir)
	case BackendRedis:
		if c.Redis.URL == "" {
			return nil, fmt.Errorf("--cache-backend redis needs --cache-redis-url redis://HOST:PORT or rediss://HOST:PORT")
		}
		return OpenRedis(ctx, c.Redis)
	case BackendNone:
		return nil, nil
	default:
		return nil, fmt.Errorf("--cache-backend: unknown backend %q (have: fs, redis, none)", c.Backend)
	}
}
