package updater

import (
	"fmt"
	"io"
	"os"
	"sync"
	"time"

	"github.com/schollz/progressbar/v3"
	"golang.org/x/term"
)

// IsTerminal reports whether f is a terminal: the CLI shows a progress
// bar only then.
func IsTerminal(f *os.File) bool { return term.IsTerminal(int(f.Fd())) }

// TTYProgress draws one progress line on a terminal: bytes downloaded and
// records imported over all feeds, with a line per finished feed.
type TTYProgress struct {
	mu      sync.Mutex
	w       io.Writer
	bar     *progressbar.ProgressBar
	records int
	running map[string]bool
}

// NewTTYProgress returns a Progress drawing on w (a terminal; typically
// os.Stderr when IsTerminal(os.Stderr)).
func NewTTYProgress(w io.Writer) *TTYProgress {
	return &TTYProgress{
		w:       w,
		running: map[string]bool{},
		bar: progressbar.NewOptions64(-1,
			progressbar.OptionSetWriter(w),
			progressbar.OptionShowBytes(true),
			progressbar.OptionSetDescription("vulnerability database"),
			progressbar.OptionThrottle(100*time.Millisecond),
			progressbar.OptionSpinnerType(14),
			progressbar.OptionSetElapsedTime(true),
			progressbar.OptionClearOnFinish(),
		),
	}
}

// FeedStarted implements Progress.
func (p *TTYProgress) FeedStarted(feed string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.running[feed] = true
	p.describe()
}

// Downloaded implements Progress.
func (p *TTYProgress) Downloaded(_ string, n, _ int64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.bar.Add64(n)
}

// Imported implements Progress.
func (p *TTYProgress) Imported(_ string, n int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.records += n
	p.describe()
}

// FeedDone implements Progress.
func (p *TTYProgress) FeedDone(feed string, err error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	delete(p.running, feed)
	p.bar.Clear()
	if err != nil {
		fmt.Fprintf(p.w, "%s: failed\n", feed)
	} else {
		fmt.Fprintf(p.w, "%s: done\n", feed)
	}
	p.describe()
}

// Finish removes the progress line.
func (p *TTYProgress) Finish() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.bar.Finish()
}

func (p *TTYProgress) describe() {
	p.bar.Describe(fmt.Sprintf("updating %d feeds, %d records", len(p.running), p.records))
}
