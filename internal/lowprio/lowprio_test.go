package lowprio

import (
	"fmt"
	"os"
	"runtime"
	"syscall"
	"testing"
	"time"
)

// TestBackgroundThread: under Start a background goroutine runs on a
// thread of its own at Nice, and that thread ends with it (no other
// goroutine can ever run at the lower priority); outside Start nothing
// changes.
func TestBackgroundThread(t *testing.T) {
	if !supported {
		t.Skip("lowprio does nothing on " + runtime.GOOS)
	}
	t.Setenv("GOMAXPROCS", "")
	os.Unsetenv("GOMAXPROCS")
	type seen struct {
		ok        bool
		tid, nice int
		err       error
	}
	probe := func() seen {
		ch := make(chan seen)
		go func() {
			ok := Background()
			n, err := threadNice()
			ch <- seen{ok, syscall.Gettid(), n, err}
		}()
		return <-ch
	}
	if s := probe(); s.ok || s.err != nil || s.nice != 0 {
		t.Fatalf("outside Start: Background %v, nice %d (%v); want false, 0", s.ok, s.nice, s.err)
	}
	procs := runtime.GOMAXPROCS(0)
	end := Start()
	if got := runtime.GOMAXPROCS(0); got != 2*runtime.NumCPU() {
		t.Errorf("GOMAXPROCS under Start = %d, want %d", got, 2*runtime.NumCPU())
	}
	// Three background goroutines, one after the other. Each must run at
	// Nice and take its thread with it when it returns; the process's
	// main thread is not ended but parked for good by the runtime (the
	// first probe often lands there), so at least one of the three must
	// show a thread ending.
	var ended int
	for range 3 {
		s := probe()
		if !s.ok || s.err != nil || s.nice != Nice {
			end()
			t.Fatalf("under Start: Background %v, nice %d (%v); want true, %d", s.ok, s.nice, s.err, Nice)
		}
		if s.tid == os.Getpid() {
			continue
		}
		task := fmt.Sprintf("/proc/self/task/%d", s.tid)
		deadline := time.Now().Add(5 * time.Second)
		for {
			if _, err := os.Stat(task); os.IsNotExist(err) {
				break
			}
			if time.Now().After(deadline) {
				end()
				t.Fatalf("the background thread %d still runs after its goroutine returned", s.tid)
			}
			time.Sleep(time.Millisecond)
		}
		ended++
	}
	end()
	if ended == 0 {
		t.Fatal("no background goroutine ran off the main thread")
	}
	if got := runtime.GOMAXPROCS(0); got != procs {
		t.Errorf("GOMAXPROCS after Start's end = %d, want %d", got, procs)
	}
	if s := probe(); s.ok || s.nice != 0 {
		t.Fatalf("after Start's end: Background %v, nice %d; want false, 0", s.ok, s.nice)
	}
}

// TestStartLeavesOperatorsChoice: GOMAXPROCS or SPOOR_LOWPRIO=0 in the
// environment leave everything as it is.
func TestStartLeavesOperatorsChoice(t *testing.T) {
	for _, env := range [][2]string{{"GOMAXPROCS", "1"}, {"SPOOR_LOWPRIO", "0"}} {
		t.Run(env[0], func(t *testing.T) {
			t.Setenv(env[0], env[1])
			procs := runtime.GOMAXPROCS(0)
			end := Start()
			defer end()
			if got := runtime.GOMAXPROCS(0); got != procs {
				t.Errorf("GOMAXPROCS = %d, want %d unchanged", got, procs)
			}
			if Background() {
				t.Error("Background took effect")
			}
		})
	}
}
