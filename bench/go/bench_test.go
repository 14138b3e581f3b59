// Go twins of goro's runtime-core benchmarks, as defined in BENCHMARKS.md.
//
// The fixed-work benchmarks below do exactly the fixed amount of work once
// per b.N iteration and report the per-unit figure with b.ReportMetric, so
// that they can be compared with the C++ side, which runs the same work.
//
// Quick mode (GORO_BENCH_QUICK=1) divides every fixed count by 100; skynet
// keeps its 10-ary shape with 1,111 goroutines summing 0..999.
package bench

import (
	"os"
	"sync"
	"testing"
	"time"
)

// quick reports whether GORO_BENCH_QUICK=1 is set.
func quick() bool { return os.Getenv("GORO_BENCH_QUICK") == "1" }

// count returns n, or n/100 in quick mode.
func count(n int) int {
	if quick() {
		return n / 100
	}
	return n
}

// runFixed runs work once per b.N iteration and reports the time per unit of
// work: elapsed / (b.N * units) / divisor, in the given unit.
func runFixed(b *testing.B, units int, divisor float64, unit string, work func(b *testing.B)) {
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	for i := 0; i < b.N; i++ {
		work(b)
	}
	elapsed := time.Since(start)
	b.StopTimer()
	b.ReportMetric(float64(elapsed.Nanoseconds())/float64(b.N)/float64(units)/divisor, unit)
}

// ---------------------------------------------------------------- spawn

// spawn: start n goroutines that each call wg.Done(); one wg.Wait().
func spawn(n int) {
	var wg sync.WaitGroup
	wg.Add(n)
	for i := 0; i < n; i++ {
		go func() { wg.Done() }()
	}
	wg.Wait()
}

func BenchmarkSpawn(b *testing.B) {
	n := count(1_000_000)
	runFixed(b, n, 1, "ns/goroutine", func(*testing.B) { spawn(n) })
}

// ------------------------------------------------------------ spawn_seq

// spawnSeq: n times, start one goroutine and wait for it on an unbuffered
// channel.
func spawnSeq(n int) {
	done := make(chan struct{})
	for i := 0; i < n; i++ {
		go func() { done <- struct{}{} }()
		<-done
	}
}

func BenchmarkSpawnSeq(b *testing.B) {
	n := count(1_000_000)
	runFixed(b, n, 1, "ns/goroutine", func(*testing.B) { spawnSeq(n) })
}

// ------------------------------------------------------------- pingpong

// pingPong: two goroutines bounce an int over two unbuffered channels, n
// round trips. Returns the sum of the replies, n*(n+1)/2.
func pingPong(n int) int {
	ping := make(chan int)
	pong := make(chan int)
	result := make(chan int)
	ponged := make(chan struct{})
	go func() { // pong
		for v := range ping {
			pong <- v + 1
		}
		close(ponged)
	}()
	go func() { // ping
		sum := 0
		for i := 0; i < n; i++ {
			ping <- i
			sum += <-pong
		}
		close(ping)
		result <- sum
	}()
	sum := <-result
	<-ponged
	return sum
}

func BenchmarkPingPong(b *testing.B) {
	n := count(1_000_000)
	want := n * (n + 1) / 2
	runFixed(b, n, 1, "ns/roundtrip", func(b *testing.B) {
		if got := pingPong(n); got != want {
			b.Fatalf("pingpong: sum %d, want %d", got, want)
		}
	})
}

// ---------------------------------------------------------- thread_ring

// threadRing: nproc goroutines in a ring, each with its own unbuffered
// channel; one token is passed `passes` times. The token starts at `passes`
// and each goroutine forwards token-1; the one that receives 0 reports its
// 1-based id (the benchmarks-game answer: passes%nproc + 1).
func threadRing(nproc, passes int) int {
	chans := make([]chan int, nproc)
	for i := range chans {
		chans[i] = make(chan int)
	}
	done := make(chan int)
	var wg sync.WaitGroup
	wg.Add(nproc)
	for i := 0; i < nproc; i++ {
		in, out, id := chans[i], chans[(i+1)%nproc], i+1
		go func() {
			defer wg.Done()
			for t := range in {
				if t == 0 {
					done <- id
					continue
				}
				out <- t - 1
			}
		}()
	}
	chans[0] <- passes
	winner := <-done
	for _, c := range chans {
		close(c)
	}
	wg.Wait()
	return winner
}

