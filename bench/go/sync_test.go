// Go twins of bench/sync_bench.cpp: Go 1.19's own benchmarks of package sync
// (src/sync/{mutex,rwmutex,cond,once,pool,waitgroup}_test.go), copied under
// the same names, plus two semaphore benchmarks on
// golang.org/x/sync/semaphore.Weighted. Standard b.N benchmarks: ns/op is the
// figure.
//
//	go test -run xxx -bench 'Mutex|RWMutex|Cond|Once|Pool|WaitGroup|Semaphore' -cpu 1,2
package bench

import (
	"container/list"
	"context"
	"sync"
	"testing"
)

// ---------------------------------------------------------------- mutex

func BenchmarkMutexUncontended(b *testing.B) {
	type PaddedMutex struct {
		sync.Mutex
		pad [128]uint8
	}
	b.RunParallel(func(pb *testing.PB) {
		var mu PaddedMutex
		for pb.Next() {
			mu.Lock()
			mu.Unlock()
		}
	})
}

func benchmarkMutex(b *testing.B, slack, work bool) {
	var mu sync.Mutex
	if slack {
		b.SetParallelism(10)
	}
	b.RunParallel(func(pb *testing.PB) {
		foo := 0
		for pb.Next() {
			mu.Lock()
			mu.Unlock()
			if work {
				for i := 0; i < 100; i++ {
					foo *= 2
					foo /= 2
				}
			}
		}
		_ = foo
	})
}

func BenchmarkMutex(b *testing.B)      { benchmarkMutex(b, false, false) }
func BenchmarkMutexWork(b *testing.B)  { benchmarkMutex(b, false, true) }
func BenchmarkMutexSlack(b *testing.B) { benchmarkMutex(b, true, false) }

// -------------------------------------------------------------- rwmutex

func BenchmarkRWMutexUncontended(b *testing.B) {
	type PaddedRWMutex struct {
		sync.RWMutex
		pad [32]uint32
	}
	b.RunParallel(func(pb *testing.PB) {
		var rwm PaddedRWMutex
		for pb.Next() {
			rwm.RLock()
			rwm.RLock()
			rwm.RUnlock()
			rwm.RUnlock()
			rwm.Lock()
			rwm.Unlock()
		}
	})
}

func benchmarkRWMutex(b *testing.B, localWork, writeRatio int) {
	var rwm sync.RWMutex
	b.RunParallel(func(pb *testing.PB) {
		foo := 0
		for pb.Next() {
			foo++
			if foo%writeRatio == 0 {
				rwm.Lock()
				rwm.Unlock()
			} else {
				rwm.RLock()
				for i := 0; i != localWork; i += 1 {
					foo *= 2
					foo /= 2
				}
				rwm.RUnlock()
			}
		}
		_ = foo
	})
}

func BenchmarkRWMutexWrite100(b *testing.B) { benchmarkRWMutex(b, 0, 100) }

// ----------------------------------------------------------------- cond

func benchmarkCond(b *testing.B, waiters int) {
	c := sync.NewCond(&sync.Mutex{})
	done := make(chan bool)
	id := 0

	for routine := 0; routine < waiters+1; routine++ {
		go func() {
			for i := 0; i < b.N; i++ {
				c.L.Lock()
				if id == -1 {
					c.L.Unlock()
					break
				}
				id++
				if id == waiters+1 {
					id = 0
					c.Broadcast()
				} else {
					c.Wait()
				}
				c.L.Unlock()
			}
			c.L.Lock()
			id = -1
			c.Broadcast()
			c.L.Unlock()
			done <- true
		}()
	}
	for routine := 0; routine < waiters+1; routine++ {
		<-done
	}
}

func BenchmarkCond1(b *testing.B)  { benchmarkCond(b, 1) }
func BenchmarkCond2(b *testing.B)  { benchmarkCond(b, 2) }
func BenchmarkCond4(b *testing.B)  { benchmarkCond(b, 4) }
func BenchmarkCond8(b *testing.B)  { benchmarkCond(b, 8) }
func BenchmarkCond32(b *testing.B) { benchmarkCond(b, 32) }

// ----------------------------------------------------------------- once

func BenchmarkOnce(b *testing.B) {
	var once sync.Once
	f := func() {}
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			once.Do(f)
		}
	})
}

// ----------------------------------------------------------------- pool

func BenchmarkPool(b *testing.B) {
	var p sync.Pool
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			p.Put(1)
			p.Get()
		}
	})
}

// ------------------------------------------------------------ waitgroup

