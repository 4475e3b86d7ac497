package updater

// Progress receives an update's progress. Calls may come from several
// goroutines at once (feeds are fetched concurrently).
type Progress interface {
	// FeedStarted is called when a feed's update begins.
	FeedStarted(feed string)
	// Downloaded reports n more bytes of a download whose size is total
	// (-1 when unknown).
	Downloaded(feed string, n, total int64)
	// Imported reports n more records (or enrichment entries) written.
	Imported(feed string, n int)
	// FeedDone is called when a feed's update ends, with its error.
	FeedDone(feed string, err error)
}

type nopProgress struct{}

func (nopProgress) FeedStarted(string)              {}
func (nopProgress) Downloaded(string, int64, int64) {}
func (nopProgress) Imported(string, int)            {}
func (nopProgress) FeedDone(string, error)          {}
