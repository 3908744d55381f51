package store

import (
	"bytes"
	"context"
	crand "crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"
	"github.com/aws/smithy-go/middleware"
)

// S3 is a Bucket over one S3 bucket (AWS or any S3-compatible server).
type S3 struct {
	client   *s3.Client
	bucket   string
	attempts int
	partSize int64
}

// NewS3 builds a client for bucket from opts and the standard AWS
// chain. Checksums are computed and validated only when an operation requires
// them (RequestChecksumCalculation/ResponseChecksumValidation WhenRequired),
// which S3-compatible servers handle. Each request is retried up to
// opts.Retries times with jittered exponential backoff on 5xx, SlowDown,
// throttling and connection errors. No secret is ever logged.
//
// Clients are shared: every bucket of the process with the same settings
// (and the same AWS_* environment) uses one client, so that its connection
// pool stays warm across shard lists, epochs and outputs, and the CA bundle
// (AWS_CA_BUNDLE) is parsed once instead of once per bucket (measured: 12 %
// of a 264 MB streaming pass of the ingest benchmark went to parsing it).
func NewS3(ctx context.Context, bucket string, opts Config) (*S3, error) {
	attempts := opts.Retries
	if attempts <= 0 {
		attempts = 10
	}
	key, err := json.Marshal(struct {
		S3       S3Config
		Attempts int
		Env      []string
	}{opts.S3, attempts, awsEnvironment()})
	if err != nil {
		return nil, fmt.Errorf("s3://%s: %w", bucket, err)
	}
	s3ClientsMu.Lock()
	defer s3ClientsMu.Unlock()
	client, ok := s3Clients[string(key)]
	if !ok {
		if client, err = newS3Client(ctx, bucket, opts.S3, attempts); err != nil {
			return nil, err
		}
		s3Clients[string(key)] = client
	}
	partSize := opts.PartSize
	if partSize <= 0 {
		partSize = DefaultPartSize
	}
	return &S3{client: client, bucket: bucket, attempts: attempts, partSize: partSize}, nil
}

var (
	s3ClientsMu sync.Mutex
	s3Clients   = map[string]*s3.Client{} // by settings and AWS_* environment
)

// awsEnvironment is the AWS_* part of the environment, sorted: what
// LoadDefaultConfig reads besides the shared files.
func awsEnvironment() []string {
	var env []string
	for _, kv := range os.Environ() {
		if strings.HasPrefix(kv, "AWS_") {
			env = append(env, kv)
		}
	}
	slices.Sort(env)
	return env
}

// newS3Client builds a client from c, the standard AWS chain and the retry
// policy (attempts per request).
func newS3Client(ctx context.Context, bucket string, c S3Config, attempts int) (*s3.Client, error) {
	loadOpts := []func(*config.LoadOptions) error{
		config.WithAPIOptions([]func(*middleware.Stack) error{countRequests}),
		config.WithRequestChecksumCalculation(aws.RequestChecksumCalculationWhenRequired),
		config.WithResponseChecksumValidation(aws.ResponseChecksumValidationWhenRequired),
		config.WithRetryer(func() aws.Retryer {
			return retry.NewStandard(func(o *retry.StandardOptions) {
				o.MaxAttempts = attempts
				o.MaxBackoff = 5 * time.Second
				o.RateLimiter = noRateLimit{}
				o.Backoff = retry.BackoffDelayerFunc(func(attempt int, _ error) (time.Duration, error) {
					return backoffDelay(attempt), nil
				})
			})
		}),
	}
	if c.Region != "" {
		loadOpts = append(loadOpts, config.WithRegion(c.Region))
	}
	if c.Profile != "" {
		loadOpts = append(loadOpts, config.WithSharedConfigProfile(c.Profile))
	}
	if c.AccessKeyID != "" {
		loadOpts = append(loadOpts, config.WithCredentialsProvider(
			credentials.NewStaticCredentialsProvider(c.AccessKeyID, c.SecretAccessKey, "")))
	}
	awsCfg, err := config.LoadDefaultConfig(ctx, loadOpts...)
	if err != nil {
		return nil, fmt.Errorf("s3://%s: load AWS configuration: %w", bucket, err)
	}
	if awsCfg.Region == "" {
		awsCfg.Region = "us-east-1"
	}
	customEndpoint := c.Endpoint != "" || awsCfg.BaseEndpoint != nil ||
		os.Getenv("AWS_ENDPOINT_URL_S3") != "" || os.Getenv("AWS_ENDPOINT_URL") != ""
	pathStyle := customEndpoint
	if c.PathStyle != nil {
		pathStyle = *c.PathStyle
	}
	return s3.NewFromConfig(awsCfg, func(o *s3.Options) {
		if c.Endpoint != "" {
			o.BaseEndpoint = aws.String(c.Endpoint)
		}
		o.UsePathStyle = pathStyle
	}), nil
}

