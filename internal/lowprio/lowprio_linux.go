package lowprio

import "syscall"

const supported = true

// lower sets the calling thread's nice value (setpriority with the
// thread's id applies to that thread alone on Linux).
func lower(nice int) error {
	return syscall.Setpriority(syscall.PRIO_PROCESS, syscall.Gettid(), nice)
}

// threadNice is the calling thread's nice value (tests).
func threadNice() (int, error) {
	// getpriority returns 20 − nice for the raw syscall.
	p, err := syscall.Getpriority(syscall.PRIO_PROCESS, syscall.Gettid())
	if err != nil {
		return 0, err
	}
	return 20 - p, nil
}
