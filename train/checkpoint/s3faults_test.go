package checkpoint

import (
	"context"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/swavgo/swav/ingest/store"
	"github.com/swavgo/swav/ingest/store/faultproxy"
	"github.com/swavgo/swav/ingest/store/s3local"
)

// TestS3SaveFaultsKeepTheLatest: checkpoint writes to S3 through the fault
// proxy. Faults the retries absorb still land each checkpoint once; a
// write whose faults outlast them (on the single PutObject, on a part, on
// the completion of a multipart upload) is an error naming the file, leaves
// no object and no parts, and the latest good checkpoint stays the latest
// and loads; the rerun writes it.
func TestS3SaveFaultsKeepTheLatest(t *testing.T) {
	ctx := context.Background()
	srv := s3local.StartForTest(t)
	if _, err := srv.CreateBucket(ctx, "ckfaults"); err != nil {
		t.Fatal(err)
	}
	direct := Store{Config: srv.StoreConfig()}
	direct.Config.PartSize = 5 << 20
	dir := "s3://ckfaults/run/checkpoints"
	if _, err := direct.Save(ctx, dir, bigCheckpoint(5), 0); err != nil {
		t.Fatal(err)
	}
	big := bigCheckpoint(0)
	big.State.Params[0].Data = make([]float32, 3<<20/2) // 6 MiB: two parts
	big.State.Params[0].Shape = []int{len(big.State.Params[0].Data)}
	iter := 10
	for _, tc := range []struct {
		only      string
		multipart bool
	}{{"PutObject", false}, {"UploadPart", true}, {"CompleteMultipartUpload", true}} {
		proxy, err := faultproxy.Start(srv.Endpoint, faultproxy.Faults{WriteOnly: tc.only, WriteResetEvery: 2, WriteSlowDownEvery: 3, WriteErrorEvery: 5})
		if err != nil {
			t.Fatal(err)
		}
		through := direct
		through.Config.S3.Endpoint = proxy.URL
		ck := bigCheckpoint(iter)
		if tc.multipart {
			ck = big
			ck.Iter = iter
		}
		if _, err := through.Save(ctx, dir, ck, 0); err != nil {
			t.Fatalf("%s: faults within the retries: %v", tc.only, err)
		}
		proxy.Close()

		iter += 5
		proxy, err = faultproxy.Start(srv.Endpoint, faultproxy.Faults{WriteOnly: tc.only, WriteErrorEvery: 1})
		if err != nil {
			t.Fatal(err)
		}
		through.Config.S3.Endpoint, through.Config.Retries = proxy.URL, 2
		ck.Iter = iter
		_, err = through.Save(ctx, dir, ck, 0)
		proxy.Close()
		if err == nil || !strings.Contains(err.Error(), dir+"/"+FileName(iter)) || !strings.Contains(err.Error(), "InternalError") {
			t.Fatalf("%s: faults beyond the retries: %v; want an error naming the file and the fault", tc.only, err)
		}
		url, _, err := direct.Latest(ctx, dir)
		if err != nil || !strings.HasSuffix(url, FileName(iter-5)) {
			t.Fatalf("%s: latest %s (%v), want iteration %d", tc.only, url, err, iter-5)
		}
		if _, err := direct.Load(ctx, url); err != nil {
			t.Fatalf("%s: the latest good checkpoint does not load: %v", tc.only, err)
		}
		b, err := store.NewS3(ctx, "ckfaults", srv.StoreConfig())
		if err != nil {
			t.Fatal(err)
		}
		up, err := b.Client().ListMultipartUploads(ctx, &s3.ListMultipartUploadsInput{Bucket: &[]string{"ckfaults"}[0]})
		if err != nil || len(up.Uploads) != 0 {
			t.Fatalf("%s: multipart uploads left: %v %v", tc.only, up, err)
		}
		if _, err := direct.Save(ctx, dir, ck, 0); err != nil {
			t.Fatalf("%s: rerun: %v", tc.only, err)
		}
		iter += 5
	}
}
