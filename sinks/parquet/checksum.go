package parquet

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"

	"github.com/apache/arrow-go/v18/parquet/metadata"
)

// MetaChecksums is the key-value entry of a feature file's footer that holds
// its CRC-32C checksums (JSON, see checksums). arrow-go neither writes nor
// checks Parquet's optional page CRCs, so the writer adds these after the
// file is complete and every read of ours verifies them: a flipped byte in a
// column chunk, between the chunks (page indexes) or in the footer is an
// error naming the file and, inside a chunk, the row group and the column.
// Other Parquet readers ignore the entry.
const MetaChecksums = "swav.crc32c"

// ErrChecksum is wrapped by every checksum mismatch.
var ErrChecksum = errors.New("checksum mismatch: the file is damaged")

// checksums is the value of MetaChecksums.
type checksums struct {
	// Footer is the CRC of the serialized footer with this field set to
	// footerPlaceholder.
	Footer string `json:"footer"`
	// Data is the CRC of every byte before the footer.
	Data string `json:"data"`
	// Chunks[r][c] is the CRC of column chunk c of row group r.
	Chunks [][]string `json:"chunks"`
}

const footerPlaceholder = "00000000"

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

func crcHex(b []byte) string { return fmt.Sprintf("%08x", crc32.Checksum(b, castagnoli)) }

// crcOfRange is crcHex of bytes [begin, end) of r, streamed.
func crcOfRange(r io.ReaderAt, begin, end int64) (string, error) {
	h := crc32.New(castagnoli)
	if _, err := io.Copy(h, io.NewSectionReader(r, begin, end-begin)); err != nil {
		return "", err
	}
	return fmt.Sprintf("%08x", h.Sum32()), nil
}

// readFooter returns the footer bytes of a Parquet file of size bytes and
// where they start.
func readFooter(r io.ReaderAt, size int64) (footer []byte, start int64, err error) {
	var tail [8]byte
	if size < 12 {
		return nil, 0, errors.New("not a Parquet file (too short)")
	}
	if _, err := r.ReadAt(tail[:], size-8); err != nil {
		return nil, 0, err
	}
	n := int64(binary.LittleEndian.Uint32(tail[:4]))
	start = size - 8 - n
	if string(tail[4:]) != "PAR1" {
		return nil, 0, errors.New("not a Parquet file (no PAR1 trailer)")
	}
	if n <= 0 || start < 4 {
		return nil, 0, fmt.Errorf("footer length %d does not fit the file's %d bytes", n, size)
	}
	footer = make([]byte, n)
	if _, err := r.ReadAt(footer, start); err != nil {
		return nil, 0, err
	}
	return footer, start, nil
}

// chunkRange is the byte range of a column chunk.
func chunkRange(cc *metadata.ColumnChunkMetaData) (int64, int64) {
	start := cc.DataPageOffset()
	if cc.HasDictionaryPage() && cc.DictionaryPageOffset() > 0 && cc.DictionaryPageOffset() < start {
		start = cc.DictionaryPageOffset()
	}
	return start, start + cc.TotalCompressedSize()
}

// chunkChecksums computes the CRC of every column chunk of r, a Parquet
// file whose footer starts at footerStart.
func chunkChecksums(r io.ReaderAt, fmd *metadata.FileMetaData, footerStart int64) ([][]string, error) {
	out := make([][]string, fmd.NumRowGroups())
	for g := range out {
		rg := fmd.RowGroup(g)
		out[g] = make([]string, rg.NumColumns())
		for c := range out[g] {
			cc, err := rg.ColumnChunk(c)
			if err != nil {
				return nil, err
			}
			begin, end := chunkRange(cc)
			if begin < 4 || end > footerStart || begin > end {
				return nil, fmt.Errorf("row group %d column %d: chunk bytes [%d, %d) outside the data", g, c, begin, end)
			}
			if out[g][c], err = crcOfRange(r, begin, end); err != nil {
				return nil, err
			}
		}
	}
	return out, nil
}

