// Ports of BenchmarkAfterFunc, BenchmarkStartStop and BenchmarkSleep from
// Go 1.19's src/time/sleep_test.go. Standard b.N benchmarks: one op is one
// call of bench(1000), i.e. 1000 timer operations.
package bench

import (
	"runtime"
	"sync"
	"testing"
	"time"
)

// timerBenchmark is sleep_test.go's benchmark helper: it first creates 1<<15
// garbage timers (due in an hour) on each P, then runs bench(1000) per op
// with b.RunParallel, and stops the garbage timers at the end.
func timerBenchmark(b *testing.B, bench func(n int)) {

	// Create equal number of garbage timers on each P before starting
	// the benchmark.
	var wg sync.WaitGroup
	garbageAll := make([][]*time.Timer, runtime.GOMAXPROCS(0))
	for i := range garbageAll {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			garbage := make([]*time.Timer, 1<<15)
			for j := range garbage {
				garbage[j] = time.AfterFunc(time.Hour, nil)
			}
			garbageAll[i] = garbage
		}(i)
	}
	wg.Wait()

	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			bench(1000)
		}
	})
	b.StopTimer()

	for _, garbage := range garbageAll {
		for _, t := range garbage {
			t.Stop()
		}
	}
}

// BenchmarkAfterFunc: a chain of n zero-delay AfterFunc callbacks, each
// arming the next; the last one signals an unbuffered channel.
func BenchmarkAfterFunc(b *testing.B) {
	timerBenchmark(b, func(n int) {
		c := make(chan bool)
		var f func()
		f = func() {
			n--
			if n >= 0 {
				time.AfterFunc(0, f)
			} else {
				c <- true
			}
		}

		time.AfterFunc(0, f)
		<-c
	})
}

// BenchmarkStartStop: arm n one-hour timers, then stop them all.
func BenchmarkStartStop(b *testing.B) {
	timerBenchmark(b, func(n int) {
		timers := make([]*time.Timer, n)
		for i := 0; i < n; i++ {
			timers[i] = time.AfterFunc(time.Hour, nil)
		}

		for i := 0; i < n; i++ {
			timers[i].Stop()
		}
	})
}

// BenchmarkSleep: start n goroutines that each sleep 1ns then wg.Done();
// wait for all of them.
func BenchmarkSleep(b *testing.B) {
	timerBenchmark(b, func(n int) {
		var wg sync.WaitGroup
		wg.Add(n)
		for i := 0; i < n; i++ {
			go func() {
				time.Sleep(time.Nanosecond)
				wg.Done()
			}()
		}
		wg.Wait()
	})
}
