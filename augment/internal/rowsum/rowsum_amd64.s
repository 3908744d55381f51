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

// func HRow(out *byte, src *byte, bounds *int32, kk *int32, count int, bstep int, kstep int)
//
// One row of Pillow's horizontal resample pass: for each of count output
// pixels, with xmin, n = bounds[0], bounds[1] and weights kk[0..n):
// out[0..3) = clip8((2^21 + sum_k src[3(xmin+k)+c]*kk[k]) >> 22) per channel
// c; then out += 3, bounds += bstep bytes, kk += kstep bytes. Each output
// and each tap reads or writes one byte past its pixel (4-byte lanes).
TEXT ·HRow(SB), NOSPLIT, $0-56
	MOVQ out+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ bounds+16(FP), DX
	MOVQ kk+24(FP), R8
	MOVQ count+32(FP), CX
	MOVQ bstep+40(FP), R13
	MOVQ kstep+48(FP), R14
	MOVL $0x200000, AX
	MOVQ AX, X15
	PSHUFD $0, X15, X15

pixel:
	TESTQ CX, CX
	JZ hdone
	MOVLQSX 0(DX), R9
	MOVLQSX 4(DX), R10
	LEAQ (R9)(R9*2), R9
	ADDQ SI, R9
	MOVQ R8, R11
	MOVO X15, X0
	TESTQ R10, R10
	JZ hstore

htap:
	MOVL (R11), R12
	MOVQ R12, X1
	PSHUFD $0, X1, X1
	PMOVZXBD (R9), X2
	PMULLD X1, X2
	PADDL X2, X0
	ADDQ $3, R9
	ADDQ $4, R11
	DECQ R10
	JNZ htap

hstore:
	PSRAL $22, X0
	PACKSSLW X0, X0
	PACKUSWB X0, X0
	MOVL X0, (DI)
	ADDQ $3, DI
	ADDQ R13, DX
	ADDQ R14, R8
	DECQ CX
	JMP pixel

hdone:
	RET

DATA satMaskR<>+0(SB)/8, $0x8080800380808000
DATA satMaskR<>+8(SB)/8, $0x8080800980808006
GLOBL satMaskR<>(SB), RODATA|NOPTR, $16
DATA satMaskG<>+0(SB)/8, $0x8080800480808001
DATA satMaskG<>+8(SB)/8, $0x8080800A80808007
GLOBL satMaskG<>(SB), RODATA|NOPTR, $16
DATA satMaskB<>+0(SB)/8, $0x8080800580808002
DATA satMaskB<>+8(SB)/8, $0x8080800B80808008
GLOBL satMaskB<>(SB), RODATA|NOPTR, $16
DATA satInterleave<>+0(SB)/8, $0x0602090501080400
DATA satInterleave<>+8(SB)/8, $0x0F0E0D0C0B07030A
GLOBL satInterleave<>(SB), RODATA|NOPTR, $16

// func Saturate(pix *byte, groups int, f float32)
//
// Pillow's ImageEnhance.Color blend of packed RGB with each pixel's own luma,
// in place, 4 pixels (12 bytes) per group: l = (19595 R + 38470 G + 7471 B +
// 0x8000) >> 16, then each channel v becomes clamp(trunc(float32(l) +
// float32(f * float32(v - l)))) to [0, 255]. Reads 16 bytes per group (4 past
// its pixels), writes 12.
TEXT ·Saturate(SB), NOSPLIT, $0-20
	MOVQ pix+0(FP), DI
	MOVQ groups+8(FP), CX
	MOVSS f+16(FP), X7
	SHUFPS $0, X7, X7
	MOVOU satMaskR<>(SB), X8
	MOVOU satMaskG<>(SB), X9
	MOVOU satMaskB<>(SB), X10
	MOVOU satInterleave<>(SB), X11
	MOVL $19595, AX
	MOVQ AX, X12
	PSHUFD $0, X12, X12
	MOVL $38470, AX
	MOVQ AX, X13
	PSHUFD $0, X13, X13
	MOVL $7471, AX
	MOVQ AX, X14
	PSHUFD $0, X14, X14
	MOVL $0x8000, AX
	MOVQ AX, X15
	PSHUFD $0, X15, X15
	TESTQ CX, CX
	JZ sdone

