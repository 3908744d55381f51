package pipeline_test

import (
	"context"
	"sync"
	"testing"

	"github.com/swavgo/swav/pipeline"
)

// BenchmarkChainOverhead measures the engine's cost per item on a
// source -> processor (2 workers) -> sink chain doing no work, against its
// anchor: the same chain hand-written with goroutines and channels of the
// same capacity. The ratio engine/plain is the price of metrics, ownership
// and cancellation per item.
//
//	go test ./pipeline -run '^$' -bench ChainOverhead -benchtime 200000x
func BenchmarkChainOverhead(b *testing.B) {
	const buffer = 64
	b.Run("engine", func(b *testing.B) {
		sink := &countSink{}
		_, err := pipeline.Run(context.Background(), []pipeline.Spec{
			{Name: "src", Source: &counter{n: b.N}, Buffer: buffer},
			{Name: "pass", Processor: procFunc(double), Workers: 2, Buffer: buffer},
			{Name: "sink", Sink: sink},
		}, pipeline.Options{})
		if err != nil || sink.n != b.N {
			b.Fatal(err, sink.n)
		}
	})
	b.Run("plain-channels", func(b *testing.B) {
		a, c := make(chan any, buffer), make(chan any, buffer)
		go func() {
			for i := range b.N {
				a <- i
			}
			close(a)
		}()
		var wg sync.WaitGroup
		for range 2 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for v := range a {
					c <- v.(int) * 2
				}
			}()
		}
		go func() { wg.Wait(); close(c) }()
		n := 0
		for range c {
			n++
		}
		if n != b.N {
			b.Fatal(n)
		}
	})
}

type countSink struct{ n int }

func (c *countSink) Consume(context.Context, any) error { c.n++; return nil }