func BenchmarkThreadRing(b *testing.B) {
	const nproc = 503
	passes := count(50_000_000)
	want := passes%nproc + 1
	runFixed(b, passes, 1, "ns/pass", func(b *testing.B) {
		if got := threadRing(nproc, passes); got != want {
			b.Fatalf("thread_ring: winner %d, want %d", got, want)
		}
	})
}

// ----------------------------------------------------- spsc / spsc_cap1

// spsc: one producer sends 0..n-1 over a channel of capacity capacity, one
// consumer sums them. Returns the sum.
func spsc(n, capacity int) int {
	c := make(chan int, capacity)
	result := make(chan int)
	go func() { // producer
		for i := 0; i < n; i++ {
			c <- i
		}
		close(c)
	}()
	go func() { // consumer
		sum := 0
		for v := range c {
			sum += v
		}
		result <- sum
	}()
	return <-result
}

func benchSPSC(b *testing.B, capacity int) {
	n := count(10_000_000)
	want := n * (n - 1) / 2
	runFixed(b, n, 1, "ns/item", func(b *testing.B) {
		if got := spsc(n, capacity); got != want {
			b.Fatalf("spsc(cap %d): sum %d, want %d", capacity, got, want)
		}
	})
}

func BenchmarkSPSC(b *testing.B)     { benchSPSC(b, 1024) }
func BenchmarkSPSCCap1(b *testing.B) { benchSPSC(b, 1) }

// ----------------------------------------------------------------- mpmc

// mpmc: `producers` producers each send n/producers distinct ints (together
// 0..n-1) over one channel of capacity capacity; `consumers` consumers sum
// what they receive. Returns the total sum.
func mpmc(n, producers, consumers, capacity int) int {
	c := make(chan int, capacity)
	per := n / producers
	var pwg sync.WaitGroup
	pwg.Add(producers)
	for p := 0; p < producers; p++ {
		base := p * per
		go func() {
			for i := 0; i < per; i++ {
				c <- base + i
			}
			pwg.Done()
		}()
	}
	results := make(chan int, consumers)
	for q := 0; q < consumers; q++ {
		go func() {
			sum := 0
			for v := range c {
				sum += v
			}
			results <- sum
		}()
	}
	pwg.Wait()
	close(c)
	total := 0
	for q := 0; q < consumers; q++ {
		total += <-results
	}
	return total
}

func BenchmarkMPMC(b *testing.B) {
	const producers, consumers = 4, 4
	n := count(10_000_000) // each producer sends n/4
	want := n * (n - 1) / 2
	runFixed(b, n, 1, "ns/item", func(b *testing.B) {
		if got := mpmc(n, producers, consumers, 1024); got != want {
			b.Fatalf("mpmc: sum %d, want %d", got, want)
		}
	})
}

// --------------------------------------------------------------- skynet

// skynet is github.com/atemerev/skynet's Go version: each goroutine with
// size > 1 spawns div children over one unbuffered channel and sends the sum
// of their answers to its parent; a leaf sends its number.
func skynet(c chan int, num, size, div int) {
	if size == 1 {
		c <- num
		return
	}
	rc := make(chan int)
	sum := 0
	for i := 0; i < div; i++ {
		subNum := num + i*(size/div)
		go skynet(rc, subNum, size/div, div)
	}
	for i := 0; i < div; i++ {
		sum += <-rc
	}
	c <- sum
}

func BenchmarkSkynet(b *testing.B) {
	// Full: 1+10+...+1,000,000 = 1,111,111 goroutines summing 0..999,999.
	// Quick: 1+10+100+1,000 = 1,111 goroutines summing 0..999.
	leaves := 1_000_000
	if quick() {
		leaves = 1_000
	}
	want := leaves * (leaves - 1) / 2
	runFixed(b, 1, 1e6, "ms/run", func(b *testing.B) {
		c := make(chan int)
		go skynet(c, 0, leaves, 10)
		if got := <-c; got != want {
			b.Fatalf("skynet: sum %d, want %d", got, want)
		}
	})
}