sloop:
	MOVOU (DI), X0
	MOVO X0, X1
	PSHUFB X8, X1
	MOVO X0, X2
	PSHUFB X9, X2
	MOVO X0, X3
	PSHUFB X10, X3
	MOVO X1, X4
	PMULLD X12, X4
	MOVO X2, X6
	PMULLD X13, X6
	PADDL X6, X4
	MOVO X3, X6
	PMULLD X14, X6
	PADDL X6, X4
	PADDL X15, X4
	PSRLL $16, X4
	CVTPL2PS X4, X5
	PSUBL X4, X1
	CVTPL2PS X1, X1
	MULPS X7, X1
	ADDPS X5, X1
	CVTTPS2PL X1, X1
	PSUBL X4, X2
	CVTPL2PS X2, X2
	MULPS X7, X2
	ADDPS X5, X2
	CVTTPS2PL X2, X2
	PSUBL X4, X3
	CVTPL2PS X3, X3
	MULPS X7, X3
	ADDPS X5, X3
	CVTTPS2PL X3, X3
	PACKSSLW X2, X1
	PACKSSLW X3, X3
	PACKUSWB X3, X1
	PSHUFB X11, X1
	MOVQ X1, (DI)
	PSRLDQ $8, X1
	MOVL X1, 8(DI)
	ADDQ $12, DI
	DECQ CX
	JNZ sloop

sdone:
	RET

DATA sumPerm<>+0(SB)/4, $0
DATA sumPerm<>+4(SB)/4, $4
DATA sumPerm<>+8(SB)/4, $1
DATA sumPerm<>+12(SB)/4, $5
DATA sumPerm<>+16(SB)/4, $2
DATA sumPerm<>+20(SB)/4, $6
DATA sumPerm<>+24(SB)/4, $3
DATA sumPerm<>+28(SB)/4, $7
GLOBL sumPerm<>(SB), RODATA|NOPTR, $32

// func Sum32(out *byte, blocks int, rows **byte, w *int32, taps int, bias int32, shift uint32)
//
// Sum16 with AVX2, 32 values per block.
TEXT ·Sum32(SB), NOSPLIT, $0-48
	MOVQ out+0(FP), DI
	MOVQ blocks+8(FP), CX
	MOVQ rows+16(FP), SI
	MOVQ w+24(FP), DX
	MOVQ taps+32(FP), R8
	MOVL bias+40(FP), AX
	MOVQ AX, X15
	VPBROADCASTD X15, Y15
	MOVL shift+44(FP), BX
	MOVQ BX, X14
	VMOVDQU sumPerm<>(SB), Y12
	XORQ R9, R9

ablock:
	TESTQ CX, CX
	JZ adone
	VMOVDQA Y15, Y0
	VMOVDQA Y15, Y1
	VMOVDQA Y15, Y2
	VMOVDQA Y15, Y3
	XORQ R10, R10

atap:
	MOVQ (SI)(R10*8), R11
	VPBROADCASTD (DX)(R10*4), Y13
	VPMOVZXBD 0(R11)(R9*1), Y4
	VPMOVZXBD 8(R11)(R9*1), Y5
	VPMOVZXBD 16(R11)(R9*1), Y6
	VPMOVZXBD 24(R11)(R9*1), Y7
	VPMULLD Y13, Y4, Y4
	VPMULLD Y13, Y5, Y5
	VPMULLD Y13, Y6, Y6
	VPMULLD Y13, Y7, Y7
	VPADDD Y4, Y0, Y0
	VPADDD Y5, Y1, Y1
	VPADDD Y6, Y2, Y2
	VPADDD Y7, Y3, Y3
	INCQ R10
	CMPQ R10, R8
	JLT atap

	VPSRLD X14, Y0, Y0
	VPSRLD X14, Y1, Y1
	VPSRLD X14, Y2, Y2
	VPSRLD X14, Y3, Y3
	VPACKSSDW Y1, Y0, Y0
	VPACKSSDW Y3, Y2, Y2
	VPACKUSWB Y2, Y0, Y0
	VPERMD Y0, Y12, Y0
	VMOVDQU Y0, (DI)(R9*1)
	ADDQ $32, R9
	DECQ CX
	JMP ablock

adone:
	VZEROUPPER
	RET
