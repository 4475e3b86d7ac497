// Package hugeheap backs the Go heap of a short drydock command with
// transparent huge pages where the kernel gives them only on request
// (transparent_hugepage/enabled set to madvise, the default of many
// distributions).
//
// A one-shot scan is short, and on virtual machines most of its start is
// spent taking page faults: every first touch of a 4 KiB heap page is one,
// and each costs microseconds (about 11 µs on the 2-core machine of the
// benchmark). A warm rescan of a small image touches a few thousand heap
// pages; with 2 MiB pages it takes a handful of faults instead.
//
// The Go runtime does not ask for huge pages itself (it stopped doing so
// because long-running programs grew). So, for the commands other than the
// server, the package makes the runtime map a large stretch of heap at once
// by allocating one untouched block, marks that stretch (and the heap
// before it) MADV_HUGEPAGE, and frees the block at once, with the
// collector off meanwhile so that one collection does it: the runtime then
// places the program's objects in those pages, lowest addresses first.
// Nothing is touched, so nothing is committed until used. The few
// megabytes of heap the runtime and the first initialisers used before
// are already faulted in 4 KiB pages, and the runtime fills their free
// pages first; where the kernel can (MADV_COLLAPSE, Linux 6.1) they are
// collapsed into huge pages too, which takes a few hundred more faults
// off every command.
//
// It must happen before the other packages' initialisers fill the first
// pages of the heap, which is why the work is done by this package's
// variable initialiser, the one exception to drydock's rule of no work at
// initialisation: cmd/drydock imports the package for that effect only,
// and the package imports nothing but the runtime's own packages, so it is
// initialised among the first. Tests and libraries never import it.
//
// It does nothing when the kernel already backs every mapping with huge
// pages ([always]) or never does ([never]), when GODEBUG has disablethp=1
// (the runtime's own switch against huge pages), for the server and for the
// helper drydock run places in containers.
package hugeheap