// noRateLimit disables the SDK's client-side retry token bucket: a shard
// reader must keep retrying a flaky server for as long as its budget allows.
type noRateLimit struct{}

func (noRateLimit) GetToken(context.Context, uint) (func() error, error) {
	return func() error { return nil }, nil
}
func (noRateLimit) AddTokens(uint) error { return nil }

// Client exposes the underlying SDK client (benchmarks compare against it).
func (b *S3) Client() *s3.Client { return b.client }

// Bucket returns the bucket name.
func (b *S3) Bucket() string { return b.bucket }

// Name implements Bucket.
func (b *S3) Name() string { return "s3://" + b.bucket }

// ErrCredentials is wrapped when the store rejects the credentials (an
// unknown access key id, a wrong secret, an expired token, access denied).
var ErrCredentials = errors.New("credentials rejected")

// wrap turns SDK errors into messages naming the object, mapping missing
// keys to ErrNotExist and spelling out missing buckets and bad credentials.
func (b *S3) wrap(op, name string, err error) error {
	where := ObjectURL(b, name)
	if name == "" {
		where = b.Name()
	}
	var ae smithy.APIError
	if errors.As(err, &ae) {
		switch ae.ErrorCode() {
		case "NoSuchKey", "NotFound":
			return fmt.Errorf("%s %s: %w", op, where, ErrNotExist)
		case "NoSuchBucket":
			return fmt.Errorf("%s %s: bucket %q does not exist: %w", op, where, b.bucket, err)
		case "InvalidAccessKeyId", "SignatureDoesNotMatch", "AccessDenied", "InvalidToken", "ExpiredToken",
			"XAdminUserNotFound", // versitygw: no user with that access key id
			"Forbidden":          // a 403 to HEAD, which has no body to say more
			return fmt.Errorf("%s %s: %w (%s): %w", op, where, ErrCredentials, ae.ErrorCode(), err)
		}
	}
	return fmt.Errorf("%s %s: %w", op, where, err)
}

// Get implements Bucket.
func (b *S3) Get(ctx context.Context, name string) (io.ReadCloser, error) {
	return b.GetRange(ctx, name, 0, -1)
}

// GetRange implements Bucket. The returned reader resumes by byte range when
// the body is cut short or the connection fails, up to the retry budget, so
// its bytes are exactly the object's bytes or the read fails.
func (b *S3) GetRange(ctx context.Context, name string, off, length int64) (io.ReadCloser, error) {
	r := &resumingReader{ctx: ctx, b: b, name: name, off: off, end: -1}
	if length >= 0 {
		r.end = off + length
	}
	if err := r.open(); err != nil {
		return nil, err
	}
	return r, nil
}

// resumingReader streams one object and reopens it at the current offset
// after a reset or a truncated body, with backoff.
type resumingReader struct {
	ctx   context.Context
	b     *S3
	name  string
	off   int64 // next byte to read
	end   int64 // exclusive end, -1 until known
	body  io.ReadCloser
	etag  *string // of the first response: a resumed read must see the same object
	fails int     // consecutive failures without progress
}

