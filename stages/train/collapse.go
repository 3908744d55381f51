package train

import (
	"fmt"
	"math"
)

// collapseGuard watches for the SwAV collapse (SPEC §12): the loss stuck at
// ln(K), where the codes are uniform and the prototypes learn nothing.
type collapseGuard struct {
	lnK    float64
	window int // consecutive steps near ln(K) before warning
	run    int // current run of such steps
	warned bool
}

// observe records one loss and reports whether the warning is due now: once
// per stretch of window consecutive losses within 1% of ln(K); a loss away
// from ln(K) re-arms it.
func (g *collapseGuard) observe(loss float64) bool {
	if math.Abs(loss-g.lnK) > 0.01*g.lnK {
		g.run, g.warned = 0, false
		return false
	}
	g.run++
	if g.run >= g.window && !g.warned {
		g.warned = true
		return true
	}
	return false
}

// collapseWarning is the message of the collapse warning, with remedies.
func collapseWarning(iter int, loss, lnK float64, window, k int) string {
	return fmt.Sprintf("possible collapse: the loss has stayed within 1%% of ln(K) = ln(%d) = %.4f for %d steps (iteration %d, loss %.4f). "+
		"Remedies (SPEC §12): swav.epsilon 0.03 instead of 0.05; freeze the prototypes longer (swav.freeze_prototypes_iters); "+
		"a smaller or later queue (swav.queue_length, swav.epoch_queue_starts); fewer prototypes (about 10x the number of classes); "+
		"softer augmentation (fewer crops, weaker colour jitter)",
		k, lnK, window, iter, loss)
}
