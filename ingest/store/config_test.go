package store_test

import (
	"testing"

	"github.com/swavgo/swav/ingest/store"
	"github.com/swavgo/swav/internal/field/fieldtest"
)

func TestConfigValidate(t *testing.T) {
	for _, tc := range []struct {
		name  string
		edit  func(c *store.Config)
		field string
	}{
		{"defaults", func(*store.Config) {}, ""},
		{"keys together", func(c *store.Config) { c.S3.AccessKeyID, c.S3.SecretAccessKey = "k", "s" }, ""},
		{"retries", func(c *store.Config) { c.Retries = 0 }, "retries"},
		{"half keys", func(c *store.Config) { c.S3.AccessKeyID = "k" }, "s3.access_key_id"},
		{"only the secret", func(c *store.Config) { c.S3.SecretAccessKey = "s" }, "s3.access_key_id"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := store.DefaultConfig()
			tc.edit(&c)
			fieldtest.Want(t, c.Validate(), tc.field)
		})
	}
}
