// Package browsertest runs pages in headless Chromium for tests (the HTML
// report, the server's web interface) and records what a page does that it
// must not: requests, console errors and warnings, uncaught exceptions,
// dialogs.
package browsertest

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
)

// RequireEnv makes a missing browser an error instead of a skip (CI sets it).
const RequireEnv = "DRYDOCK_REQUIRE_CHROMIUM"

// Chromium finds the browser, or skips the test unless RequireEnv is set.
func Chromium(t *testing.T) string {
	t.Helper()
	for _, n := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(n); err == nil {
			return p
		}
	}
	if os.Getenv(RequireEnv) != "" {
		t.Fatal("no chromium found and " + RequireEnv + " is set (apt-get install chromium)")
	}
	t.Skip("no chromium found (apt-get install chromium); set " + RequireEnv + " to make this an error")
	return ""
}

// ArtifactDir is where browser tests leave their screenshots:
// $DRYDOCK_ARTIFACTS, else a directory under the system's temp dir.
func ArtifactDir(t *testing.T) string {
	t.Helper()
	dir := os.Getenv("DRYDOCK_ARTIFACTS")
	if dir == "" {
		dir = filepath.Join(os.TempDir(), "drydock-artifacts")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// Watch records what a tab's pages do. It is safe for concurrent use.
type Watch struct {
	mu       sync.Mutex
	requests []string
	problems []string
}

func (w *Watch) add(list *[]string, s string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	*list = append(*list, s)
}

// Snapshot returns the URLs requested so far and the problems seen.
func (w *Watch) Snapshot() (requests, problems []string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return slices.Clone(w.requests), slices.Clone(w.problems)
}

// Tab starts headless Chromium (skipping the test without one, see
// Chromium) with one tab of the given width whose events feed w; the
// browser lives until timeout or the end of the test.
func Tab(t *testing.T, timeout time.Duration, width int, w *Watch) context.Context {
	t.Helper()
	exe := Chromium(t)
	ctx, cancel := context.WithTimeout(t.Context(), timeout)
	t.Cleanup(cancel)
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(exe), chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU,
		chromedp.WindowSize(width, 1000), chromedp.UserDataDir(filepath.Join(t.TempDir(), "profile")))
	alloc, cancelAlloc := chromedp.NewExecAllocator(ctx, opts...)
	t.Cleanup(cancelAlloc)
	var tab context.Context
	tab, cancelTab := chromedp.NewContext(alloc, chromedp.WithListener(func(ev any) {
		switch ev := ev.(type) {
		case *network.EventRequestWillBeSent:
			w.add(&w.requests, ev.Request.URL)
		case *runtime.EventConsoleAPICalled:
			if ev.Type == runtime.ConsoleAPICalledTypeError || ev.Type == runtime.ConsoleAPICalledTypeWarning || ev.Type == runtime.ConsoleAPICalledTypeAssert {
				var args []string
				for _, a := range ev.Args {
					args = append(args, a.Description+string(a.Value))
				}
				w.add(&w.problems, "console."+string(ev.Type)+": "+strings.Join(args, " "))
			}
		case *runtime.EventExceptionThrown:
			d := ev.ExceptionDetails
			text := d.Text
			if d.Exception != nil {
				text += " " + d.Exception.Description
			}
			w.add(&w.problems, fmt.Sprintf("exception at %d:%d: %s", d.LineNumber+1, d.ColumnNumber+1, text))
		case *log.EventEntryAdded:
			if ev.Entry.Level == log.EntryLevelError || ev.Entry.Level == log.EntryLevelWarning {
				w.add(&w.problems, "log "+string(ev.Entry.Level)+": "+ev.Entry.Text+" "+ev.Entry.URL)
			}
		case *page.EventJavascriptDialogOpening:
			w.add(&w.problems, "dialog: "+ev.Message)
			go func() { // a dialog blocks the page: close it
				_, _ = chromedp.Call(tab, page.HandleJavaScriptDialog, page.HandleJavaScriptDialogParams{Accept: false})
			}()
		}
	}))
	t.Cleanup(cancelTab)
	return tab
}