func (r *resumingReader) open() error {
	in := &s3.GetObjectInput{Bucket: &r.b.bucket, Key: &r.name, IfMatch: r.etag}
	switch {
	case r.end >= 0:
		if r.end == r.off {
			r.body = io.NopCloser(bytes.NewReader(nil))
			return nil
		}
		in.Range = aws.String(fmt.Sprintf("bytes=%d-%d", r.off, r.end-1))
	case r.off > 0:
		in.Range = aws.String(fmt.Sprintf("bytes=%d-", r.off))
	}
	out, err := r.b.client.GetObject(r.ctx, in)
	if err != nil {
		return r.b.wrap("get", r.name, err)
	}
	if r.etag == nil && out.ETag != nil {
		r.etag = out.ETag
	}
	if r.end < 0 {
		// The end must be known: a body that stops before it is a cut
		// connection (resumed), one that stops at it a short object.
		switch total, ok := contentRangeTotal(out.ContentRange); {
		case ok:
			r.end = total
		case out.ContentLength != nil:
			r.end = r.off + *out.ContentLength
		default:
			attr, err := r.b.Attributes(r.ctx, r.name)
			if err != nil {
				out.Body.Close()
				return err
			}
			r.end = attr.Size
		}
	}
	r.body = out.Body
	return nil
}

// contentRangeTotal parses the object size out of a Content-Range header
// ("bytes 0-99/1234").
func contentRangeTotal(h *string) (int64, bool) {
	if h == nil {
		return 0, false
	}
	_, total, ok := strings.Cut(*h, "/")
	if !ok || total == "*" {
		return 0, false
	}
	n, err := strconv.ParseInt(total, 10, 64)
	return n, err == nil
}

func (r *resumingReader) Read(p []byte) (int, error) {
	for {
		if r.body == nil {
			countResume(r.ctx)
			if err := r.open(); err != nil {
				return 0, err
			}
		}
		n, err := r.body.Read(p)
		r.off += int64(n)
		if n > 0 {
			r.fails = 0
		}
		if err == nil || (err == io.EOF && (r.end < 0 || r.off >= r.end)) {
			if err == io.EOF && n > 0 {
				return n, nil // report EOF on the next call
			}
			return n, err
		}
		// A cut body (EOF before the end, unexpected EOF) or a connection error.
		r.body.Close()
		r.body = nil
		if ctxErr := r.ctx.Err(); ctxErr != nil {
			return n, ctxErr
		}
		r.fails++
		if r.fails >= r.b.attempts {
			return n, fmt.Errorf("read %s at byte %d: giving up after %d attempts: %w",
				ObjectURL(r.b, r.name), r.off, r.fails, err)
		}
		if n > 0 {
			return n, nil
		}
		if err := sleepBackoff(r.ctx, r.fails); err != nil {
			return 0, err
		}
	}
}

func (r *resumingReader) Close() error {
	if r.body == nil {
		return nil
	}
	err := r.body.Close()
	r.body = nil
	return err
}

// backoffDelay is a jittered exponential delay: 20 ms doubling per attempt,
// at most 2 s.
func backoffDelay(attempt int) time.Duration {
	d := 20 * time.Millisecond << min(max(attempt-1, 0), 7)
	d = min(d, 2*time.Second)
	return d/2 + rand.N(d/2+1)
}

// sleepBackoff waits backoffDelay(attempt) or until ctx ends.
func sleepBackoff(ctx context.Context, attempt int) error {
	t := time.NewTimer(backoffDelay(attempt))
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// Exists implements Bucket.
func (b *S3) Exists(ctx context.Context, name string) (bool, error) {
	_, err := b.Attributes(ctx, name)
	if IsNotExist(err) {
		return false, nil
	}
	return err == nil, err
}

// Attributes implements Bucket.
func (b *S3) Attributes(ctx context.Context, name string) (ObjectAttributes, error) {
	out, err := b.client.HeadObject(ctx, &s3.HeadObjectInput{Bucket: &b.bucket, Key: &name})
	if err != nil {
		var re interface{ HTTPStatusCode() int }
		if errors.As(err, &re) && re.HTTPStatusCode() == http.StatusNotFound {
			// HEAD has no body: a missing bucket and a missing key look alike.
			if _, berr := b.client.HeadBucket(ctx, &s3.HeadBucketInput{Bucket: &b.bucket}); berr != nil {
				// Some servers (versitygw) answer HEAD with 404 for an
				// unknown access key too: a one-key listing has a body
				// that tells the two apart.
				one := int32(1)
				if _, lerr := b.client.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: &b.bucket, MaxKeys: &one}); lerr != nil {
					if werr := b.wrap("head", name, lerr); errors.Is(werr, ErrCredentials) {
						return ObjectAttributes{}, werr
					}
				}
				return ObjectAttributes{}, fmt.Errorf("head %s: bucket %q does not exist or is not reachable: %w", ObjectURL(b, name), b.bucket, berr)
			}
			return ObjectAttributes{}, fmt.Errorf("head %s: %w", ObjectURL(b, name), ErrNotExist)
		}
		return ObjectAttributes{}, b.wrap("head", name, err)
	}
	return ObjectAttributes{Size: aws.ToInt64(out.ContentLength)}, nil
}

