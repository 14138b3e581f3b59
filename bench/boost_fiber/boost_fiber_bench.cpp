// Boost.Fiber twins of goro's benchmarks (../runtime_bench.cpp,
// ../chan_bench.cpp, ../sync_bench.cpp, ../timer_bench.cpp's BM_Sleep) and of
// the Go ones (../go/), as defined in ../../../shared/BENCHMARKS.md: the same
// names, arguments (gomaxprocs), counters, time units and work (counts,
// capacities, tree shape, checked sums; GORO_BENCH_QUICK=1 divides every
// fixed count by 100, skynet then has 1,000 leaves).
//
// How Go's notions map onto Boost.Fiber 1.74:
//   - gomaxprocs P: a pool of P OS threads (fiber_support.hpp), round_robin
//     when P == 1, work_stealing(P) when P > 1; the main work runs as a fiber
//     started on pool thread 0.
//   - `go f()`: a detached fiber, launch::post (queued; the caller goes on),
//     on an 8 KiB stack from a warm, thread-safe depot (fiber_support.hpp says
//     why 8 KiB is the floor and why not pooled_fixedsize_stack).
//   - unbuffered `make(chan T)`: boost::fibers::unbuffered_channel<T> (a
//     send returns once a receiver has taken the value, as in Go).
//   - `make(chan T, 1024)`: buffered_channel<T>(1024). Boost needs a power of
//     2 >= 2 and keeps one slot free, so it holds 1,023 values: the closest
//     Boost gets to 1,024 (2048 would hold 2,047).
//   - `make(chan T, 1)` (spsc_cap1): buffered_channel<T>(2), which holds at
//     most 1 value, exactly Go's capacity 1.
//   - mpmc's `results := make(chan int, 4)`: buffered_channel(8) (holds 7), so
//     that, as in Go, no consumer ever blocks sending its sum.
//   - close / `for v := range c`: close() / pop() until it returns closed
//     (a buffered channel drains before it reports closed, as in Go).
//   - sync.WaitGroup: bf_bench::latch, an atomic count whose last done()
//     notifies a fiber condition_variable under a fiber mutex (Boost.Fiber
//     has no wait group; boost::fibers::barrier would make every goroutine
//     wait).
//   - sync.Mutex / sync.Cond: boost::fibers::mutex / condition_variable.
//   - time.Sleep(1ns): boost::this_fiber::sleep_for(1ns). Go's idle timers
//     (1<<15 per P, armed before BM_Sleep's loop) become 1<<15 fibers per
//     thread parked in a one-hour timed wait, i.e. entries in the schedulers'
//     sleep queues, released after the loop.
//
// Timing is goro's: the fixed-work benchmarks time whole iterations
// (UseRealTime; each iteration wakes the pool, runs the work, waits until
// every fiber has exited); the b.N ports time only the work inside the run
// (UseManualTime).
#include <cstdint>
#include <vector>

#include "../local_work.hpp"
#include "fiber_support.hpp"

using namespace std::chrono_literals;
using bf_bench::count;
using bf_bench::go;
using bf_bench::latch;
using bf_bench::run_fixed;
using bf_bench::run_parallel;
using bf_bench::run_timed_ops;

template <class T>
using chan = boost::fibers::unbuffered_channel<T>;
template <class T>
using buffered_chan = boost::fibers::buffered_channel<T>;
using boost::fibers::channel_op_status;

// ==== runtime_bench.cpp ======================================================

// spawn: start 1,000,000 fibers that each count down a latch; one wait.
static void BM_Spawn(benchmark::State& state) {
  const std::int64_t n = count(1'000'000);
  run_fixed(state, n, "ns/goroutine", [n](benchmark::State&) {
    latch wg(n);
    for (std::int64_t i = 0; i < n; ++i) go([&wg] { wg.done(); });
    wg.wait();
  });
}
BENCHMARK(BM_Spawn)->Arg(1)->Arg(2)->Unit(benchmark::kMillisecond)->UseRealTime();

// spawn_seq: 1,000,000 times: start one fiber, wait for it on an unbuffered channel.
static void BM_SpawnSeq(benchmark::State& state) {
  const std::int64_t n = count(1'000'000);
  run_fixed(state, n, "ns/goroutine", [n](benchmark::State&) {
    chan<int> done;
    for (std::int64_t i = 0; i < n; ++i) {
      go([&done] { done.push(0); });
      int v = 0;
      done.pop(v);
    }
  });
}
BENCHMARK(BM_SpawnSeq)->Arg(1)->Arg(2)->Unit(benchmark::kMillisecond)->UseRealTime();

