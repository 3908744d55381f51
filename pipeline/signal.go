package pipeline

import (
	"context"
	"log/slog"
	"os"
	"os/signal"
	"sync"
	"syscall"

	"github.com/sourcegraph/conc"
)

// SignalContext listens for SIGINT and SIGTERM (or sigs when given). The first
// signal closes stop (pass it as Options.Stop: the run drains and returns
// ErrInterrupted); the second cancels ctx (hard stop: stages are cancelled
// without draining). release stops listening, cancels ctx and waits for the
// listening goroutine; call it when the run is over (defer it).
func SignalContext(parent context.Context, sigs ...os.Signal) (ctx context.Context, stop <-chan struct{}, release func()) {
	if len(sigs) == 0 {
		sigs = []os.Signal{os.Interrupt, syscall.SIGTERM}
	}
	ctx, cancel := context.WithCancelCause(parent)
	stopCh := make(chan struct{})
	quit := make(chan struct{})
	ch := make(chan os.Signal, 2)
	signal.Notify(ch, sigs...)
	var wg conc.WaitGroup
	wg.Go(func() {
		count := 0
		for {
			select {
			case sig := <-ch:
				count++
				if count == 1 {
					slog.Warn("signal received: stopping intake and draining the items in flight; send it again to abort", "signal", sig.String())
					close(stopCh)
					continue
				}
				slog.Warn("second signal: aborting", "signal", sig.String())
				cancel(ErrInterrupted)
				return
			case <-quit:
				return
			case <-ctx.Done():
				return
			}
		}
	})
	var once sync.Once
	release = func() {
		once.Do(func() {
			signal.Stop(ch)
			close(quit)
			wg.Wait()
			cancel(nil)
		})
	}
	return ctx, stopCh, release
}
