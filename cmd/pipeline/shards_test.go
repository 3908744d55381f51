package main

import (
	"bytes"
	"context"
	"image"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/spf13/cobra"
	"github.com/swavgo/swav/ingest/store/s3local"
)

// runCommand executes a fresh command tree with args and returns what it
// printed (stdout and stderr together).
func runCommand(t *testing.T, cmd *cobra.Command, args ...string) (string, error) {
	t.Helper()
	var out bytes.Buffer
	cmd.SetOut(&out)
	cmd.SetErr(&out)
	cmd.SetArgs(args)
	cmd.SetContext(context.Background())
	err := cmd.Execute()
	return out.String(), err
}

func runShards(t *testing.T, args ...string) (string, error) {
	t.Helper()
	return runCommand(t, newShardsCmd(), args...)
}

// TestShardsMakeUploadLs makes shards from an image folder, lists them,
// uploads them to a local S3 server and lists them there.
func TestShardsMakeUploadLs(t *testing.T) {
	src := t.TempDir()
	for _, f := range []string{"a/1.png", "a/2.png", "b/1.jpg", "c/9.webp", "c/8.webp"} {
		p := filepath.Join(src, f)
		os.MkdirAll(filepath.Dir(p), 0o755)
		os.WriteFile(p, []byte("img "+f), 0o644)
	}
	out := t.TempDir()
	msg, err := runShards(t, "make", "--from", src, "--out", out, "--shard-size", "2", "--name", "toy")
	if err != nil || !strings.Contains(msg, "wrote 3 shards, 5 samples") {
		t.Fatalf("make: %s %v", msg, err)
	}
	msg, err = runShards(t, "ls", out+"/toy-{000000..000002}.tar")
	if err != nil || !strings.Contains(msg, "total: 3 shards, 5 samples, 0 corrupt samples") {
		t.Fatalf("ls: %s %v", msg, err)
	}
	// An unreadable shard is reported and makes ls fail.
	os.WriteFile(filepath.Join(out, "toy-000003.tar"), []byte(strings.Repeat("garbage that is not a tar ", 40)), 0o644)
	msg, err = runShards(t, "ls", out+"/")
	if err == nil || !strings.Contains(msg, "UNREADABLE") || !strings.Contains(msg, "toy-000003.tar") {
		t.Fatalf("ls with a bad shard: %s %v", msg, err)
	}
	os.Remove(filepath.Join(out, "toy-000003.tar"))

	srv := s3local.StartForTest(t)
	t.Setenv("AWS_ACCESS_KEY_ID", srv.AccessKey)
	t.Setenv("AWS_SECRET_ACCESS_KEY", srv.SecretKey)
	t.Setenv("AWS_REGION", s3local.Region)
	t.Setenv("AWS_ENDPOINT_URL", srv.Endpoint)
	msg, err = runShards(t, "upload", out, "s3://uploads/toy/", "--create-bucket")
	if err != nil || !strings.Contains(msg, "uploaded 4 objects") {
		t.Fatalf("upload: %s %v", msg, err)
	}
	msg, err = runShards(t, "ls", "-q", "s3://uploads/toy/")
	if err != nil || !strings.Contains(msg, "total: 3 shards, 5 samples") {
		t.Fatalf("ls s3: %s %v", msg, err)
	}
	if _, err := runShards(t, "make", "--from", src); err == nil {
		t.Fatal("make without --out accepted")
	}
}

// TestShardsCheckDecode: check lists the images a run would skip (here a
// truncated PNG and an empty file inside a well-formed tar) with --decode,
// and exits with an error; without --decode the tar framing is fine.
func TestShardsCheckDecode(t *testing.T) {
	src := t.TempDir()
	var buf bytes.Buffer
	png.Encode(&buf, image.NewGray(image.Rect(0, 0, 8, 8)))
	for name, data := range map[string][]byte{"a/ok.png": buf.Bytes(), "a/cut.png": buf.Bytes()[:20], "b/empty.png": nil} {
		p := filepath.Join(src, name)
		os.MkdirAll(filepath.Dir(p), 0o755)
		os.WriteFile(p, data, 0o644)
	}
	out := t.TempDir()
	if msg, err := runShards(t, "make", "--from", src, "--out", out, "--shard-size", "10", "--name", "toy"); err != nil {
		t.Fatalf("make: %s %v", msg, err)
	}
	msg, err := runShards(t, "check", out+"/")
	if err != nil || !strings.Contains(msg, "total: 3 samples, 0 would be skipped") {
		t.Fatalf("check without --decode: %s %v", msg, err)
	}
	msg, err = runShards(t, "check", "--decode", out+"/")
	if err == nil || !strings.Contains(msg, "a_cut: truncated:") || !strings.Contains(msg, "b_empty: zero-byte:") ||
		!strings.Contains(msg, "toy-000000.tar") || !strings.Contains(msg, "total: 3 samples, 2 would be skipped") {
		t.Fatalf("check --decode: %s %v", msg, err)
	}
}
