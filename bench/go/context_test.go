// Go twins of bench/context_bench.cpp: Go 1.19's own BenchmarkWithTimeout,
// BenchmarkCommonParentCancel and BenchmarkCancelTree
// (src/context/benchmark_test.go), copied under the same names, plus
// BenchmarkCancelStorm (BENCHMARKS.md: cancel a root with 100,000 waiting
// descendants). Standard b.N benchmarks: ns/op is the figure (for
// CancelStorm, one op is one whole run).
//
//	go test -run xxx -bench 'WithTimeout|CommonParentCancel|CancelTree|CancelStorm' -cpu 1,2
package bench

import (
	"context"
	"fmt"
	"runtime"
	"sync"
	"testing"
	"time"
)

// ------------------------------------------------------- WithTimeout

func BenchmarkWithTimeout(b *testing.B) {
	for concurrency := 40; concurrency <= 4e5; concurrency *= 100 {
		name := fmt.Sprintf("concurrency=%d", concurrency)
		b.Run(name, func(b *testing.B) {
			benchmarkWithTimeout(b, concurrency)
		})
	}
}

func benchmarkWithTimeout(b *testing.B, concurrentContexts int) {
	gomaxprocs := runtime.GOMAXPROCS(0)
	perPContexts := concurrentContexts / gomaxprocs
	root := context.Background()

	// Generate concurrent contexts.
	var wg sync.WaitGroup
	ccf := make([][]context.CancelFunc, gomaxprocs)
	for i := range ccf {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			cf := make([]context.CancelFunc, perPContexts)
			for j := range cf {
				_, cf[j] = context.WithTimeout(root, time.Hour)
			}
			ccf[i] = cf
		}(i)
	}
	wg.Wait()

	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		wcf := make([]context.CancelFunc, 10)
		for pb.Next() {
			for i := range wcf {
				_, wcf[i] = context.WithTimeout(root, time.Hour)
			}
			for _, f := range wcf {
				f()
			}
		}
	})
	b.StopTimer()

	for _, cf := range ccf {
		for _, f := range cf {
			f()
		}
	}
}

// ------------------------------------------------ CommonParentCancel

func BenchmarkCommonParentCancel(b *testing.B) {
	root := context.WithValue(context.Background(), "key", "value")
	shared, sharedcancel := context.WithCancel(root)
	defer sharedcancel()

	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		x := 0
		for pb.Next() {
			ctx, cancel := context.WithCancel(shared)
			if ctx.Value("key").(string) != "value" {
				b.Fatal("should not be reached")
			}
			for i := 0; i < 100; i++ {
				x /= x + 1
			}
			cancel()
			for i := 0; i < 100; i++ {
				x /= x + 1
			}
		}
	})
}

// -------------------------------------------------------- CancelTree

func BenchmarkCancelTree(b *testing.B) {
	depths := []int{1, 10, 100, 1000}
	for _, d := range depths {
		b.Run(fmt.Sprintf("depth=%d", d), func(b *testing.B) {
			b.Run("Root=Background", func(b *testing.B) {
				for i := 0; i < b.N; i++ {
					buildContextTree(context.Background(), d)
				}
			})
			b.Run("Root=OpenCanceler", func(b *testing.B) {
				for i := 0; i < b.N; i++ {
					ctx, cancel := context.WithCancel(context.Background())
					buildContextTree(ctx, d)
					cancel()
				}
			})
			b.Run("Root=ClosedCanceler", func(b *testing.B) {
				for i := 0; i < b.N; i++ {
					ctx, cancel := context.WithCancel(context.Background())
					cancel()
					buildContextTree(ctx, d)
				}
			})
		})
	}
}

// buildContextTree is Go's; the chain is left to the garbage collector. (The
// cancel funcs are dropped on purpose; naming them keeps go vet's lostcancel
// check quiet.)
func buildContextTree(root context.Context, depth int) {
	for d := 0; d < depth; d++ {
		var cancel context.CancelFunc
		root, cancel = context.WithCancel(root)
		_ = cancel
	}
}

// ------------------------------------------------------- CancelStorm

// BenchmarkCancelStorm: 100,000 goroutines each park on Done() of its own
// WithCancel child of one root (set-up untimed; a 10 ms sleep lets the last
// ones park). Timed: from cancelling the root until every goroutine has
// exited. One op is one run.
func BenchmarkCancelStorm(b *testing.B) {
	n := count(100_000)
	b.StopTimer()
	for i := 0; i < b.N; i++ {
		root, cancelRoot := context.WithCancel(context.Background())
		cancels := make([]context.CancelFunc, 0, n)
		var ready, exited sync.WaitGroup
		ready.Add(n)
		exited.Add(n)
		for j := 0; j < n; j++ {
			ctx, cancel := context.WithCancel(root)
			cancels = append(cancels, cancel)
			go func() {
				done := ctx.Done()
				ready.Done()
				<-done
				exited.Done()
			}()
		}
		ready.Wait()
		time.Sleep(10 * time.Millisecond)
		b.StartTimer()
		cancelRoot()
		exited.Wait()
		b.StopTimer()
		for _, f := range cancels {
			f()
		}
	}
}
