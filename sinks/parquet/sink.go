package parquet

import (
	"context"

	"github.com/swavgo/swav/sinks"
)

// The feature sink of local folders, file:// and s3:// prefixes, both ways:
// one Parquet file per input shard (FileName), committed atomically, and
// read back (Source).
func init() {
	sinks.Register(Name, sinks.Sink{Schemes: []string{"", "file", "s3"}, Open: OpenSink, OpenSource: OpenSource, Settings: DefaultConfig()})
}

// Sink is the sinks.FeatureSink over an Output.
type Sink struct {
	*Output
	opts WriterOptions
}

// OpenSink opens url (OpenOutput) as a feature sink whose files use the
// row-group length and codec of its settings in o (extract.parquet).
func OpenSink(ctx context.Context, url string, o sinks.Options) (sinks.FeatureSink, error) {
	out, err := OpenOutput(ctx, url, o.Store)
	if err != nil {
		return nil, err
	}
	own := SettingsOf(o.Settings)
	return &Sink{Output: out, opts: WriterOptions{RowGroupRows: own.RowGroupRows, Compression: own.Compression}}, nil
}

// Done implements sinks.FeatureSink: shard's file exists, is complete and
// matches want.
func (s *Sink) Done(ctx context.Context, shard string, want Metadata) (bool, error) {
	return s.Output.Done(ctx, FileName(shard), want)
}

// Begin implements sinks.FeatureSink: a FileWriter for shard's file.
func (s *Sink) Begin(ctx context.Context, shard string, md Metadata) (sinks.ShardWriter, error) {
	fw, err := Create(ctx, s.Output, FileName(shard), md, s.opts)
	if err != nil {
		return nil, err
	}
	return fw, nil
}

// Where implements sinks.FeatureSink: the URL of shard's file.
func (s *Sink) Where(shard string) string { return s.Path(FileName(shard)) }

var (
	_ sinks.FeatureSink = (*Sink)(nil)
	_ sinks.ShardWriter = (*FileWriter)(nil)
)
