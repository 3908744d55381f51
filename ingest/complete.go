package ingest

import (
	"context"
	"errors"
	"fmt"
	"path"
)

// checkedReader holds one shard's reader to what is known about the shard,
// so that an incomplete shard is never read as a complete one, the same way
// for a run (Source), its counting and `shards ls`:
//
//   - an IncompleteShardError from the reader (a cut tar) or fewer bytes
//     than the index sidecar records make the shard incomplete (Incomplete);
//   - when its index (or an earlier count) promises more samples than the
//     reader gave, one Bad record of class SkipClassCutShard follows for each
//     missing sample, so every sample slot is accounted for (skip budget,
//     skipped.jsonl, exact resume); without a count, a shard that lost
//     samples before its first record still gets one such record;
//   - any other difference from the index is an error naming the shard.
//
// It costs nothing per record; it is used by one goroutine.
type checkedReader struct {
	rd   ShardReader
	sh   *shardRef
	want int64 // sample slots expected, -1 unknown

	n          int64 // records given so far
	read       int64 // records the reader gave
	pad        int64 // missing-sample records still to give
	finished   bool
	incomplete *IncompleteShardError
	readerState
}

// openChecked opens sh with its format and wraps it; want is the known
// count (-1 unknown).
func openChecked(ctx context.Context, sh *shardRef, cfg *Config, want int64) (*checkedReader, error) {
	rd, err := openShard(ctx, sh, cfg)
	if err != nil {
		return nil, err
	}
	return &checkedReader{rd: rd, sh: sh, want: want}, nil
}

// Incomplete is the shard's incompleteness once Next returned false (nil
// for a complete shard).
func (c *checkedReader) Incomplete() *IncompleteShardError { return c.incomplete }

func (c *checkedReader) Close() error { return c.rd.Close() }

func (c *checkedReader) Next() bool {
	c.rec = Record{}
	if c.pad > 0 {
		c.pad--
		c.rec = c.missing(c.n)
		c.n++
		return true
	}
	if c.finished || c.err != nil {
		return false
	}
	if c.rd.Next() {
		c.rec = c.rd.Record()
		c.n++
		c.read++
		return true
	}
	c.finished = true
	err := c.rd.Err()
	if inc := (*IncompleteShardError)(nil); errors.As(err, &inc) {
		c.incomplete, err = inc, nil
	}
	if err != nil {
		c.err = err
		return false
	}
	if c.incomplete == nil && c.sh.indexBytes >= 0 {
		size := c.sh.Size
		if sz, ok := c.rd.(interface{ ObjectSize() int64 }); ok && size < 0 {
			size = sz.ObjectSize()
		}
		if size >= 0 && size < c.sh.indexBytes {
			c.incomplete = &IncompleteShardError{Shard: c.sh.URL, At: size, Lost: c.want > c.n,
				Reason: fmt.Sprintf("is %d bytes, %d fewer than its %s records", size, c.sh.indexBytes-size, IndexName)}
		}
	}
	switch {
	case c.want >= 0 && c.n > c.want, c.want >= 0 && c.n < c.want && c.incomplete == nil:
		c.err = fmt.Errorf("shard %s: holds %d samples but its index says %d: rewrite the index (pipeline shards make) or delete %s",
			c.sh.URL, c.n, c.want, path.Join(path.Dir(c.sh.Name), IndexName))
		return false
	case c.want > c.n:
		c.pad = c.want - c.n
	case c.want < 0 && c.n == 0 && c.incomplete != nil && c.incomplete.Lost:
		c.pad = 1
	}
	return c.Next()
}

// missing is the record of a sample slot the shard could not fill.
func (c *checkedReader) missing(i int64) Record {
	inc := c.incomplete
	where := fmt.Sprintf("byte %d", inc.At)
	bad := "not read: the shard " + inc.Reason
	if c.want >= 0 {
		where = fmt.Sprintf("sample %d of %d", i+1, c.want)
		bad += fmt.Sprintf(" (%d of its %d samples read)", c.read, c.want)
	}
	return Record{Shard: c.sh.URL, Where: where, Bad: bad, Class: SkipClassCutShard}
}
