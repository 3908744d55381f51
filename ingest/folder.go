package ingest

import (
	"context"
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/swavgo/swav/ingest/store"
)

// folderFile is one image of an image folder.
type folderFile struct {
	name  string // object name
	key   string // path relative to the folder root, without extension
	ext   string
	label int64
}

// resolveFolder lists an image folder with one subdirectory per class
// (label = index of the class in sorted order) and cuts its sorted file list
// into virtual shards of shardSize files, the unit of shuffling and splitting.
func resolveFolder(ctx context.Context, b store.Bucket, prefix string, shardSize int) ([]*shardRef, error) {
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
	for i, c := range sortedKeys(classes) {
		classes[c] = int64(i)
	}
	sort.Slice(files, func(i, j int) bool { return files[i].name < files[j].name })
	var out []*shardRef
	for start := 0; start < len(files); start += shardSize {
		part := files[start:min(start+shardSize, len(files))]
		for i := range part {
			class, _, _ := strings.Cut(part[i].key, "/")
			part[i].label = classes[class]
		}
		id := fmt.Sprintf("%s#part-%06d", prefix, start/shardSize)
		out = append(out, &shardRef{bucket: b, name: id, url: store.ObjectURL(b, id), format: "folder",
			size: -1, count: int64(len(part)), files: part})
	}
	return out, nil
}

// folderReader reads the files of one virtual folder shard.
type folderReader struct {
	ctx context.Context
	s   *shardRef
	i   int
}

func newFolderReader(ctx context.Context, s *shardRef) *folderReader {
	return &folderReader{ctx: ctx, s: s}
}

func (f *folderReader) next() (record, error) {
	if f.i >= len(f.s.files) {
		return record{}, io.EOF
	}
	file := f.s.files[f.i]
	f.i++
	rec := record{key: file.key, shard: f.s.url, where: "file " + file.name}
	rc, err := f.s.bucket.Get(f.ctx, file.name)
	if err != nil {
		if store.IsNotExist(err) {
			rec.bad = "file vanished since listing"
			return rec, nil
		}
		return record{}, fmt.Errorf("shard %s: %w", f.s.url, err)
	}
	defer rc.Close()
	data, err := io.ReadAll(io.LimitReader(rc, maxMemberSize+1))
	if err != nil {
		return record{}, fmt.Errorf("shard %s: read %s: %w", f.s.url, file.name, err)
	}
	if len(data) > maxMemberSize {
		rec.bad = fmt.Sprintf("file is larger than %d bytes", maxMemberSize)
		return rec, nil
	}
	rec.sample = &Sample{Key: file.key, Shard: f.s.url, Ext: file.ext, Data: data, Label: file.label}
	return rec, nil
}

func (f *folderReader) Close() error { return nil }