// Iter implements Bucket (ListObjectsV2, lexical order).
func (b *S3) Iter(ctx context.Context, prefix string, f func(ObjectInfo) error) error {
	p := s3.NewListObjectsV2Paginator(b.client, &s3.ListObjectsV2Input{Bucket: &b.bucket, Prefix: &prefix})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return b.wrap("list", prefix, err)
		}
		for _, o := range page.Contents {
			if err := f(ObjectInfo{Name: aws.ToString(o.Key), Size: aws.ToInt64(o.Size)}); err != nil {
				return err
			}
		}
	}
	return nil
}

// Upload implements Bucket: one PutObject, or a multipart upload for an
// object larger than the part size (Config.PartSize); either is atomic on
// S3 (readers see the old object or the whole new one). A reader that
// cannot seek is spooled to a temporary file first so that the SDK can
// sign and retry it without holding the object in memory.
func (b *S3) Upload(ctx context.Context, name string, r io.Reader) error {
	body, done, err := b.seekable(ctx, name, r)
	if err != nil {
		return err
	}
	defer done()
	return b.put(ctx, name, body, nil, nil)
}

// UploadIfAbsent implements Bucket: Upload with If-None-Match: * on the
// PutObject or on the CompleteMultipartUpload, which S3 (and versitygw with
// metadata, see s3local) checks atomically with the write. 412
// PreconditionFailed is ErrExists, unless the SDK had retried the request
// and the object there carries this call's write token (a random value sent
// as user metadata, x-amz-meta-swav-write): then an earlier attempt landed
// and only its answer was lost, so the write is ours. Equal bytes are not
// enough: a second writer of the same content (an export run twice) is
// refused even when its request was retried, which happens whenever the
// server answers 412 before reading the whole body and the client, still
// sending, sees the connection close. 409 ConditionalRequestConflict (a concurrent write of the same key
// in flight) is retried with backoff, up to the retry budget. A refused or
// failed multipart upload is aborted: none of its parts stays behind.
func (b *S3) UploadIfAbsent(ctx context.Context, name string, r io.Reader) error {
	body, done, err := b.seekable(ctx, name, r)
	if err != nil {
		return err
	}
	defer done()
	token, err := writeToken()
	if err != nil {
		return fmt.Errorf("put (if absent) %s: %w", ObjectURL(b, name), err)
	}
	attempts := 0
	err = b.put(ctx, name, body, map[string]string{writeTokenKey: token}, &attempts)
	if s3ErrorCode(err) != "PreconditionFailed" {
		return err
	}
	if attempts > 1 && b.carries(ctx, name, token) {
		return nil
	}
	return fmt.Errorf("put (if absent) %s: %w", ObjectURL(b, name), ErrExists)
}

// put writes body as name; ifAbsent (non-nil) makes the write conditional
// (If-None-Match: *, retrying 409 ConditionalRequestConflict with backoff)
// and is stored as the object's user metadata. It counts the attempts of
// the final request (PutObject or CompleteMultipartUpload) into *attempts
// (may be nil).
func (b *S3) put(ctx context.Context, name string, body io.ReadSeeker, ifAbsent map[string]string, attempts *int) error {
	size, err := body.Seek(0, io.SeekEnd)
	if err == nil {
		_, err = body.Seek(0, io.SeekStart)
	}
	if err != nil {
		return fmt.Errorf("upload %s: size: %w", ObjectURL(b, name), err)
	}
	var cond *string
	if ifAbsent != nil {
		cond = aws.String("*")
	}
	if attempts == nil {
		attempts = new(int)
	}
	// Each call of the final request counts its own attempts: a 409 retried
	// by retryConflicts starts the count again.
	count := s3.WithAPIOptions(countAttempts(attempts))
	if size > b.partSize {
		return b.multipart(ctx, name, body, size, cond, ifAbsent, attempts, count)
	}
	return b.retryConflicts(ctx, "put", name, func() error {
		if _, err := body.Seek(0, io.SeekStart); err != nil {
			return err
		}
		*attempts = 0
		_, err := b.client.PutObject(ctx, &s3.PutObjectInput{Bucket: &b.bucket, Key: &name, Body: body, IfNoneMatch: cond, Metadata: ifAbsent}, count)
		return err
	})
}

