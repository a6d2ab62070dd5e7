package bench

import (
	"math"
	"slices"
	"sync"
	"time"
)

// Latency summarizes a set of durations, in milliseconds.
type Latency struct {
	P50 float64 `json:"p50_ms"`
	P99 float64 `json:"p99_ms"`
	Max float64 `json:"max_ms"`
}

// latencyOf summarizes ds; it sorts ds.
func latencyOf(ds []time.Duration) Latency {
	if len(ds) == 0 {
		return Latency{}
	}
	slices.Sort(ds)
	return Latency{
		P50: ms(percentile(ds, 0.50)),
		P99: ms(percentile(ds, 0.99)),
		Max: ms(ds[len(ds)-1]),
	}
}

// percentile returns the q-quantile of sorted ds (nearest rank).
func percentile(ds []time.Duration, q float64) time.Duration {
	i := int(math.Ceil(q*float64(len(ds)))) - 1
	return ds[min(max(i, 0), len(ds)-1)]
}

func ms(d time.Duration) float64 { return round3(float64(d) / float64(time.Millisecond)) }

// round3 keeps three decimals, so the JSON stays readable.
func round3(f float64) float64 { return math.Round(f*1000) / 1000 }

// round1 keeps one decimal.
func round1(f float64) float64 { return math.Round(f*10) / 10 }

// mibps is a rate in MiB/s.
func mibps(bytes int64, d time.Duration) float64 {
	if d <= 0 {
		return 0
	}
	return round1(float64(bytes) / (1 << 20) / d.Seconds())
}

// perSecond is a rate in operations per second.
func perSecond(n int, d time.Duration) float64 {
	if d <= 0 {
		return 0
	}
	return math.Round(float64(n) / d.Seconds())
}

// ratio is a/b with three decimals, or 0 when b is 0.
func ratio(a, b float64) float64 {
	if b <= 0 {
		return 0
	}
	return round3(a / b)
}

// Spread is the minimum, mean and maximum of per-client figures.
type Spread struct {
	Min  float64 `json:"min"`
	Mean float64 `json:"mean"`
	Max  float64 `json:"max"`
}

func spreadOf(xs []float64) Spread {
	if len(xs) == 0 {
		return Spread{}
	}
	s := Spread{Min: xs[0], Max: xs[0]}
	sum := 0.0
	for _, x := range xs {
		s.Min = min(s.Min, x)
		s.Max = max(s.Max, x)
		sum += x
	}
	s.Mean = round1(sum / float64(len(xs)))
	return s
}

// recorder collects durations from many goroutines.
type recorder struct {
	mu sync.Mutex
	ds []time.Duration
}

func (r *recorder) add(ds []time.Duration) {
	r.mu.Lock()
	r.ds = append(r.ds, ds...)
	r.mu.Unlock()
}

func (r *recorder) latency() Latency {
	r.mu.Lock()
	defer r.mu.Unlock()
	return latencyOf(r.ds)
}
