// Package storetest is the acceptance suite every store.Bucket
// implementation passes. Other packages writing through a Bucket may run it on
// the buckets they construct.
package storetest

import (
	"bytes"
	"context"
	"errors"
	"io"
	"strings"
	"sync"
	"testing"

	"github.com/swavgo/swav/ingest/store"
)

// Run checks b's behaviour; b must hold no object. Run a folder of a bucket
// through store.Prefixed.
func Run(t *testing.T, b store.Bucket) {
	ctx := context.Background()
	payload := bytes.Repeat([]byte("0123456789abcdef"), 4096) // 64 KiB

	t.Run("UploadGet", func(t *testing.T) {
		if err := b.Upload(ctx, "a/obj.bin", bytes.NewReader(payload)); err != nil {
			t.Fatal(err)
		}
		got := ReadAll(t, b, "a/obj.bin")
		if !bytes.Equal(got, payload) {
			t.Fatalf("Get returned %d bytes, want %d equal bytes", len(got), len(payload))
		}
	})
	t.Run("UploadNonSeekableOverwrites", func(t *testing.T) {
		r := io.MultiReader(strings.NewReader("new "), strings.NewReader("content"))
		if err := b.Upload(ctx, "a/over.txt", r); err != nil {
			t.Fatal(err)
		}
		if err := b.Upload(ctx, "a/over.txt", strings.NewReader("second")); err != nil {
			t.Fatal(err)
		}
		if got := string(ReadAll(t, b, "a/over.txt")); got != "second" {
			t.Fatalf("after overwrite got %q", got)
		}
	})
	t.Run("UploadIfAbsent", func(t *testing.T) {
		if err := b.UploadIfAbsent(ctx, "once/first.bin", bytes.NewReader(payload)); err != nil {
			t.Fatalf("UploadIfAbsent of a new name: %v", err)
		}
		// A second write, seekable or not, is refused and changes nothing.
		for _, r := range []io.Reader{strings.NewReader("second"), io.MultiReader(strings.NewReader("sec"), strings.NewReader("ond"))} {
			err := b.UploadIfAbsent(ctx, "once/first.bin", r)
			if !store.IsExist(err) {
				t.Fatalf("UploadIfAbsent over an existing object: error %v does not wrap ErrExists", err)
			}
			if url := store.ObjectURL(b, "once/first.bin"); !strings.Contains(err.Error(), url) {
				t.Fatalf("error %q does not name the object %s", err, url)
			}
		}
		if got := ReadAll(t, b, "once/first.bin"); !bytes.Equal(got, payload) {
			t.Fatalf("after a refused second write the object has %d bytes, want the first %d", len(got), len(payload))
		}
		// A plain Upload still replaces it (checkpoints' tests, shard lists).
		if err := b.Upload(ctx, "once/first.bin", strings.NewReader("replaced")); err != nil {
			t.Fatal(err)
		}
		// Nothing of a refused write is listed (no temp file, no part).
		objs, err := store.List(ctx, b, "once/")
		if err != nil || len(objs) != 1 {
			t.Fatalf("List(once/) = %v, %v; want the one object", objs, err)
		}
	})
	t.Run("UploadIfAbsentRace", func(t *testing.T) {
		// Eight writers race for one name: exactly one wins, the others get
		// ErrExists, and the object is the winner's, whole.
		const writers = 8
		errs := make([]error, writers)
		var wg sync.WaitGroup
		for i := range writers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				body := bytes.Repeat([]byte{byte('a' + i)}, len(payload))
				errs[i] = b.UploadIfAbsent(ctx, "once/race.bin", bytes.NewReader(body))
			}()
		}
		wg.Wait()
		winner := OneWinner(t, errs)
		want := bytes.Repeat([]byte{byte('a' + winner)}, len(payload))
		if got := ReadAll(t, b, "once/race.bin"); !bytes.Equal(got, want) {
			t.Fatalf("the object is not writer %d's bytes", winner)
		}
	})
	t.Run("GetRange", func(t *testing.T) {
		for _, tc := range []struct{ off, n int64 }{{0, 10}, {100, 1000}, {65530, 6}, {65000, -1}, {5, 0}} {
			rc, err := b.GetRange(ctx, "a/obj.bin", tc.off, tc.n)
			if err != nil {
				t.Fatalf("GetRange(%d,%d): %v", tc.off, tc.n, err)
			}
			got, err := io.ReadAll(rc)
			rc.Close()
			if err != nil {
				t.Fatalf("GetRange(%d,%d) read: %v", tc.off, tc.n, err)
			}
			end := int64(len(payload))
			if tc.n >= 0 {
				end = tc.off + tc.n
			}
			if !bytes.Equal(got, payload[tc.off:end]) {
				t.Fatalf("GetRange(%d,%d): got %d bytes, want %d", tc.off, tc.n, len(got), end-tc.off)
			}
		}
	})
	t.Run("ExistsAttributes", func(t *testing.T) {
		ok, err := b.Exists(ctx, "a/obj.bin")
		if err != nil || !ok {
			t.Fatalf("Exists(existing) = %v, %v", ok, err)
		}
		ok, err = b.Exists(ctx, "a/missing.bin")
		if err != nil || ok {
			t.Fatalf("Exists(missing) = %v, %v", ok, err)
		}
		attr, err := b.Attributes(ctx, "a/obj.bin")
		if err != nil || attr.Size != int64(len(payload)) {
			t.Fatalf("Attributes = %+v, %v; want size %d", attr, err, len(payload))
		}
		if _, err := b.Attributes(ctx, "a/missing.bin"); !store.IsNotExist(err) {
			t.Fatalf("Attributes(missing) error %v does not wrap ErrNotExist", err)
		}
	})
	t.Run("MissingObjectNamed", func(t *testing.T) {
		_, err := b.Get(ctx, "a/missing.bin")
		if !errors.Is(err, store.ErrNotExist) {
			t.Fatalf("Get(missing) error %v does not wrap ErrNotExist", err)
		}
		if url := store.ObjectURL(b, "a/missing.bin"); !strings.Contains(err.Error(), url) {
			t.Fatalf("error %q does not name the object %s", err, url)
		}
	})
	t.Run("Iter", func(t *testing.T) {
		for _, n := range []string{"list/x-000001.tar", "list/x-000000.tar", "list/sub/y.tar", "listing.txt"} {
			if err := b.Upload(ctx, n, strings.NewReader(n)); err != nil {
				t.Fatal(err)
			}
		}
		for _, tc := range []struct {
			prefix string
			want   []string
		}{
			{"list/", []string{"list/sub/y.tar", "list/x-000000.tar", "list/x-000001.tar"}},
			{"list/x-", []string{"list/x-000000.tar", "list/x-000001.tar"}},
			{"list", []string{"list/sub/y.tar", "list/x-000000.tar", "list/x-000001.tar", "listing.txt"}},
			{"nothing/", nil},
		} {
			objs, err := store.List(ctx, b, tc.prefix)
			if err != nil {
				t.Fatalf("List(%q): %v", tc.prefix, err)
			}
			var got []string
			for _, o := range objs {
				got = append(got, o.Name)
				if o.Size != int64(len(o.Name)) {
					t.Errorf("List(%q): %s has size %d", tc.prefix, o.Name, o.Size)
				}
			}
			if strings.Join(got, ",") != strings.Join(tc.want, ",") {
				t.Errorf("List(%q) = %v, want %v", tc.prefix, got, tc.want)
			}
		}
	})
	t.Run("Delete", func(t *testing.T) {
		if err := b.Delete(ctx, "listing.txt"); err != nil {
			t.Fatal(err)
		}
		if ok, _ := b.Exists(ctx, "listing.txt"); ok {
			t.Fatal("object still exists after Delete")
		}
		if err := b.Delete(ctx, "listing.txt"); err != nil {
			t.Fatalf("deleting a missing object: %v", err)
		}
	})
	t.Run("Stage", func(t *testing.T) {
		// A staged file is written, read back and patched in place (as a
		// Parquet footer's checksums are) before it lands whole.
		stage := func(name, body string) *store.StagedFile {
			t.Helper()
			f, err := store.Stage(ctx, b, name)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := f.WriteString("xx" + body[2:]); err != nil {
				t.Fatal(err)
			}
			if _, err := f.WriteAt([]byte(body[:2]), 0); err != nil {
				t.Fatal(err)
			}
			return f
		}
		first := stage("staged/a.bin", "first body")
		if ok, _ := b.Exists(ctx, "staged/a.bin"); ok {
			t.Fatal("a staged file is visible before Commit")
		}
		second := stage("staged/a.bin", "second body")
		if err := first.Commit(ctx); err != nil {
			t.Fatal(err)
		}
		if err := second.Commit(ctx); !errors.Is(err, store.ErrExists) || !strings.Contains(err.Error(), "staged/a.bin") {
			t.Fatalf("a second Commit of the name: %v, want ErrExists naming it", err)
		}
		if got := string(ReadAll(t, b, "staged/a.bin")); got != "first body" {
			t.Fatalf("after two commits the object holds %q, want the first", got)
		}
		stage("staged/b.bin", "aborted").Abort()
		objs, err := store.List(ctx, b, "staged/")
		if err != nil {
			t.Fatal(err)
		}
		if len(objs) != 1 || objs[0].Name != "staged/a.bin" {
			t.Fatalf("staged/ lists %v, want only a.bin (no aborted or temporary file)", objs)
		}
	})
}

// OneWinner checks the errors of writers that raced with UploadIfAbsent for
// one name: exactly one nil (the winner, whose index it returns), every
// other one ErrExists.
func OneWinner(t testing.TB, errs []error) int {
	t.Helper()
	winner := -1
	for i, err := range errs {
		switch {
		case err == nil && winner >= 0:
			t.Fatalf("writers %d and %d both won", winner, i)
		case err == nil:
			winner = i
		case !store.IsExist(err):
			t.Fatalf("writer %d: %v (want nil or ErrExists)", i, err)
		}
	}
	if winner < 0 {
		t.Fatal("no writer won")
	}
	return winner
}

// ReadAll returns object name's bytes, failing t on any error.
func ReadAll(t testing.TB, b store.Bucket, name string) []byte {
	t.Helper()
	rc, err := b.Get(context.Background(), name)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	got, err := io.ReadAll(rc)
	if err != nil {
		t.Fatal(err)
	}
	return got
}
