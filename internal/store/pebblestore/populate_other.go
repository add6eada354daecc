//go:build !linux

package pebblestore

import "unsafe"

func populate(p unsafe.Pointer, n uintptr) {}
