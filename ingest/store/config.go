package store

import (
	"fmt"
	"log/slog"
	"strconv"

	"github.com/swavgo/swav/internal/field"
)

// Config is what Open needs to reach a store, and the store section of a
// job (store:): every user of a bucket in a run reads it (the shards, the
// checkpoints, the weights, the feature outputs, TensorBoard).
type Config struct {
	// S3 configures every s3:// URL of the run (shards, checkpoints,
	// weights, feature outputs, TensorBoard).
	S3 S3Config `yaml:"s3"`
	// Retries is the number of attempts for each S3 request and for
	// resuming a cut body at the same byte offset (0 in a Config built in
	// code: 10).
	Retries int `yaml:"retries"`
	// PartSize is the size of a multipart upload's parts: S3 objects larger
	// than it are uploaded in parts of this size (0: DefaultPartSize; S3
	// wants at least 5 MiB). Not a config key.
	PartSize int64 `yaml:"-"`
}

// Section is the store section's key in a job.
const Section = "store"

// DefaultConfig returns the store section's defaults: the standard AWS
// chain, 10 attempts per request.
func DefaultConfig() Config { return Config{Retries: 10} }

// Validate checks the section and names the bad fields (relative to
// "store"), errors.Join of them all.
func (c *Config) Validate() error {
	return field.CheckAll([]field.Check{
		{OK: c.Retries >= 1, Field: "retries", Msg: fmt.Sprintf("must be >= 1, got %d", c.Retries)},
		{OK: (c.S3.AccessKeyID == "") == (c.S3.SecretAccessKey == ""), Field: "s3.access_key_id", Msg: "access_key_id and secret_access_key must be set together"},
	}...)
}

// DefaultPartSize is the default Config.PartSize: a 200 MB checkpoint goes
// up in 4 parts, each retried on its own.
const DefaultPartSize = 64 << 20

// S3Config configures the S3 client. Empty fields fall back to the standard
// AWS chain: AWS_ENDPOINT_URL(_S3), AWS_REGION, AWS_ACCESS_KEY_ID,
// AWS_SECRET_ACCESS_KEY, AWS_PROFILE and the shared config files.
type S3Config struct {
	Endpoint string `yaml:"endpoint"`
	Region   string `yaml:"region"`
	// PathStyle forces path-style (true) or virtual-host (false) addressing;
	// unset means path-style when a custom endpoint is set.
	PathStyle       *bool  `yaml:"path_style"`
	AccessKeyID     string `yaml:"access_key_id"`
	SecretAccessKey string `yaml:"secret_access_key"`
	Profile         string `yaml:"profile"`
}

// String prints the settings with the secret key redacted.
func (c S3Config) String() string {
	ps := "auto"
	if c.PathStyle != nil {
		ps = strconv.FormatBool(*c.PathStyle)
	}
	return fmt.Sprintf("{endpoint:%q region:%q path_style:%s access_key_id:%q secret_access_key:%s profile:%q}",
		c.Endpoint, c.Region, ps, c.AccessKeyID, redact(c.SecretAccessKey), c.Profile)
}

// LogValue keeps the secret out of slog output.
func (c S3Config) LogValue() slog.Value { return slog.StringValue(c.String()) }

func redact(s string) string {
	if s == "" {
		return `""`
	}
	return "<redacted>"
}
