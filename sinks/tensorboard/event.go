package tensorboard

import (
	"math"

	"google.golang.org/protobuf/encoding/protowire"
)

// Field numbers of TensorFlow's event.proto and summary.proto (the only
// messages an event file of scalars and histograms needs).
const (
	eventWallTime    = 1 // double
	eventStep        = 2 // int64
	eventFileVersion = 3 // string (oneof what)
	eventSummary     = 5 // Summary (oneof what)

	summaryValue = 1 // repeated Summary.Value

	valueTag         = 1 // string
	valueSimpleValue = 2 // float (oneof value)
	valueHisto       = 5 // HistogramProto (oneof value)

	histoMin        = 1 // double
	histoMax        = 2 // double
	histoNum        = 3 // double
	histoSum        = 4 // double
	histoSumSquares = 5 // double
	histoLimit      = 6 // repeated double, packed
	histoBucket     = 7 // repeated double, packed
)

// FileVersion is the file_version of the first event of every event file.
const FileVersion = "brain.Event:2"

// Scalar is one named value of a step.
type Scalar struct {
	Tag   string
	Value float64
}

// Histogram is a histogram summary: Limits[i] is the right edge of bucket i
// (values in (Limits[i-1], Limits[i]]), Counts[i] its count.
type Histogram struct {
	Tag                            string
	Min, Max, Num, Sum, SumSquares float64
	Limits, Counts                 []float64
}

// NewHistogram buckets values: one bucket per integer when the values are
// integers spanning at most maxBuckets, else maxBuckets equal-width buckets
// from the minimum to the maximum. It costs O(len(values)).
func NewHistogram(tag string, values []float64, maxBuckets int) Histogram {
	h := Histogram{Tag: tag}
	if len(values) == 0 {
		return h
	}
	maxBuckets = max(maxBuckets, 1)
	h.Min, h.Max = math.Inf(1), math.Inf(-1)
	integral := true
	for _, v := range values {
		h.Min, h.Max = min(h.Min, v), max(h.Max, v)
		h.Num++
		h.Sum += v
		h.SumSquares += v * v
		integral = integral && v == math.Trunc(v)
	}
	n := maxBuckets
	width := (h.Max - h.Min) / float64(n)
	lo := h.Min
	if integral && h.Max-h.Min+1 <= float64(maxBuckets) {
		n, width, lo = int(h.Max-h.Min)+1, 1, h.Min-1 // bucket i holds Min+i
	}
	if width == 0 {
		n, width, lo = 1, 1, h.Min-1
	}
	h.Limits = make([]float64, n)
	h.Counts = make([]float64, n)
	for i := range h.Limits {
		h.Limits[i] = lo + float64(i+1)*width
	}
	h.Limits[n-1] = max(h.Limits[n-1], h.Max)
	for _, v := range values {
		i := int(math.Ceil((v-lo)/width)) - 1
		h.Counts[min(max(i, 0), n-1)]++
	}
	return h
}

// appendHeader appends an Event's wall_time and step.
func appendHeader(b []byte, wall float64, step int64) []byte {
	b = protowire.AppendTag(b, eventWallTime, protowire.Fixed64Type)
	b = protowire.AppendFixed64(b, math.Float64bits(wall))
	if step != 0 {
		b = protowire.AppendTag(b, eventStep, protowire.VarintType)
		b = protowire.AppendVarint(b, uint64(step))
	}
	return b
}

// fileVersionEvent encodes the Event that opens every file.
func fileVersionEvent(wall float64) []byte {
	b := appendHeader(nil, wall, 0)
	b = protowire.AppendTag(b, eventFileVersion, protowire.BytesType)
	return protowire.AppendString(b, FileVersion)
}

// summaryEvent encodes an Event whose Summary holds the scalars (as
// simple_value, float32) and histograms.
func summaryEvent(wall float64, step int64, scalars []Scalar, hists []Histogram) []byte {
	var sum []byte
	for _, s := range scalars {
		var v []byte
		v = protowire.AppendTag(v, valueTag, protowire.BytesType)
		v = protowire.AppendString(v, s.Tag)
		v = protowire.AppendTag(v, valueSimpleValue, protowire.Fixed32Type)
		v = protowire.AppendFixed32(v, math.Float32bits(float32(s.Value)))
		sum = protowire.AppendTag(sum, summaryValue, protowire.BytesType)
		sum = protowire.AppendBytes(sum, v)
	}
	for _, h := range hists {
		var hp []byte
		for _, f := range []struct {
			num protowire.Number
			v   float64
		}{{histoMin, h.Min}, {histoMax, h.Max}, {histoNum, h.Num}, {histoSum, h.Sum}, {histoSumSquares, h.SumSquares}} {
			hp = protowire.AppendTag(hp, f.num, protowire.Fixed64Type)
			hp = protowire.AppendFixed64(hp, math.Float64bits(f.v))
		}
		for _, f := range []struct {
			num protowire.Number
			vs  []float64
		}{{histoLimit, h.Limits}, {histoBucket, h.Counts}} {
			packed := make([]byte, 0, 8*len(f.vs))
			for _, x := range f.vs {
				packed = protowire.AppendFixed64(packed, math.Float64bits(x))
			}
			hp = protowire.AppendTag(hp, f.num, protowire.BytesType)
			hp = protowire.AppendBytes(hp, packed)
		}
		var v []byte
		v = protowire.AppendTag(v, valueTag, protowire.BytesType)
		v = protowire.AppendString(v, h.Tag)
		v = protowire.AppendTag(v, valueHisto, protowire.BytesType)
		v = protowire.AppendBytes(v, hp)
		sum = protowire.AppendTag(sum, summaryValue, protowire.BytesType)
		sum = protowire.AppendBytes(sum, v)
	}
	b := appendHeader(nil, wall, step)
	b = protowire.AppendTag(b, eventSummary, protowire.BytesType)
	return protowire.AppendBytes(b, sum)
}
