package updater

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// ErrOffline is returned for any network request in offline mode.
var ErrOffline = errors.New("offline: network access disabled")

// errNotFound is an HTTP 404 or a missing local file.
var errNotFound = errors.New("not found")

// conditional carries a previous response's validators.
type conditional struct {
	ETag, LastModified string
}

// fetched is a fetched resource: a file on disk (a temporary copy of a
// download, or the local file itself) or "not modified".
type fetched struct {
	NotModified bool
	Path        string
	Size        int64
	ETag        string
	// LastModified is the server's header, kept as sent.
	LastModified string
	temp         bool
}

// Close removes a temporary download.
func (f *fetched) Close() {
	if f != nil && f.temp {
		os.Remove(f.Path)
	}
}

// fetcher gets resources over HTTP(S) or from local files.
type fetcher struct {
	client    *http.Client
	offline   bool
	tempDir   string
	maxSize   int64
	retries   int
	retryWait time.Duration
	progress  Progress
	userAgent string
	header    http.Header
}

// get fetches loc (a URL or a local path) for a feed. A URL is downloaded
// to a temporary file, with If-None-Match / If-Modified-Since from cond; a
// 304 gives NotModified. The download is capped at maxSize and must match
// Content-Length when the server sends one (a dropped connection is an
// error, not a short file). Server errors and dropped connections are
// retried.
func (f *fetcher) get(ctx context.Context, feed, loc string, cond conditional) (*fetched, error) {
	if !isURL(loc) {
		loc = strings.TrimPrefix(loc, "file://")
		st, err := os.Stat(loc)
		if errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("%s: %w", loc, errNotFound)
		}
		if err != nil {
			return nil, err
		}
		if !st.Mode().IsRegular() {
			return nil, fmt.Errorf("%s: not a regular file", loc)
		}
		if st.Size() > f.maxSize {
			return nil, fmt.Errorf("%s: %d bytes, more than the limit %d", loc, st.Size(), f.maxSize)
		}
		f.progress.Downloaded(feed, st.Size(), st.Size())
		return &fetched{Path: loc, Size: st.Size()}, nil
	}
	if f.offline {
		return nil, fmt.Errorf("GET %s: %w", loc, ErrOffline)
	}
	var lastErr error
	for attempt := 0; attempt <= f.retries; attempt++ {
		if attempt > 0 {
			select {
			case <-ctx.Done():
				return nil, ctx.Err()
			case <-time.After(f.retryWait * time.Duration(attempt)):
			}
		}
		res, err, retry := f.try(ctx, feed, loc, cond)
		if err == nil {
			return res, nil
		}
		lastErr = err
		if !retry || ctx.Err() != nil {
			break
		}
	}
	return nil, lastErr
}

func (f *fetcher) try(ctx context.Context, feed, loc string, cond conditional) (_ *fetched, _ error, retry bool) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, loc, nil)
	if err != nil {
		return nil, err, false
	}
	for k, v := range f.header {
		req.Header[k] = v
	}
	req.Header.Set("User-Agent", f.userAgent)
	if cond.ETag != "" {
		req.Header.Set("If-None-Match", cond.ETag)
	}
	if cond.LastModified != "" {
		req.Header.Set("If-Modified-Since", cond.LastModified)
	}
	resp, err := f.client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("GET %s: %w", loc, err), true
	}
	defer resp.Body.Close()
	switch {
	case resp.StatusCode == http.StatusNotModified:
		return &fetched{NotModified: true, ETag: cond.ETag, LastModified: cond.LastModified}, nil, false
	case resp.StatusCode == http.StatusNotFound:
		return nil, fmt.Errorf("GET %s: %s: %w", loc, resp.Status, errNotFound), false
	case resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode >= 500:
		return nil, fmt.Errorf("GET %s: %s", loc, resp.Status), true
	case resp.StatusCode != http.StatusOK:
		return nil, fmt.Errorf("GET %s: %s", loc, resp.Status), false
	}
	if resp.ContentLength > f.maxSize {
		return nil, fmt.Errorf("GET %s: %d bytes, more than the limit %d", loc, resp.ContentLength, f.maxSize), false
	}
	tmp, err := os.CreateTemp(f.tempDir, "drydock-download-*")
	if err != nil {
		return nil, err, false
	}
	ok := false
	defer func() {
		if !ok {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	body := &countingReader{r: io.LimitReader(resp.Body, f.maxSize+1), feed: feed, total: resp.ContentLength, progress: f.progress}
	n, err := io.Copy(tmp, body)
	if err != nil {
		return nil, fmt.Errorf("GET %s: reading body after %d bytes: %w", loc, n, err), true
	}
	if n > f.maxSize {
		return nil, fmt.Errorf("GET %s: more than the limit %d bytes", loc, f.maxSize), false
	}
	if resp.ContentLength >= 0 && n != resp.ContentLength {
		return nil, fmt.Errorf("GET %s: got %d of %d bytes", loc, n, resp.ContentLength), true
	}
	if err := tmp.Close(); err != nil {
		return nil, err, false
	}
	ok = true
	return &fetched{Path: tmp.Name(), Size: n, ETag: resp.Header.Get("ETag"), LastModified: resp.Header.Get("Last-Modified"), temp: true}, nil, false
}

type countingReader struct {
	r        io.Reader
	feed     string
	total    int64
	progress Progress
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	if n > 0 {
		c.progress.Downloaded(c.feed, int64(n), c.total)
	}
	return n, err
}

// withHeader returns a copy of the fetcher that sends one more header.
func (f *fetcher) withHeader(key, value string) *fetcher {
	c := *f
	c.header = f.header.Clone()
	if c.header == nil {
		c.header = http.Header{}
	}
	c.header.Set(key, value)
	return &c
}

// readSmall fetches a resource and returns its content (for small files:
// one OSV record, an index page).
func (f *fetcher) readSmall(ctx context.Context, feed, loc string, limit int64) ([]byte, error) {
	res, err := f.get(ctx, feed, loc, conditional{})
	if err != nil {
		return nil, err
	}
	defer res.Close()
	if res.Size > limit {
		return nil, fmt.Errorf("%s: %d bytes, more than the limit %d", loc, res.Size, limit)
	}
	return os.ReadFile(res.Path)
}

// listDir lists the sub-directories of a local mirror directory.
func listDir(dir string) ([]string, error) {
	entries, err := os.ReadDir(strings.TrimPrefix(dir, "file://"))
	if err != nil {
		return nil, err
	}
	var out []string
	for _, e := range entries {
		if e.IsDir() {
			out = append(out, e.Name())
		}
	}
	return out, nil
}

func fileExists(path string) bool {
	st, err := os.Stat(filepath.Clean(strings.TrimPrefix(path, "file://")))
	return err == nil && st.Mode().IsRegular()
}