// pingpong: two fibers bounce an int over two unbuffered channels.
static void BM_PingPong(benchmark::State& state) {
  const std::int64_t n = count(1'000'000);
  run_fixed(state, n, "ns/roundtrip", [n](benchmark::State& st) {
    chan<std::int64_t> ping, pong, result;
    chan<int> ponged;
    go([&] {
      std::int64_t v = 0;
      while (ping.pop(v) == channel_op_status::success) pong.push(v + 1);
      ponged.close();
    });
    go([&] {
      std::int64_t sum = 0;
      for (std::int64_t i = 0; i < n; ++i) {
        ping.push(i);
        std::int64_t v = 0;
        pong.pop(v);
        sum += v;
      }
      ping.close();
      result.push(sum);
    });
    std::int64_t sum = 0;
    result.pop(sum);
    int unused = 0;
    ponged.pop(unused);  // returns closed
    if (sum != n * (n + 1) / 2) st.SkipWithError("pingpong: wrong sum");
  });
}
BENCHMARK(BM_PingPong)->Arg(1)->Arg(2)->Unit(benchmark::kMillisecond)->UseRealTime();

// thread_ring: 503 fibers in a ring, one token passed 50,000,000 times.
static void BM_ThreadRing(benchmark::State& state) {
  constexpr int nproc = 503;
  const std::int64_t passes = count(50'000'000);
  run_fixed(state, passes, "ns/pass", [passes](benchmark::State& st) {
    std::vector<chan<std::int64_t>> chans(nproc);
    chan<int> done;
    latch wg(nproc);
    for (int i = 0; i < nproc; ++i) {
      go([&wg, &done, in = &chans[i], out = &chans[(i + 1) % nproc], id = i + 1] {
        std::int64_t t = 0;
        while (in->pop(t) == channel_op_status::success) {
          if (t == 0) {
            done.push(id);
            continue;
          }
          out->push(t - 1);
        }
        wg.done();
      });
    }
    chans[0].push(passes);
    int winner = 0;
    done.pop(winner);
    for (auto& c : chans) c.close();
    wg.wait();
    if (winner != passes % nproc + 1) st.SkipWithError("thread_ring: wrong winner");
  });
}
BENCHMARK(BM_ThreadRing)->Arg(1)->Arg(2)->Unit(benchmark::kMillisecond)->UseRealTime();

// skynet: a 10-ary tree of 1,111,111 fibers over unbuffered channels.
static void skynet(chan<std::int64_t>* c, std::int64_t num, std::int64_t size, std::int64_t div) {
  if (size == 1) {
    c->push(num);
    return;
  }
  chan<std::int64_t> rc;
  std::int64_t sum = 0;
  for (std::int64_t i = 0; i < div; ++i) {
    go([rc = &rc, sub = num + i * (size / div), size = size / div, div] { skynet(rc, sub, size, div); });
  }
  for (std::int64_t i = 0; i < div; ++i) {
    std::int64_t v = 0;
    rc.pop(v);
    sum += v;
  }
  c->push(sum);
}

static void BM_Skynet(benchmark::State& state) {
  const std::int64_t leaves = bf_bench::quick() ? 1'000 : 1'000'000;
  run_fixed(state, 1, "s/run", [leaves](benchmark::State& st) {
    chan<std::int64_t> c;
    go([&c, leaves] { skynet(&c, 0, leaves, 10); });
    std::int64_t sum = 0;
    c.pop(sum);
    if (sum != leaves * (leaves - 1) / 2) st.SkipWithError("skynet: wrong sum");
  });
}
BENCHMARK(BM_Skynet)->Arg(1)->Arg(2)->Unit(benchmark::kMillisecond)->UseRealTime();

// ==== chan_bench.cpp =========================================================

// Go's channel capacity as a buffered_channel size (see the head comment):
// 1 -> 2 (holds 1 value), 1024 -> 1024 (holds 1,023).
static std::size_t boost_capacity(std::size_t capacity) { return capacity == 1 ? 2 : capacity; }

static std::int64_t spsc(std::int64_t n, std::size_t capacity) {
  buffered_chan<std::int64_t> c(boost_capacity(capacity));
  chan<std::int64_t> result;
  go([&] {
    for (std::int64_t i = 0; i < n; ++i) c.push(i);
    c.close();
  });
  go([&] {
    std::int64_t sum = 0, v = 0;
    while (c.pop(v) == channel_op_status::success) sum += v;
    result.push(sum);
  });
  std::int64_t sum = 0;
  result.pop(sum);
  return sum;
}

