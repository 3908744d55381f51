package store

import (
	"fmt"
	"log/slog"
	"strconv"
)

// Config is what Open needs to reach a store (ingest.Config.StoreConfig
// builds it from a job's data section).
type Config struct {
	S3 S3Config
	// Retries is the number of attempts per S3 request (0: 10).
	Retries int
	// PartSize is the size of a multipart upload's parts: S3 objects larger
	// than it are uploaded in parts of this size (0: DefaultPartSize; S3
	// wants at least 5 MiB).
	PartSize int64
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
