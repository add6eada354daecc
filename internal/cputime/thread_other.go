//go:build !linux

package cputime

import "syscall"

const rusageThread = syscall.RUSAGE_SELF // no per-thread count: the process's
