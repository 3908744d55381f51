package store_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/swavgo/swav/ingest/store"
	"github.com/swavgo/swav/ingest/store/faultproxy"
	"github.com/swavgo/swav/ingest/store/s3local"
	"github.com/swavgo/swav/ingest/store/storetest"
)

const testPart = 5 << 20 // S3's smallest part

// pattern is n bytes that differ with seed.
func pattern(n, seed int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i*7 + seed*13 + i>>11)
	}
	return b
}

func openS3(t *testing.T, srv *s3local.Server, bucket, endpoint string, retries int) *store.S3 {
	t.Helper()
	cfg := srv.StoreConfig()
	cfg.PartSize, cfg.Retries = testPart, retries
	if endpoint != "" {
		cfg.S3.Endpoint = endpoint
	}
	b, err := store.NewS3(context.Background(), bucket, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// pendingUploads lists the bucket's unfinished multipart uploads: a failed
// or refused upload must leave none.
func pendingUploads(t *testing.T, b *store.S3) int {
	t.Helper()
	out, err := b.Client().ListMultipartUploads(context.Background(), &s3.ListMultipartUploadsInput{Bucket: aws(b.Bucket())})
	if err != nil {
		t.Fatal(err)
	}
	return len(out.Uploads)
}

func aws(s string) *string { return &s }

// TestS3MultipartIfAbsent: objects above the part size go up in parts, and
// the condition holds on CompleteMultipartUpload: a second write is
// ErrExists, of three racing writers one wins, and no refused upload leaves
// parts behind.
func TestS3MultipartIfAbsent(t *testing.T) {
	ctx := context.Background()
	srv := s3local.StartForTest(t)
	if _, err := srv.CreateBucket(ctx, "multi"); err != nil {
		t.Fatal(err)
	}
	b := openS3(t, srv, "multi", "", 10)
	big := pattern(2*testPart+12345, 1)
	if err := b.Upload(ctx, "plain.bin", bytes.NewReader(big)); err != nil {
		t.Fatal(err)
	}
	if err := b.UploadIfAbsent(ctx, "once.bin", io.MultiReader(bytes.NewReader(big))); err != nil {
		t.Fatal(err)
	}
	if err := b.UploadIfAbsent(ctx, "once.bin", bytes.NewReader(pattern(len(big), 2))); !store.IsExist(err) {
		t.Fatalf("second multipart write: %v, want ErrExists", err)
	}
	for _, name := range []string{"plain.bin", "once.bin"} {
		if !bytes.Equal(storetest.ReadAll(t, b, name), big) {
			t.Fatalf("%s is not the first write's bytes", name)
		}
	}
	var wg sync.WaitGroup
	errs := make([]error, 3)
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = b.UploadIfAbsent(ctx, "race.bin", bytes.NewReader(pattern(len(big), 10+i)))
		}()
	}
	wg.Wait()
	winner := storetest.OneWinner(t, errs)
	if !bytes.Equal(storetest.ReadAll(t, b, "race.bin"), pattern(len(big), 10+winner)) {
		t.Fatalf("race: winner %d, object not whole", winner)
	}
	if n := pendingUploads(t, b); n != 0 {
		t.Fatalf("%d multipart uploads left behind", n)
	}
}

// TestS3WriteFaults writes through the fault proxy: resets in the middle
// of an upload, 503 SlowDown, 500s, replies lost after the write landed and
// 409 ConditionalRequestConflict (retried by us with back-off),
// on PutObject, UploadPart and CompleteMultipartUpload. Every conditional
// write lands exactly once with its bytes, a second one is still ErrExists
// (with the same bytes too),
// and a write whose faults outlast the retries fails with an error naming
// the object and the fault, leaves nothing visible (no object, no parts),
// and a rerun without faults writes it.
func TestS3WriteFaults(t *testing.T) {
	ctx := context.Background()
	srv := s3local.StartForTest(t)
	if _, err := srv.CreateBucket(ctx, "faulty"); err != nil {
		t.Fatal(err)
	}
	direct := openS3(t, srv, "faulty", "", 10)
	for _, only := range []string{"PutObject", "UploadPart", "CompleteMultipartUpload"} {
		t.Run(only, func(t *testing.T) {
			proxy, err := faultproxy.Start(srv.Endpoint, faultproxy.Faults{WriteOnly: only,
				WriteResetEvery: 3, WriteSlowDownEvery: 4, WriteErrorEvery: 5, WriteLostReplyEvery: 7, WriteConflictEvery: 11})
			if err != nil {
				t.Fatal(err)
			}
			defer proxy.Close()
			b := openS3(t, srv, "faulty", proxy.URL, 10)
			size := 1000 + 17*len(only)
			if only != "PutObject" {
				size = testPart + 4096
			}
			for i := range 4 {
				name := fmt.Sprintf("%s/%d.bin", only, i)
				want := pattern(size, i)
				if err := b.UploadIfAbsent(ctx, name, bytes.NewReader(want)); err != nil {
					t.Fatalf("write %d: %v", i, err)
				}
				if !bytes.Equal(storetest.ReadAll(t, direct, name), want) {
					t.Fatalf("%s is not the bytes written", name)
				}
				// A second writer is refused even with the same bytes and
				// its request retried through the faults: only the first
				// call's write token makes a 412 after a retry ours.
				second := pattern(size, 100+i)
				if i%2 == 1 {
					second = want
				}
				if err := b.UploadIfAbsent(ctx, name, bytes.NewReader(second)); !store.IsExist(err) {
					t.Fatalf("second write of %s: %v, want ErrExists", name, err)
				}
			}
			inj := proxy.Injected()
			if inj["write-reset"] == 0 || inj["write-slowdown"] == 0 || inj["write-error"] == 0 || inj["write-lost-reply"] == 0 ||
				(only != "UploadPart" && inj["write-conflict"] == 0) {
				t.Fatalf("faults injected %v over %d writes: want every kind", inj, proxy.Writes())
			}
			t.Logf("%s: %d writes, faults %v", only, proxy.Writes(), inj)
		})
	}
	t.Run("BeyondTheRetries", func(t *testing.T) {
		for _, only := range []string{"PutObject", "UploadPart", "CompleteMultipartUpload"} {
			proxy, err := faultproxy.Start(srv.Endpoint, faultproxy.Faults{WriteOnly: only, WriteErrorEvery: 1})
			if err != nil {
				t.Fatal(err)
			}
			b := openS3(t, srv, "faulty", proxy.URL, 3)
			name := "lost/" + only + ".bin"
			size := 2000
			if only != "PutObject" {
				size = testPart + 1
			}
			err = b.UploadIfAbsent(ctx, name, bytes.NewReader(pattern(size, 1)))
			proxy.Close()
			if err == nil || store.IsExist(err) || !strings.Contains(err.Error(), "s3://faulty/"+name) || !strings.Contains(err.Error(), "InternalError") {
				t.Fatalf("%s: %v; want an error naming the object and the fault", only, err)
			}
			if ok, err := direct.Exists(ctx, name); ok || err != nil {
				t.Fatalf("%s: a failed write is visible (%v, %v)", only, ok, err)
			}
			if n := pendingUploads(t, direct); n != 0 {
				t.Fatalf("%s: %d multipart uploads left behind", only, n)
			}
			if err := direct.UploadIfAbsent(ctx, name, bytes.NewReader(pattern(size, 1))); err != nil {
				t.Fatalf("%s: rerun: %v", only, err)
			}
		}
	})
}
