// Package cputime measures CPU time for benchmarks. On a machine shared with
// other work, time-slicing inflates wall time (ns/op) but not the CPU time a
// process or thread used, so spoor's benchmarks report both; this package is
// the one place that reads it (getrusage).
package cputime

import (
	"runtime"
	"syscall"
	"testing"
	"time"
)

// Process is the CPU time (user + system) the process has used so far, on
// every thread: the decoders', the store's goroutines' and the collector's.
func Process() time.Duration { return usage(syscall.RUSAGE_SELF) }

// Thread is the CPU time the calling OS thread has used so far (the
// process's where the system has no per-thread count); lock the goroutine
// to its thread (runtime.LockOSThread) around the work measured.
func Thread() time.Duration { return usage(rusageThread) }

func usage(who int) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(who, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// MinorFaults is the process's minor page faults so far.
func MinorFaults() int64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return int64(ru.Minflt)
}

// PerOp runs f b.N times on one locked thread and reports the thread's CPU
// time per op as cpu-ns/op.
func PerOp(b *testing.B, f func(i int)) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	b.ResetTimer()
	t0 := Thread()
	for i := 0; i < b.N; i++ {
		f(i)
	}
	b.ReportMetric(float64((Thread()-t0).Nanoseconds())/float64(b.N), "cpu-ns/op")
}
