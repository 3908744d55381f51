package weights

import (
	"bytes"
	"encoding/binary"
	"fmt"
)

// scanPickle walks the opcodes of the pickle that starts at data[0] up to its
// STOP and returns the pickle's length. It checks what gopickle would trust:
// every length-prefixed argument (strings, bytes, longs, frames) and every
// fixed-size or newline-terminated argument must lie inside data, so the
// unpickler never allocates more than the file holds. It executes nothing.
func scanPickle(data []byte) (int, error) {
	pos := 0
	need := func(op byte, n uint64) error {
		if n > uint64(len(data)-pos) {
			return fmt.Errorf("%w: pickle opcode 0x%02x at byte %d declares %d bytes, only %d remain", ErrCorrupt, op, pos-1, n, len(data)-pos)
		}
		pos += int(n)
		return nil
	}
	line := func(op byte) error {
		i := bytes.IndexByte(data[pos:], '\n')
		if i < 0 {
			return fmt.Errorf("%w: pickle opcode 0x%02x at byte %d: no end of line", ErrCorrupt, op, pos-1)
		}
		pos += i + 1
		return nil
	}
	for pos < len(data) {
		op := data[pos]
		pos++
		var err error
		switch op {
		case '.': // STOP
			return pos, nil
		case '(', '0', '1', '2', 'N', 'Q', 'R', 'a', 'b', 'd', '}', 'e', 'l', ']', 'o', 's', 't', ')', 'u',
			0x81, 0x85, 0x86, 0x87, 0x88, 0x89, 0x8f, 0x90, 0x91, 0x92, 0x93, 0x94, 0x97, 0x98:
			// no argument
		case 'K', 'h', 'q', 0x80, 0x82: // BININT1, BINGET, BINPUT, PROTO, EXT1
			err = need(op, 1)
		case 'M', 0x83: // BININT2, EXT2
			err = need(op, 2)
		case 'J', 'j', 'r', 0x84: // BININT, LONG_BINGET, LONG_BINPUT, EXT4
			err = need(op, 4)
		case 'G': // BINFLOAT
			err = need(op, 8)
		case 'I', 'L', 'S', 'V', 'F', 'g', 'p', 'P': // text arguments
			err = line(op)
		case 'c', 'i': // GLOBAL, INST: module and name lines
			if err = line(op); err == nil {
				err = line(op)
			}
		case 'U', 'C', 0x8c, 0x8a: // SHORT_BINSTRING, SHORT_BINBYTES, SHORT_BINUNICODE, LONG1
			if err = need(op, 1); err == nil {
				if op == 0x8a && data[pos-1] == 0 {
					// Python reads it as 0; gopickle indexes byte -1. Never written by torch.save.
					return 0, fmt.Errorf("%w: pickle opcode LONG1 at byte %d has no bytes (unsupported)", ErrCorrupt, pos-2)
				}
				err = need(op, uint64(data[pos-1]))
			}
		case 'T', 'X', 'B', 0x8b: // BINSTRING, BINUNICODE, BINBYTES, LONG4
			if err = need(op, 4); err == nil {
				n := binary.LittleEndian.Uint32(data[pos-4:])
				if (op == 'T' || op == 0x8b) && int32(n) < 0 {
					return 0, fmt.Errorf("%w: pickle opcode 0x%02x at byte %d: negative length", ErrCorrupt, op, pos-5)
				}
				if op == 0x8b && n == 0 {
					return 0, fmt.Errorf("%w: pickle opcode LONG4 at byte %d has no bytes (unsupported)", ErrCorrupt, pos-5)
				}
				err = need(op, uint64(n))
			}
		case 0x8d, 0x8e, 0x96: // BINUNICODE8, BINBYTES8, BYTEARRAY8
			if err = need(op, 8); err == nil {
				err = need(op, binary.LittleEndian.Uint64(data[pos-8:]))
			}
		case 0x95: // FRAME: the frame's bytes are opcodes scanned in turn
			if err = need(op, 8); err == nil {
				if n := binary.LittleEndian.Uint64(data[pos-8:]); n > uint64(len(data)-pos) {
					return 0, fmt.Errorf("%w: pickle frame at byte %d declares %d bytes, only %d remain", ErrCorrupt, pos-9, n, len(data)-pos)
				}
			}
		default:
			return 0, fmt.Errorf("%w: unknown pickle opcode 0x%02x at byte %d", ErrCorrupt, op, pos-1)
		}
		if err != nil {
			return 0, err
		}
	}
	return 0, fmt.Errorf("%w: pickle ends without STOP after %d bytes (truncated)", ErrCorrupt, len(data))
}