static void bench_spsc(benchmark::State& state, std::size_t capacity) {
  const std::int64_t n = count(10'000'000);
  run_fixed(state, n, "ns/item", [=](benchmark::State& st) {
    if (spsc(n, capacity) != n * (n - 1) / 2) st.SkipWithError("spsc: wrong sum");
  });
}
static void BM_SPSC(benchmark::State& state) { bench_spsc(state, 1024); }
static void BM_SPSCCap1(benchmark::State& state) { bench_spsc(state, 1); }
BENCHMARK(BM_SPSC)->Arg(1)->Arg(2)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_SPSCCap1)->Arg(1)->Arg(2)->Unit(benchmark::kMillisecond)->UseRealTime();

// mpmc: 4 producers, 4 consumers, capacity 1024, 10,000,000 ints in all.
static void BM_MPMC(benchmark::State& state) {
  constexpr int producers = 4, consumers = 4;
  const std::int64_t n = count(10'000'000);
  run_fixed(state, n, "ns/item", [n](benchmark::State& st) {
    buffered_chan<std::int64_t> c(boost_capacity(1024));
    const std::int64_t per = n / producers;
    latch pwg(producers);
    for (int p = 0; p < producers; ++p) {
      go([&c, per, base = p * per, &pwg] {
        for (std::int64_t i = 0; i < per; ++i) c.push(base + i);
        pwg.done();
      });
    }
    buffered_chan<std::int64_t> results(8);  // Go: capacity 4 (consumers); this holds 7
    for (int q = 0; q < consumers; ++q) {
      go([&c, &results] {
        std::int64_t sum = 0, v = 0;
        while (c.pop(v) == channel_op_status::success) sum += v;
        results.push(sum);
      });
    }
    pwg.wait();
    c.close();
    std::int64_t total = 0;
    for (int q = 0; q < consumers; ++q) {
      std::int64_t v = 0;
      results.pop(v);
      total += v;
    }
    if (total != n * (n - 1) / 2) st.SkipWithError("mpmc: wrong sum");
  });
}
BENCHMARK(BM_MPMC)->Arg(1)->Arg(2)->Unit(benchmark::kMillisecond)->UseRealTime();

// ==== sync_bench.cpp (the parts Boost.Fiber has: Mutex, Cond) =================

namespace {

constexpr std::int64_t cheap_ops = 200'000;  // ops per iteration for the ~10-100 ns ones

}  // namespace

// Each fiber locks and unlocks its own (padded) mutex.
static void BM_MutexUncontended(benchmark::State& state) {
  run_parallel(state, cheap_ops, 1, [](std::int64_t k) {
    struct alignas(128) padded_mutex {
      boost::fibers::mutex mu;
    } m;
    for (std::int64_t i = 0; i < k; ++i) {
      m.mu.lock();
      m.mu.unlock();
    }
  });
}

// benchmarkMutex(slack, work): all fibers lock and unlock one mutex; with
// work, Go's local work outside the lock (go_local_work_100); with slack, 10
// fibers per gomaxprocs.
static void bench_mutex(benchmark::State& state, bool slack, bool work) {
  boost::fibers::mutex mu;
  run_parallel(state, cheap_ops, slack ? 10 : 1, [&mu, work](std::int64_t k) {
    for (std::int64_t i = 0; i < k; ++i) {
      mu.lock();
      mu.unlock();
      if (work) bench_common::go_local_work_100();
    }
  });
}
static void BM_Mutex(benchmark::State& state) { bench_mutex(state, false, false); }
static void BM_MutexWork(benchmark::State& state) { bench_mutex(state, false, true); }
static void BM_MutexSlack(benchmark::State& state) { bench_mutex(state, true, false); }
BENCHMARK(BM_MutexUncontended)->Arg(1)->Arg(2)->UseManualTime();
BENCHMARK(BM_Mutex)->Arg(1)->Arg(2)->UseManualTime();
BENCHMARK(BM_MutexWork)->Arg(1)->Arg(2)->UseManualTime();
BENCHMARK(BM_MutexSlack)->Arg(1)->Arg(2)->UseManualTime();

