//go:build amd64 && !purego

package sha256d

import "golang.org/x/sys/cpu"

// useSHANI says the CPU has what block_amd64.s uses: the SHA extensions
// (CPUID leaf 7, EBX bit 29, which golang.org/x/sys/cpu does not report),
// SSE4.1 (PBLENDW) and SSSE3 (PSHUFB, PALIGNR). Tests turn it off to check
// the fallback.
var useSHANI = cpu.X86.HasSSE41 && cpu.X86.HasSSSE3 && hasSHA()

func hasSHA() bool {
	if max, _, _, _ := cpuid(0, 0); max < 7 {
		return false
	}
	_, ebx, _, _ := cpuid(7, 0)
	return ebx&(1<<29) != 0
}

// blockSHANI hashes the whole 64-byte blocks of p into dig (block_amd64.s).
//
//go:noescape
func blockSHANI(dig *[8]uint32, p []byte)

func cpuid(eaxArg, ecxArg uint32) (eax, ebx, ecx, edx uint32)

// block2SHANI hashes pa into a and pb into b, one block each, the two
// chains interleaved group by group (block_amd64.s).
//
//go:noescape
func block2SHANI(a, b *[8]uint32, pa, pb *[64]byte)
