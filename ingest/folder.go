package ingest

import (
	"context"
	"fmt"
	"io"
	"maps"
	"slices"
	"sort"
	"strings"

	"github.com/swavgo/swav/ingest/store"
	"github.com/swavgo/swav/internal/field"
	"github.com/swavgo/swav/internal/settings"
)

// Image folders: one subdirectory per class (label = index of the class in
// sorted order), cut into virtual shards of data.folder.shard_size files.
func init() {
	RegisterFormat(folderFormat, Format{
		Settings: FolderConfig{ShardSize: 1000},
		Open: func(ctx context.Context, s Shard, _ *Config) (ShardReader, error) {
			return newFolderReader(ctx, s), nil
		},
		List: func(ctx context.Context, b store.Bucket, prefix string, cfg *Config) ([]Shard, error) {
			return listFolder(ctx, b, prefix, FolderSettings(cfg).ShardSize)
		},
		Detect: func(name string) bool { return isImageExt(extOf(name)) },
	})
}

const folderFormat = "folder"

// FolderConfig is the folder format's own sub-section of the data section
// (data.folder), registered with the format.
type FolderConfig struct {
	// ShardSize is the number of files per virtual shard of an image
	// folder (the unit of shuffling and splitting).
	ShardSize int `yaml:"shard_size"`
}

// Validate checks the sub-section (fields relative to data.folder); the
// data section runs it whatever data.format is (auto may list a folder).
func (c *FolderConfig) Validate() error {
	if c.ShardSize < 1 {
		return field.Errorf("shard_size", "must be >= 1, got %d", c.ShardSize)
	}
	return nil
}

// FolderSettings returns the folder format's settings of a data section
// (its defaults where the section holds none).
func FolderSettings(c *Config) FolderConfig {
	return settings.Get[FolderConfig](c.Formats, Section, folderFormat)
}

// EditFolder returns the folder format's settings of c for changing them in
// place; c gets its own copy first.
func EditFolder(c *Config) *FolderConfig {
	return settings.Edit[FolderConfig](&c.Formats, Section, folderFormat)
}

// folderFile is one image of an image folder.
type folderFile struct {
	name  string // object name
	key   string // path relative to the folder root, without extension
	ext   string
	label int64
}

// listFolder lists an image folder with one subdirectory per class
// (label = index of the class in sorted order) and cuts its sorted file list
// into virtual shards of shardSize files, the unit of shuffling and
// splitting; each shard's Parts are its []folderFile.
func listFolder(ctx context.Context, b store.Bucket, prefix string, shardSize int) ([]Shard, error) {
	if prefix != "" && !strings.HasSuffix(prefix, "/") {
		prefix += "/"
	}
	var files []folderFile
	classes := map[string]int64{}
	err := b.Iter(ctx, prefix, func(o store.ObjectInfo) error {
		rel := strings.TrimPrefix(o.Name, prefix)
		ext := extOf(rel)
		class, _, nested := strings.Cut(rel, "/")
		if !isImageExt(ext) || !nested {
			return nil
		}
		classes[class] = 0
		files = append(files, folderFile{name: o.Name, key: strings.TrimSuffix(rel, rel[strings.LastIndexByte(rel, '.'):]), ext: normImageExt(ext)})
		return nil
	})
	if err != nil {
		return nil, err
	}
	if len(files) == 0 {
		return nil, fmt.Errorf("image folder %s: no image in a class subdirectory: %w", store.ObjectURL(b, prefix), store.ErrNotExist)
	}
	for i, c := range slices.Sorted(maps.Keys(classes)) {
		classes[c] = int64(i)
	}
	sort.Slice(files, func(i, j int) bool { return files[i].name < files[j].name })
	var out []Shard
	for start := 0; start < len(files); start += shardSize {
		part := files[start:min(start+shardSize, len(files))]
		for i := range part {
			class, _, _ := strings.Cut(part[i].key, "/")
			part[i].label = classes[class]
		}
		id := fmt.Sprintf("%s#part-%06d", prefix, start/shardSize)
		out = append(out, Shard{Bucket: b, Name: id, URL: store.ObjectURL(b, id), Size: -1, Samples: int64(len(part)), Parts: part})
	}
	return out, nil
}

// folderReader reads the files of one virtual folder shard.
type folderReader struct {
	readerState
	ctx   context.Context
	s     Shard
	files []folderFile
	i     int
}

func newFolderReader(ctx context.Context, s Shard) *folderReader {
	files, _ := s.Parts.([]folderFile)
	return &folderReader{ctx: ctx, s: s, files: files}
}

// Next implements ShardReader: the next file, whole.
func (f *folderReader) Next() bool {
	f.rec = Record{}
	if f.err != nil || f.i >= len(f.files) {
		return false
	}
	file := f.files[f.i]
	f.i++
	rec := Record{Key: file.key, Shard: f.s.URL, Where: "file " + file.name}
	rc, err := f.s.Bucket.Get(f.ctx, file.name)
	if err != nil {
		if store.IsNotExist(err) {
			rec.Bad = "file vanished since listing"
			f.rec = rec
			return true
		}
		f.err = fmt.Errorf("shard %s: %w", f.s.URL, err)
		return false
	}
	defer rc.Close()
	data, err := io.ReadAll(io.LimitReader(rc, maxMemberSize+1))
	if err != nil {
		f.err = fmt.Errorf("shard %s: read %s: %w", f.s.URL, file.name, err)
		return false
	}
	if len(data) > maxMemberSize {
		rec.Bad = fmt.Sprintf("file is larger than %d bytes", maxMemberSize)
		f.rec = rec
		return true
	}
	rec.Sample = &Sample{Key: file.key, Shard: f.s.URL, Ext: file.ext, Data: data, Label: file.label}
	f.rec = rec
	return true
}

// Close implements ShardReader.
func (f *folderReader) Close() error { return nil }
