// Goroutine benchmarks: spawn, spawn_seq, pingpong, thread_ring, skynet.
#include <vector>

#include "bench_support.hpp"

using goro_bench::count;
using goro_bench::run_fixed;

// spawn: start 1,000,000 goroutines that each count down a latch; one wait.
static void BM_Spawn(benchmark::State& state) {
  const std::int64_t n = count(1'000'000);
  run_fixed(state, n, "ns/goroutine", [n](benchmark::State&) {
    goro_bench::latch wg(n);
    for (std::int64_t i = 0; i < n; ++i) goro::go([&wg] { wg.done(); });
    wg.wait();
  });
}
BENCHMARK(BM_Spawn)->Arg(1)->Arg(2)->Unit(benchmark::kMillisecond)->UseRealTime();

// spawn_seq: 1,000,000 times: start one goroutine, wait for it on an unbuffered channel.
static void BM_SpawnSeq(benchmark::State& state) {
  const std::int64_t n = count(1'000'000);
  run_fixed(state, n, "ns/goroutine", [n](benchmark::State&) {
    auto done = goro::make_chan<int>();
    for (std::int64_t i = 0; i < n; ++i) {
      goro::go([done] { done.send(0); });
      done.recv();
    }
  });
}
BENCHMARK(BM_SpawnSeq)->Arg(1)->Arg(2)->Unit(benchmark::kMillisecond)->UseRealTime();

// pingpong: two goroutines bounce an int over two unbuffered channels.
static void BM_PingPong(benchmark::State& state) {
  const std::int64_t n = count(1'000'000);
  run_fixed(state, n, "ns/roundtrip", [n](benchmark::State& st) {
    auto ping = goro::make_chan<std::int64_t>(), pong = goro::make_chan<std::int64_t>();
    auto result = goro::make_chan<std::int64_t>();
    auto ponged = goro::make_chan<int>();
    goro::go([=] {
      for (std::int64_t v : ping) pong.send(v + 1);
      ponged.close();
    });
    goro::go([=] {
      std::int64_t sum = 0;
      for (std::int64_t i = 0; i < n; ++i) {
        ping.send(i);
        sum += *pong.recv();
      }
      ping.close();
      result.send(sum);
    });
    std::int64_t sum = *result.recv();
    ponged.recv();
    if (sum != n * (n + 1) / 2) st.SkipWithError("pingpong: wrong sum");
  });
}
BENCHMARK(BM_PingPong)->Arg(1)->Arg(2)->Unit(benchmark::kMillisecond)->UseRealTime();

// thread_ring: 503 goroutines in a ring, one token passed 50,000,000 times.
static void BM_ThreadRing(benchmark::State& state) {
  constexpr int nproc = 503;
  const std::int64_t passes = count(50'000'000);
  run_fixed(state, passes, "ns/pass", [passes](benchmark::State& st) {
    std::vector<goro::chan<std::int64_t>> chans;
    for (int i = 0; i < nproc; ++i) chans.push_back(goro::make_chan<std::int64_t>());
    auto done = goro::make_chan<int>();
    goro_bench::latch wg(nproc);
    for (int i = 0; i < nproc; ++i) {
      goro::go([&wg, done, in = chans[i], out = chans[(i + 1) % nproc], id = i + 1] {
        for (std::int64_t t : in) {
          if (t == 0) {
            done.send(id);
            continue;
          }
          out.send(t - 1);
        }
        wg.done();
      });
    }
    chans[0].send(passes);
    int winner = *done.recv();
    for (auto& c : chans) c.close();
    wg.wait();
    if (winner != passes % nproc + 1) st.SkipWithError("thread_ring: wrong winner");
  });
}
BENCHMARK(BM_ThreadRing)->Arg(1)->Arg(2)->Unit(benchmark::kMillisecond)->UseRealTime();

// skynet: a 10-ary tree of 1,111,111 goroutines over unbuffered channels.
static void skynet(goro::chan<std::int64_t> c, std::int64_t num, std::int64_t size, std::int64_t div) {
  if (size == 1) {
    c.send(num);
    return;
  }
  auto rc = goro::make_chan<std::int64_t>();
  std::int64_t sum = 0;
  for (std::int64_t i = 0; i < div; ++i) {
    goro::go(&skynet, rc, num + i * (size / div), size / div, div);
  }
  for (std::int64_t i = 0; i < div; ++i) sum += *rc.recv();
  c.send(sum);
}

static void BM_Skynet(benchmark::State& state) {
  const std::int64_t leaves = goro_bench::quick() ? 1'000 : 1'000'000;
  run_fixed(state, 1, "s/run", [leaves](benchmark::State& st) {
    auto c = goro::make_chan<std::int64_t>();
    goro::go(&skynet, c, 0, leaves, 10);
    if (*c.recv() != leaves * (leaves - 1) / 2) st.SkipWithError("skynet: wrong sum");
  });
}
BENCHMARK(BM_Skynet)->Arg(1)->Arg(2)->Unit(benchmark::kMillisecond)->UseRealTime();

BENCHMARK_MAIN();
