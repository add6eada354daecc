// Package lowprio lets an ingest's background work (decoding blocks ahead,
// closing segments) yield the cores to the work the ingest waits for (the
// store's resolve step and indexer).
//
// Go's scheduler has no priorities: on two cores shared by five kinds of
// goroutines, the resolve step of a Bitcoin ingest, the critical path,
// spent about a quarter of its time runnable, waiting for a core held by a
// decoder or a segment close that nothing was waiting for (execution
// traces of the 10⁷-transfer chain: 1.8 s of 6.5). The kernel has
// priorities: while Start is in effect, a goroutine that calls Background
// is locked to its own OS thread and that thread's nice value is raised,
// and the process runs twice as many Ps as cores, so that threads of
// both kinds are runnable at once and the kernel, weighing them, runs the
// background ones in what the others leave (at nice 10 a thread gets
// about a tenth of a core against one at 0). A database's compaction
// threads are run the same way.
//
// Linux only; elsewhere Background does nothing and Start changes nothing.
package lowprio

import (
	"os"
	"runtime"
	"sync/atomic"
)

// Nice is the nice value of a background thread.
const Nice = 10

var on atomic.Bool

// Start puts background threads in effect for an ingest, unless the
// environment sets GOMAXPROCS (the operator's choice stands) or
// SPOOR_LOWPRIO=0, and returns what ends it. Goroutines that called
// Background before the end keep their threads' priority until they return.
func Start() (end func()) {
	if !supported || os.Getenv("GOMAXPROCS") != "" || os.Getenv("SPOOR_LOWPRIO") == "0" || on.Load() {
		return func() {}
	}
	old := runtime.GOMAXPROCS(2 * runtime.NumCPU())
	on.Store(true)
	return func() {
		on.Store(false)
		runtime.GOMAXPROCS(old)
	}
}

// Background makes the calling goroutine's thread a background one while
// Start is in effect: it locks the goroutine to its OS thread and lowers
// the thread's priority. Call it first thing in a goroutine of background
// work, and never unlock the thread: when the goroutine returns, the
// runtime ends the locked thread, so no other goroutine ever runs at the
// lower priority. It reports whether it did.
func Background() bool {
	if !on.Load() {
		return false
	}
	runtime.LockOSThread()
	if err := lower(Nice); err != nil {
		// Not permitted (a sandbox): the goroutine runs as before, on
		// its own thread until it returns.
		return false
	}
	return true
}

// Workers is how many goroutines do CPU-bound work in parallel (one per
// core): GOMAXPROCS, or the cores while Start raised it above them.
func Workers() int { return min(runtime.GOMAXPROCS(0), runtime.NumCPU()) }
