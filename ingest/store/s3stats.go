package store

import (
	"context"
	"net/http"
	"sync/atomic"

	"github.com/aws/smithy-go/middleware"
	smithyhttp "github.com/aws/smithy-go/transport/http"
)

// S3Stats counts this process's S3 traffic since it started, over every
// bucket: requests sent (each attempt of the SDK's retries counts; a reset
// connection that Go's HTTP transport resends by itself is one request),
// the attempts that failed (a connection error, 5xx, 429 or 503 SlowDown:
// each is retried or ends the operation) and object reads resumed by byte
// range after a reset or a cut body.
type S3Stats struct {
	Requests, Failed, Resumed int64
}

var (
	s3Requests, s3Failed, s3Resumed atomic.Int64
	s3Observer                      atomic.Pointer[func(context.Context, S3Stats)]
)

// S3Counters returns the process's S3 counters.
func S3Counters() S3Stats {
	return S3Stats{Requests: s3Requests.Load(), Failed: s3Failed.Load(), Resumed: s3Resumed.Load()}
}

// ObserveS3 sets the function called with the counters after every counted
// request or resumed read, on the goroutine and with the context that made
// it (nil: none). The ingest package sets it once, in init, to publish them
// as the engine's gauges; a later call replaces the observer.
func ObserveS3(f func(ctx context.Context, st S3Stats)) {
	if f == nil {
		s3Observer.Store(nil)
		return
	}
	s3Observer.Store(&f)
}

// countRequests adds a per-attempt middleware to an S3 client's stack: the
// Deserialize step runs once for every attempt of the SDK's retry loop.
func countRequests(stack *middleware.Stack) error {
	return stack.Deserialize.Add(middleware.DeserializeMiddlewareFunc("SwAVCountS3Requests",
		func(ctx context.Context, in middleware.DeserializeInput, next middleware.DeserializeHandler) (middleware.DeserializeOutput, middleware.Metadata, error) {
			out, md, err := next.HandleDeserialize(ctx, in)
			s3Requests.Add(1)
			failed := err != nil // no response: a connection error
			if resp, ok := out.RawResponse.(*smithyhttp.Response); ok && resp != nil {
				failed = resp.StatusCode >= 500 || resp.StatusCode == http.StatusTooManyRequests
			}
			if failed {
				s3Failed.Add(1)
			}
			notifyS3(ctx)
			return out, md, err
		}), middleware.After)
}

// countResume counts a read resumed by byte range.
func countResume(ctx context.Context) {
	s3Resumed.Add(1)
	notifyS3(ctx)
}

func notifyS3(ctx context.Context) {
	if f := s3Observer.Load(); f != nil {
		(*f)(ctx, S3Counters())
	}
}
