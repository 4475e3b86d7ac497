// Package hugetext keeps drydock's own executable in the page cache as
// 2 MiB pages, so that every start maps its code and read-only data with
// a few dozen page faults instead of hundreds.
//
// A drydock executable is about 75 MB, 55 of them code, read-only data and
// the function tables the runtime reads at start. A short command (a warm
// rescan of a small image) touches a few thousand of those 4 KiB pages,
// scattered over the whole file: every package initialiser and every
// type the runtime checks at start lives on its own page. On the virtual
// machines CI runs on, each fault that maps them costs tens of
// microseconds, together about a third of such a command's time.
//
// When the page cache holds a file in 2 MiB folios (Linux 6.16 and later
// on ext4, earlier on XFS), the kernel maps them into every process with
// one entry per 2 MiB, whatever that process asked for. It reads a file
// in such folios only for a mapping marked MADV_HUGEPAGE, and only what
// is not cached yet; an executable written by a build or an installer,
// or read back by an earlier run, is cached in small pages.
//
// Settle, called at the end of a command, asks the kernel how the
// executable is mapped (PAGEMAP_SCAN, Linux 6.7) and, when more than one
// in ten of the 2 MiB ranges it touched are in small pages, evicts those
// ranges from the page cache (POSIX_FADV_DONTNEED for the pages no
// process maps, MADV_PAGEOUT for this process's) and reads each again
// through its own mapping, marked MADV_HUGEPAGE. The next commands start
// with their code in huge pages. That happens once per executable, until
// the kernel evicts the file; one range is tried first, and where the
// kernel or the file system keeps it in small pages the executable is
// noted as such and left alone for a day. Nothing is written to the
// executable, and only pages never written to are dropped: they come
// back from the file.
package hugetext
