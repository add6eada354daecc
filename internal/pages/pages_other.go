//go:build !linux

package pages

import (
	"errors"
	"unsafe"
)

// Populate does nothing on this system: the pages fault in as they are
// touched.
func Populate(p unsafe.Pointer, n uintptr) bool { return false }

// Resident is not known on this system.
func Resident(b []byte) ([]bool, error) { return nil, errors.New("pages: no mincore here") }

// Huge does nothing on this system.
func Huge(p unsafe.Pointer, n uintptr) bool { return false }
