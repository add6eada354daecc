//go:build !linux

package lowprio

import "errors"

const supported = false

func lower(int) error { return errors.New("lowprio: not supported") }

func threadNice() (int, error) { return 0, nil }