func BenchmarkWaitGroupUncontended(b *testing.B) {
	type PaddedWaitGroup struct {
		sync.WaitGroup
		pad [128]uint8
	}
	b.RunParallel(func(pb *testing.PB) {
		var wg PaddedWaitGroup
		for pb.Next() {
			wg.Add(1)
			wg.Done()
			wg.Wait()
		}
	})
}

func BenchmarkWaitGroupActuallyWait(b *testing.B) {
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			var wg sync.WaitGroup
			wg.Add(1)
			go func() {
				wg.Done()
			}()
			wg.Wait()
		}
	})
}

// ------------------------------------------------------------ semaphore

// BenchmarkUncontendedSemaphore is x/sync's
// BenchmarkAcquireSeq/Weighted-acquire-1-1-1 (semaphore_bench_test.go):
// one goroutine, a Weighted of size 1, Acquire(ctx, 1) then Release(1).
func BenchmarkUncontendedSemaphore(b *testing.B) {
	sem := newWeighted(1)
	ctx := context.Background()
	for i := 0; i < b.N; i++ {
		sem.Acquire(ctx, 1)
		sem.Release(1)
	}
}

// BenchmarkContendedSemaphore: 4 goroutines share b.N Acquire(ctx, 1) /
// Release(1) pairs on one Weighted of size 1 (in the spirit of sync's own
// BenchmarkContendedSemaphore, which hammers the runtime semaphore).
func BenchmarkContendedSemaphore(b *testing.B) {
	const goroutines = 4
	sem := newWeighted(1)
	ctx := context.Background()
	var wg sync.WaitGroup
	for g := 0; g < goroutines; g++ {
		n := b.N / goroutines
		if g < b.N%goroutines {
			n++
		}
		wg.Add(1)
		go func(n int) {
			defer wg.Done()
			for i := 0; i < n; i++ {
				sem.Acquire(ctx, 1)
				sem.Release(1)
			}
		}(n)
	}
	wg.Wait()
}

// weighted is golang.org/x/sync/semaphore.Weighted, copied (as vendored in
// Go 1.19's src/cmd/vendor/golang.org/x/sync/semaphore/semaphore.go;
// Copyright 2017 The Go Authors, BSD-style license) because this module has
// no dependencies and the module proxy may be out of reach: a mutex, a
// count, and a FIFO list of waiters, each with a channel closed when it is
// granted its units.
type weighted struct {
	size    int64
	cur     int64
	mu      sync.Mutex
	waiters list.List
}

type weightedWaiter struct {
	n     int64
	ready chan<- struct{} // closed when the semaphore is acquired
}

func newWeighted(n int64) *weighted { return &weighted{size: n} }

// Acquire acquires n units, blocking until they are free or ctx is done.
func (s *weighted) Acquire(ctx context.Context, n int64) error {
	s.mu.Lock()
	if s.size-s.cur >= n && s.waiters.Len() == 0 {
		s.cur += n
		s.mu.Unlock()
		return nil
	}

	if n > s.size {
		// Don't make other Acquire calls block on one that's doomed to fail.
		s.mu.Unlock()
		<-ctx.Done()
		return ctx.Err()
	}

	ready := make(chan struct{})
	w := weightedWaiter{n: n, ready: ready}
	elem := s.waiters.PushBack(w)
	s.mu.Unlock()

	select {
	case <-ctx.Done():
		err := ctx.Err()
		s.mu.Lock()
		select {
		case <-ready:
			// Acquired the semaphore after we were canceled.
			err = nil
		default:
			isFront := s.waiters.Front() == elem
			s.waiters.Remove(elem)
			// If we're at the front and there're extra tokens left, notify other waiters.
			if isFront && s.size > s.cur {
				s.notifyWaiters()
			}
		}
		s.mu.Unlock()
		return err

	case <-ready:
		return nil
	}
}

// Release releases n units.
func (s *weighted) Release(n int64) {
	s.mu.Lock()
	s.cur -= n
	if s.cur < 0 {
		s.mu.Unlock()
		panic("semaphore: released more than held")
	}
	s.notifyWaiters()
	s.mu.Unlock()
}

func (s *weighted) notifyWaiters() {
	for {
		next := s.waiters.Front()
		if next == nil {
			break // No more waiters blocked.
		}
		w := next.Value.(weightedWaiter)
		if s.size-s.cur < w.n {
			// Not enough tokens for the next waiter; FIFO, so the rest wait too.
			break
		}
		s.cur += w.n
		s.waiters.Remove(next)
		close(w.ready)
	}
}