// multipart uploads body (size bytes) in parts of b.partSize, one after
// the other (each part retried by the SDK on its own), then completes the
// upload with condition cond; meta is the object's user metadata. Any failure aborts the upload, so that no
// part is left stored and nothing of the object becomes visible.
func (b *S3) multipart(ctx context.Context, name string, body io.ReadSeeker, size int64, cond *string, meta map[string]string, attempts *int, count func(*s3.Options)) (err error) {
	created, err := b.client.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: &b.bucket, Key: &name, Metadata: meta})
	if err != nil {
		return b.wrap("create multipart upload", name, err)
	}
	id := created.UploadId
	defer func() {
		if err != nil {
			_, _ = b.client.AbortMultipartUpload(context.WithoutCancel(ctx), &s3.AbortMultipartUploadInput{Bucket: &b.bucket, Key: &name, UploadId: id})
		}
	}()
	ra, canReadAt := body.(io.ReaderAt)
	var parts []types.CompletedPart
	for n, off := int32(1), int64(0); off < size; n, off = n+1, off+b.partSize {
		length := min(b.partSize, size-off)
		var part io.ReadSeeker
		if canReadAt {
			part = io.NewSectionReader(ra, off, length)
		} else {
			buf := make([]byte, length)
			if _, err := body.Seek(off, io.SeekStart); err != nil {
				return fmt.Errorf("upload %s: part %d: %w", ObjectURL(b, name), n, err)
			}
			if _, err := io.ReadFull(body, buf); err != nil {
				return fmt.Errorf("upload %s: part %d: %w", ObjectURL(b, name), n, err)
			}
			part = bytes.NewReader(buf)
		}
		up, err := b.client.UploadPart(ctx, &s3.UploadPartInput{Bucket: &b.bucket, Key: &name, UploadId: id,
			PartNumber: aws.Int32(n), Body: part, ContentLength: aws.Int64(length)})
		if err != nil {
			return b.wrap(fmt.Sprintf("upload part %d of", n), name, err)
		}
		parts = append(parts, types.CompletedPart{ETag: up.ETag, PartNumber: aws.Int32(n)})
	}
	return b.retryConflicts(ctx, "complete multipart upload", name, func() error {
		*attempts = 0
		_, err := b.client.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{Bucket: &b.bucket, Key: &name, UploadId: id,
			MultipartUpload: &types.CompletedMultipartUpload{Parts: parts}, IfNoneMatch: cond}, count)
		return err
	})
}

// retryConflicts runs f until it returns anything but 409
// ConditionalRequestConflict, with backoff, up to the retry budget. A 412
// comes back unwrapped by b.wrap (the caller tells ErrExists from it);
// other errors are wrapped naming op and the object.
func (b *S3) retryConflicts(ctx context.Context, op, name string, f func() error) error {
	for tries := 1; ; tries++ {
		err := f()
		switch code := s3ErrorCode(err); {
		case err == nil:
			return nil
		case code == "PreconditionFailed":
			return err
		case code == "ConditionalRequestConflict" && tries < b.attempts:
			if err := sleepBackoff(ctx, tries); err != nil {
				return fmt.Errorf("%s %s: %w", op, ObjectURL(b, name), err)
			}
		case code == "ConditionalRequestConflict":
			return fmt.Errorf("%s %s: still conflicting after %d tries: %w", op, ObjectURL(b, name), tries, b.wrap(op, name, err))
		default:
			return b.wrap(op, name, err)
		}
	}
}

