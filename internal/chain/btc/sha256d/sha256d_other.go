//go:build !amd64 || purego

package sha256d

// useSHANI is false: every function takes crypto/sha256's path.
var useSHANI = false

func blockSHANI(dig *[8]uint32, p []byte) { panic("sha256d: blockSHANI without SHA-NI") }

func block2SHANI(a, b *[8]uint32, pa, pb *[64]byte) { panic("sha256d: block2SHANI without SHA-NI") }
