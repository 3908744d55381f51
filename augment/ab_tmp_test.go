package augment

import "testing"

func BenchmarkABBlur(b *testing.B) {
	pix := benchSource().Pix[:3*224*224]
	scratch := make([]uint8, blurScratchLen(224, 224))
	acc := make([]uint32, 3*224)
	var tOld, tNew int64
	for i := 0; i < b.N; i++ {
		c0 := cpuTime()
		runningSumBlur(pix, 224, 224, 1.3)
		c1 := cpuTime()
		gaussianBlur(pix, scratch, acc, 224, 224, 1.3)
		c2 := cpuTime()
		runningSumBlur(pix, 224, 224, 1.8)
		c3 := cpuTime()
		gaussianBlur(pix, scratch, acc, 224, 224, 1.8)
		c4 := cpuTime()
		tOld += int64(c1 - c0 + c3 - c2)
		tNew += int64(c2 - c1 + c4 - c3)
	}
	b.ReportMetric(float64(tOld)/float64(b.N), "old-ns")
	b.ReportMetric(float64(tNew)/float64(b.N), "new-ns")
}

