package store

import (
	"context"
	"testing"
)

// TestS3ClientsAreSharedBySettings: buckets with the same settings share one
// client (its connection pool and parsed CA bundle); any difference in the
// settings, the secret included, or in the AWS_* environment gives another.
func TestS3ClientsAreSharedBySettings(t *testing.T) {
	ctx := context.Background()
	base := Config{S3: S3Config{Endpoint: "http://127.0.0.1:1", Region: "us-east-1", AccessKeyID: "a", SecretAccessKey: "s"}}
	client := func(sc Config, bucket string) any {
		t.Helper()
		b, err := NewS3(ctx, bucket, sc)
		if err != nil {
			t.Fatal(err)
		}
		return b.Client()
	}
	first := client(base, "one")
	if client(base, "two") != first {
		t.Error("a second bucket with the same settings built a new client")
	}
	otherSecret := base
	otherSecret.S3.SecretAccessKey = "t"
	otherRetries := base
	otherRetries.Retries = 3
	for name, sc := range map[string]Config{"secret": otherSecret, "retries": otherRetries} {
		if client(sc, "one") == first {
			t.Errorf("a different %s shared the client", name)
		}
	}
	t.Setenv("AWS_MAX_ATTEMPTS", "7")
	if client(base, "one") == first {
		t.Error("a different AWS_* environment shared the client")
	}
}
