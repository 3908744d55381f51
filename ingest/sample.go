// Package ingest turns a list of shards in an object store (ingest/store)
// into a stream of samples: shard lists, the shard formats' registry and
// readers, splitting across ranks and workers, shuffling and resumable
// cursors.
package ingest

// Sample is one training example as read from a shard. The reader that emits
// a Sample gives up ownership of Data: the receiver may keep or modify it.
type Sample struct {
	// Key identifies the sample inside its shard (WebDataset key, Parquet row
	// path, or file path relative to the folder root).
	Key string
	// Shard is the shard (object URL) the sample came from; errors name it.
	Shard string
	// Ext is the lower-cased image extension ("jpg", "png", "webp").
	Ext string
	// Data holds the encoded image bytes.
	Data []byte
	// Label is the class index, or -1 when the shard carries none.
	Label int64
	// Meta holds the raw .json member (WebDataset) or nil.
	Meta []byte
	// Where locates the sample in its shard ("byte 1536", "row 12",
	// "file cat/1.jpg"), for the skip records of later stages.
	Where string
	// Pos is the position of this sample in the run's sample order. A source
	// opened at Pos (see Cursor) yields exactly the samples that follow it.
	Pos Position
}

// Position identifies a sample in the deterministic sample order of one
// (seed, rank, world size, worker count) setting: Epoch and the number of
// samples emitted before it in that epoch (Seq).
type Position struct {
	Epoch int   `json:"epoch"`
	Seq   int64 `json:"seq"`
}

// SizeBytes implements pipeline.Sizer.
func (s *Sample) SizeBytes() int64 { return int64(len(s.Data)) }

// Next returns the position that follows p in the same epoch: a source
// opened at p.Next() resumes right after the sample at p (Source rolls over
// to the next epoch when the epoch has no more samples).
func (p Position) Next() Position { return Position{Epoch: p.Epoch, Seq: p.Seq + 1} }

// Release implements pipeline.Releaser: it hands Data back to the reader's
// buffer pool. Call it once the bytes are no longer needed (after decoding);
// neither Data nor any slice of it may be used afterwards. Not calling it is
// correct too (the GC frees the buffer), only slower.
func (s *Sample) Release() {
	if s.Data != nil {
		putData(s.Data)
		s.Data = nil
	}
}
