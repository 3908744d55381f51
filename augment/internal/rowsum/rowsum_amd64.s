//go:build amd64 && !purego

#include "textflag.h"

// func Sum16(out *byte, blocks int, rows **byte, w *int32, taps int, bias int32, shift uint32)
//
// For i in [0, 16*blocks): out[i] = sat8(uint32(bias + sum_t rows[t][i]*w[t]) >> shift),
// 32-bit lanes (SSE4.1), the sum wrapping modulo 2^32 as Go's uint32/int32
// arithmetic does.
TEXT ·Sum16(SB), NOSPLIT, $0-48
	MOVQ out+0(FP), DI
	MOVQ blocks+8(FP), CX
	MOVQ rows+16(FP), SI
	MOVQ w+24(FP), DX
	MOVQ taps+32(FP), R8
	MOVL bias+40(FP), AX
	MOVL shift+44(FP), BX
	MOVQ AX, X15
	PSHUFD $0, X15, X15
	MOVQ BX, X14
	XORQ R9, R9

block:
	TESTQ CX, CX
	JZ done
	MOVO X15, X0
	MOVO X15, X1
	MOVO X15, X2
	MOVO X15, X3
	XORQ R10, R10

tap:
	MOVQ (SI)(R10*8), R11
	MOVL (DX)(R10*4), R12
	MOVQ R12, X13
	PSHUFD $0, X13, X13
	PMOVZXBD 0(R11)(R9*1), X4
	PMOVZXBD 4(R11)(R9*1), X5
	PMOVZXBD 8(R11)(R9*1), X6
	PMOVZXBD 12(R11)(R9*1), X7
	PMULLD X13, X4
	PMULLD X13, X5
	PMULLD X13, X6
	PMULLD X13, X7
	PADDL X4, X0
	PADDL X5, X1
	PADDL X6, X2
	PADDL X7, X3
	INCQ R10
	CMPQ R10, R8
	JLT tap

	PSRLL X14, X0
	PSRLL X14, X1
	PSRLL X14, X2
	PSRLL X14, X3
	PACKSSLW X1, X0
	PACKSSLW X3, X2
	PACKUSWB X2, X0
	MOVOU X0, (DI)(R9*1)
	ADDQ $16, R9
	DECQ CX
	JMP block

done:
	RET
