//go:build depspin

// Package main pins the project's chosen dependencies in go.mod before the
// code that uses them lands. Removed once every dependency has a real import.
package main

import (
	_ "github.com/apache/arrow-go/v18/arrow/array"
	_ "github.com/apache/arrow-go/v18/arrow/memory"
	_ "github.com/apache/arrow-go/v18/parquet/pqarrow"
	_ "github.com/aws/aws-sdk-go-v2/config"
	_ "github.com/aws/aws-sdk-go-v2/credentials"
	_ "github.com/aws/aws-sdk-go-v2/service/s3"
	_ "github.com/disintegration/gift"
	_ "github.com/sourcegraph/conc/pool"
	_ "github.com/sourcegraph/conc/stream"
	_ "github.com/spf13/cobra"
	_ "github.com/vbauerster/mpb/v8"
	_ "go.uber.org/goleak"
	_ "golang.org/x/image/webp"
	_ "gonum.org/v1/plot/plotter"
	_ "gopkg.in/yaml.v3"
)
