package bench

import (
	"context"
	"net/http/httptest"
	"testing"

	"github.com/cairn-fs/cairn/internal/metrics"
	"github.com/prometheus/client_golang/prometheus"
)

// processCPU reads the CPU time from a /metrics served as the
// NameNode serves it (the same registry, with its process collector),
// and fails clearly on a page without it.
func TestProcessCPU(t *testing.T) {
	srv := httptest.NewServer(metrics.Handler(metrics.NewRegistry()))
	defer srv.Close()
	// Burn some CPU so that the counter is above zero.
	x := 0
	for i := range 50_000_000 {
		x ^= i
	}
	_ = x
	got, err := processCPU(context.Background(), srv.URL)
	if err != nil || got <= 0 {
		t.Fatalf("processCPU = %v, %v; want the process's CPU seconds", got, err)
	}
	other := httptest.NewServer(metrics.Handler(prometheus.NewRegistry()))
	defer other.Close()
	if v, err := processCPU(context.Background(), other.URL); err == nil {
		t.Errorf("processCPU of a page without the counter = %v, want an error", v)
	}
}
