#include "textflag.h"

// func indexed(base unsafe.Pointer, hs []uint64, s uint, mask uint64)
TEXT ·indexed(SB), NOSPLIT, $0-48
	MOVQ base+0(FP), AX
	MOVQ hs_base+8(FP), SI
	MOVQ hs_len+16(FP), DX
	MOVQ s+32(FP), CX
	MOVQ mask+40(FP), BX
	TESTQ DX, DX
	JEQ done
loop:
	MOVQ (SI), DI
	SHRQ CX, DI
	ANDQ BX, DI
	PREFETCHT0 (AX)(DI*1)
	ADDQ $8, SI
	DECQ DX
	JNE loop
done:
	RET

// func line(p unsafe.Pointer)
TEXT ·line(SB), NOSPLIT, $0-8
	MOVQ p+0(FP), AX
	PREFETCHT0 (AX)
	RET
