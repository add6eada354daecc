package cputime

import (
	"runtime"
	"syscall"
	"testing"
	"time"
)

// spin burns CPU on the calling thread until d of wall time has passed.
func spin(d time.Duration) (n int) {
	for end := time.Now().Add(d); time.Now().Before(end); n++ {
	}
	return n
}

// Both clocks advance by about the CPU burned (never more than the wall
// time on one thread, never nothing), and the thread's does not count the
// work of another thread.
func TestClocksCountWork(t *testing.T) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	p0 := Process()
	t0 := Thread()
	spin(60 * time.Millisecond)
	dt := Thread() - t0 // the thread's interval inside the process's
	dp := Process() - p0
	if dt < 10*time.Millisecond || dt > 200*time.Millisecond {
		t.Fatalf("thread CPU grew %v over 60 ms of spinning", dt)
	}
	if dp < dt {
		t.Fatalf("process CPU grew %v, less than the thread's %v", dp, dt)
	}
	if runtime.GOOS != "linux" {
		return
	}
	t1 := Thread()
	done := make(chan struct{})
	go func() { spin(60 * time.Millisecond); close(done) }()
	<-done // this thread sleeps meanwhile
	if d := Thread() - t1; d > 30*time.Millisecond {
		t.Fatalf("thread CPU grew %v while another thread did the work", d)
	}
}

func TestMinorFaultsCount(t *testing.T) {
	// A fresh mapping: the Go heap may hand back pages already present.
	b, err := syscall.Mmap(-1, 0, 8<<20, syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_PRIVATE|syscall.MAP_ANON)
	if err != nil {
		t.Skipf("no anonymous mapping here: %v", err)
	}
	defer syscall.Munmap(b)
	f0 := MinorFaults()
	for i := 0; i < len(b); i += 4096 {
		b[i] = 1
	}
	if d := MinorFaults() - f0; d < 100 {
		t.Fatalf("touching 2,048 fresh pages counted %d minor faults", d)
	}
}