// benchmarkCond(waiters): waiters+1 fibers; in each round every one of them
// locks and bumps a counter, the last one broadcasts, the others wait. One op
// is one round.
static void bench_cond(benchmark::State& state, int waiters) {
  const std::int64_t rounds = waiters <= 2 ? 20'000 : waiters <= 8 ? 5'000 : 2'000;
  run_timed_ops(state, rounds, [waiters](std::int64_t n) {
    boost::fibers::mutex mu;
    boost::fibers::condition_variable c;
    int id = 0;
    latch done(waiters + 1);
    for (int r = 0; r < waiters + 1; ++r) {
      go([&] {
        for (std::int64_t i = 0; i < n; ++i) {
          std::unique_lock<boost::fibers::mutex> lk(mu);
          if (id == -1) break;
          ++id;
          if (id == waiters + 1) {
            id = 0;
            c.notify_all();
          } else {
            c.wait(lk);
          }
        }
        {
          std::lock_guard<boost::fibers::mutex> lk(mu);
          id = -1;
          c.notify_all();
        }
        done.done();
      });
    }
    done.wait();
  });
}
static void BM_Cond1(benchmark::State& state) { bench_cond(state, 1); }
static void BM_Cond2(benchmark::State& state) { bench_cond(state, 2); }
static void BM_Cond4(benchmark::State& state) { bench_cond(state, 4); }
static void BM_Cond8(benchmark::State& state) { bench_cond(state, 8); }
static void BM_Cond32(benchmark::State& state) { bench_cond(state, 32); }
BENCHMARK(BM_Cond1)->Arg(1)->Arg(2)->UseManualTime();
BENCHMARK(BM_Cond2)->Arg(1)->Arg(2)->UseManualTime();
BENCHMARK(BM_Cond4)->Arg(1)->Arg(2)->UseManualTime();
BENCHMARK(BM_Cond8)->Arg(1)->Arg(2)->UseManualTime();
BENCHMARK(BM_Cond32)->Arg(1)->Arg(2)->UseManualTime();

// ==== timer_bench.cpp's BM_Sleep ================================================

// Go's BenchmarkSleep: one op is bench(1000) (1,000 fibers that each sleep
// 1 ns, then a wait for all of them); 64 ops per iteration, split over
// gomaxprocs fibers; 1<<15 idle timers per thread armed beforehand (here:
// fibers parked in a one-hour timed wait, left out of the timing like goro's
// set-up, released after the loop). Wall time per iteration, as goro's.
static void sleep_bench(int n) {
  latch wg(n);
  for (int i = 0; i < n; ++i) {
    go([&wg] {
      boost::this_fiber::sleep_for(1ns);
      wg.done();
    });
  }
  wg.wait();
}

static void BM_Sleep(benchmark::State& state) {
  bf_bench::pool* p = bf_bench::pool_for(state);
  if (p == nullptr) return;
  const int procs = p->procs();
  constexpr int idle_per_proc = 1 << 15;
  struct idle_timers {
    boost::fibers::mutex mu;
    boost::fibers::condition_variable cv;
    bool stop = false;
    latch parked, exited;
    explicit idle_timers(std::int64_t n) : parked(n), exited(n) {}
  } idle(std::int64_t{procs} * idle_per_proc);
  // Arm: each of procs fibers starts 1<<15 parked fibers (uncounted: the
  // pool does not wait for them at the end of a run).
  p->run([&] {
    for (int q = 0; q < procs; ++q) {
      go([&] {
        for (int j = 0; j < idle_per_proc; ++j) {
          bf_bench::go_uncounted([&idle] {
            std::unique_lock<boost::fibers::mutex> lk(idle.mu);
            idle.parked.done();
            while (!idle.stop) idle.cv.wait_for(lk, 1h);
            lk.unlock();
            idle.exited.done();
          });
        }
      });
    }
    idle.parked.wait();
  });
  const std::int64_t ops = 64;
  std::function<void()> job = [&] {
    latch wg(procs);
    for (int q = 0; q < procs; ++q) {
      go([&, q] {
        for (std::int64_t i = q; i < ops; i += procs) sleep_bench(1000);
        wg.done();
      });
    }
    wg.wait();
  };
  for (auto _ : state) {
    p->run(job);
  }
  p->run([&] {
    {
      std::lock_guard<boost::fibers::mutex> lk(idle.mu);
      idle.stop = true;
    }
    idle.cv.notify_all();
    idle.exited.wait();
  });
  state.counters["ns/op"] = bench_common::per_unit(ops);
}
BENCHMARK(BM_Sleep)->Arg(1)->Arg(2)->UseRealTime();

BENCHMARK_MAIN();
