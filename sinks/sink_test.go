package sinks_test

import (
	"context"
	"testing"

	"github.com/swavgo/swav/internal/testutil"
	"github.com/swavgo/swav/sinks"
)

func TestScheme(t *testing.T) {
	for _, tc := range []struct{ url, want string }{
		{"s3://bucket/features", "s3"},
		{"file:///data/features", "file"},
		{"/data/features", ""},
		{"runs/x/features", ""},
		{"qdrant://host:6334/collection", "qdrant"},
	} {
		if got := sinks.Scheme(tc.url); got != tc.want {
			t.Errorf("Scheme(%q) = %q, want %q", tc.url, got, tc.want)
		}
	}
}

func TestOpenNamesAnUnknownScheme(t *testing.T) {
	_, err := sinks.Open(context.Background(), "nosuch://x/y", sinks.Options{})
	testutil.ErrorMentions(t, err, nil, "nosuch://x/y", `"nosuch"`)
	_, err = sinks.Open(context.Background(), "", sinks.Options{})
	testutil.ErrorMentions(t, err, nil, "empty location")
}