// addChecksums rewrites the footer of the complete Parquet file f (a local
// temp file) with MetaChecksums added. The data is streamed through the CRC,
// never held in memory; only the footer is read whole.
func addChecksums(f *os.File) error {
	st, err := f.Stat()
	if err != nil {
		return err
	}
	footer, start, err := readFooter(f, st.Size())
	if err != nil {
		return err
	}
	fmd, err := metadata.NewFileMetaData(footer, nil)
	if err != nil {
		return err
	}
	sums := checksums{Footer: footerPlaceholder}
	if sums.Data, err = crcOfRange(f, 0, start); err != nil {
		return err
	}
	if sums.Chunks, err = chunkChecksums(f, fmd, start); err != nil {
		return err
	}
	value, _ := json.Marshal(sums)
	// First in the list: a damaged list length drops entries from the end.
	var kv metadata.KeyValueMetadata
	if err := kv.Append(MetaChecksums, string(value)); err != nil {
		return err
	}
	fmd.FileMetaData.KeyValueMetadata = append(kv, fmd.FileMetaData.KeyValueMetadata...)
	var buf bytes.Buffer
	if _, err := fmd.WriteTo(&buf, nil); err != nil {
		return err
	}
	out := buf.Bytes()
	// The footer's own CRC, computed with the placeholder, then written over it.
	at := bytes.Index(out, []byte(`"footer":"`+footerPlaceholder+`"`))
	if at < 0 {
		return errors.New("checksum entry not found in the serialized footer")
	}
	copy(out[at+len(`"footer":"`):], crcHex(out))
	var tail [8]byte
	binary.LittleEndian.PutUint32(tail[:4], uint32(len(out)))
	copy(tail[4:], "PAR1")
	if err := f.Truncate(start); err != nil {
		return err
	}
	if _, err := f.WriteAt(append(out, tail[:]...), start); err != nil {
		return err
	}
	_, err = f.Seek(0, io.SeekEnd)
	return err
}

// verifyChecksums checks a whole feature file against MetaChecksums. A file
// without the entry is an error too: every file this writer makes has one,
// and damage to the footer's entry list can drop it. The error names path
// and, for a column chunk, its row group and column.
func verifyChecksums(path string, data []byte, fmd *metadata.FileMetaData) error {
	value := fmd.KeyValueMetadata().FindValue(MetaChecksums)
	if value == nil {
		return fmt.Errorf("%s: %w: no %s entry in the footer (damaged, or written before feature files carried checksums: extract again)",
			path, ErrChecksum, MetaChecksums)
	}
	var sums checksums
	if err := json.Unmarshal([]byte(*value), &sums); err != nil {
		return fmt.Errorf("%s: %w: unreadable %s entry (%v)", path, ErrChecksum, MetaChecksums, err)
	}
	footer, start, err := readFooter(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	field := []byte(`"footer":"` + sums.Footer + `"`)
	at := bytes.Index(footer, field)
	if at < 0 || len(sums.Footer) != len(footerPlaceholder) {
		return fmt.Errorf("%s: %w: the footer's checksum field is altered", path, ErrChecksum)
	}
	zeroed := bytes.Clone(footer)
	copy(zeroed[at+len(`"footer":"`):], footerPlaceholder)
	if got := crcHex(zeroed); got != sums.Footer {
		return fmt.Errorf("%s: %w: footer (metadata) CRC-32C %s, stored %s", path, ErrChecksum, got, sums.Footer)
	}
	chunks, err := chunkChecksums(bytes.NewReader(data), fmd, start)
	if err != nil {
		return fmt.Errorf("%s: %w: %v", path, ErrChecksum, err)
	}
	if len(chunks) != len(sums.Chunks) {
		return fmt.Errorf("%s: %w: %d row groups, checksums for %d", path, ErrChecksum, len(chunks), len(sums.Chunks))
	}
	for r := range chunks {
		for c := range chunks[r] {
			if c >= len(sums.Chunks[r]) || chunks[r][c] != sums.Chunks[r][c] {
				cc, _ := fmd.RowGroup(r).ColumnChunk(c)
				return fmt.Errorf("%s: %w: row group %d, column chunk %d (%s)", path, ErrChecksum, r, c, cc.PathInSchema().String())
			}
		}
	}
	if got := crcHex(data[:start]); got != sums.Data {
		return fmt.Errorf("%s: %w: bytes outside the column chunks (page indexes, header) CRC-32C %s, stored %s", path, ErrChecksum, got, sums.Data)
	}
	return nil
}
