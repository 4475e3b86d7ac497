package updater

import (
	"bytes"
	"errors"
	"strings"
	"sync"
	"testing"
)

func TestTTYProgress(t *testing.T) {
	var buf bytes.Buffer
	p := NewTTYProgress(&syncWriter{w: &buf})
	var wg sync.WaitGroup
	for _, feed := range []string{"osv/PyPI", "kev"} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			p.FeedStarted(feed)
			p.Downloaded(feed, 1000, 2000)
			p.Imported(feed, 10)
			var err error
			if feed == "kev" {
				err = errors.New("boom")
			}
			p.FeedDone(feed, err)
		}()
	}
	wg.Wait()
	p.Finish()
	out := buf.String()
	for _, want := range []string{"osv/PyPI: done", "kev: failed"} {
		if !strings.Contains(out, want) {
			t.Errorf("output %q lacks %q", out, want)
		}
	}
	if IsTerminal(nil) {
		t.Error("nil file is a terminal")
	}
}

type syncWriter struct {
	mu sync.Mutex
	w  *bytes.Buffer
}

func (s *syncWriter) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.Write(p)
}
