package tensorboard

import (
	"encoding/binary"
	"hash/crc32"
)

// castagnoli is the CRC-32C table of TFRecord framing.
var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// maskDelta is TFRecord's CRC mask constant.
const maskDelta = 0xa282ead8

// MaskedCRC is TFRecord's masked CRC-32C of data: the CRC rotated right by
// 15 bits plus 0xa282ead8 (tensorflow/core/lib/hash/crc32c.h Mask), so that
// a CRC stored in a file that is itself CRC'd does not hash to a pattern.
func MaskedCRC(data []byte) uint32 {
	c := crc32.Checksum(data, castagnoli)
	return (c>>15 | c<<17) + maskDelta
}

// AppendRecord appends one TFRecord frame holding data to dst and returns
// the extended slice:
//
//	uint64 length (little endian)
//	uint32 masked CRC-32C of the 8 length bytes
//	byte   data[length]
//	uint32 masked CRC-32C of data
func AppendRecord(dst, data []byte) []byte {
	var hdr [12]byte
	binary.LittleEndian.PutUint64(hdr[:8], uint64(len(data)))
	binary.LittleEndian.PutUint32(hdr[8:], MaskedCRC(hdr[:8]))
	dst = append(dst, hdr[:]...)
	dst = append(dst, data...)
	return binary.LittleEndian.AppendUint32(dst, MaskedCRC(data))
}