// s3ErrorCode is the S3 error code of err ("PreconditionFailed"), mapping a
// bare 412 or 409 status (a response without a body) to its code.
func s3ErrorCode(err error) string {
	var ae smithy.APIError
	if errors.As(err, &ae) && ae.ErrorCode() != "" {
		return ae.ErrorCode()
	}
	var re interface{ HTTPStatusCode() int }
	if errors.As(err, &re) {
		switch re.HTTPStatusCode() {
		case http.StatusPreconditionFailed:
			return "PreconditionFailed"
		case http.StatusConflict:
			return "ConditionalRequestConflict"
		}
	}
	return ""
}

// countAttempts counts the attempts of one operation (the Finalize step
// after the retry middleware runs once per attempt).
func countAttempts(n *int) func(*middleware.Stack) error {
	return func(stack *middleware.Stack) error {
		return stack.Finalize.Add(middleware.FinalizeMiddlewareFunc("SwAVCountAttempts",
			func(ctx context.Context, in middleware.FinalizeInput, next middleware.FinalizeHandler) (middleware.FinalizeOutput, middleware.Metadata, error) {
				*n++
				return next.HandleFinalize(ctx, in)
			}), middleware.After)
	}
}

// writeTokenKey names the user metadata (x-amz-meta-swav-write) holding
// an UploadIfAbsent call's write token.
const writeTokenKey = "swav-write"

// writeToken draws one UploadIfAbsent call's token: 128 random bits.
func writeToken() (string, error) {
	b := make([]byte, 16)
	if _, err := crand.Read(b); err != nil {
		return "", fmt.Errorf("write token: %w", err)
	}
	return hex.EncodeToString(b), nil
}

// carries reports whether object name holds the write token token (the
// write of the UploadIfAbsent call that drew it landed). Any error is a no.
func (b *S3) carries(ctx context.Context, name, token string) bool {
	out, err := b.client.HeadObject(ctx, &s3.HeadObjectInput{Bucket: &b.bucket, Key: &name})
	if err != nil {
		return false
	}
	for k, v := range out.Metadata { // the SDK lower-cases keys; servers differ
		if strings.EqualFold(k, writeTokenKey) {
			return v == token
		}
	}
	return false
}

// seekable returns r as a ReadSeeker, spooling a reader that cannot seek
// to a temporary file (removed by done).
func (b *S3) seekable(ctx context.Context, name string, r io.Reader) (body io.ReadSeeker, done func(), err error) {
	if body, ok := r.(io.ReadSeeker); ok {
		return body, func() {}, nil
	}
	tmp, err := os.CreateTemp("", "swav-upload-*")
	if err != nil {
		return nil, nil, fmt.Errorf("upload %s: spool: %w", ObjectURL(b, name), err)
	}
	done = func() { tmp.Close(); os.Remove(tmp.Name()) }
	if _, err := io.Copy(tmp, ctxReader{ctx, r}); err != nil {
		done()
		return nil, nil, fmt.Errorf("upload %s: spool: %w", ObjectURL(b, name), err)
	}
	if _, err := tmp.Seek(0, io.SeekStart); err != nil {
		done()
		return nil, nil, fmt.Errorf("upload %s: spool: %w", ObjectURL(b, name), err)
	}
	return tmp, done, nil
}

// Delete implements Bucket.
func (b *S3) Delete(ctx context.Context, name string) error {
	_, err := b.client.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: &b.bucket, Key: &name})
	if err != nil && !IsNotExist(b.wrap("delete", name, err)) {
		return b.wrap("delete", name, err)
	}
	return nil
}

// CreateBucket creates the bucket (tests, the local S3 server, `shards make`).
// An existing bucket owned by the caller is not an error.
func (b *S3) CreateBucket(ctx context.Context) error {
	_, err := b.client.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: &b.bucket})
	var ae smithy.APIError
	if err != nil && errors.As(err, &ae) && (ae.ErrorCode() == "BucketAlreadyOwnedByYou" || ae.ErrorCode() == "BucketAlreadyExists") {
		return nil
	}
	if err != nil {
		return b.wrap("create bucket", "", err)
	}
	return nil
}

// Close implements Bucket.
func (b *S3) Close() error { return nil }
