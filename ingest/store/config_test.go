package store

import (
	"strings"
	"testing"
)

func TestS3ConfigRedactsSecret(t *testing.T) {
	c := S3Config{AccessKeyID: "AKIA", SecretAccessKey: "topsecret"}
	if s := c.String(); strings.Contains(s, "topsecret") || !strings.Contains(s, "<redacted>") {
		t.Fatalf("String() = %s", s)
	}
}
