// Memory figures, from the OS: what a parked goroutine costs.
//
//   mem_bench park_mem [gomaxprocs]   park 100,000 goroutines on a channel
//                                     receive; prints the RSS growth per
//                                     goroutine (bytes/goroutine)
//   mem_bench million [gomaxprocs]    park 1,000,000 at once; prints the
//                                     peak RSS of the process (MB-peak-rss)
//
// One measurement per process, as the Go twins (BenchmarkParkMem,
// BenchmarkMillion in go/parkmem_test.go) take each in a fresh child: a
// runtime that keeps stacks for reuse would show no growth the second time.
// RSS comes from /proc/self/statm and the peak from VmHWM in
// /proc/self/status, the same files the Go side reads. GORO_BENCH_QUICK=1
// divides the counts by 100. The output is one line, `<metric> <value>`,
// which bench/compare reads.
#include <goro/goro.hpp>

#include "bench_common.hpp"

#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <optional>
#include <string>

#include <unistd.h>

namespace {

std::int64_t rss_bytes() {
  std::ifstream statm("/proc/self/statm");
  std::int64_t size = 0, resident = 0;
  if (!(statm >> size >> resident)) return -1;
  return resident * static_cast<std::int64_t>(sysconf(_SC_PAGESIZE));
}

/// VmHWM (peak resident set) in bytes, or -1.
std::int64_t peak_rss_bytes() {
  std::ifstream status("/proc/self/status");
  std::string key;
  while (status >> key) {
    if (key == "VmHWM:") {
      std::int64_t kib = 0;
      status >> kib;
      return kib * 1024;
    }
    status.ignore(1 << 12, '\n');
  }
  return -1;
}

struct parked_result {
  std::int64_t growth;  ///< RSS after parking minus before, bytes
  bool ok;
};

/// Parks n goroutines on a receive from one channel, measures, releases them
/// and waits (bounded) until all have exited.
parked_result park(std::int64_t n) {
  return goro::run([n] {
    const std::int64_t before = rss_bytes();
    auto gate = goro::make_chan<int>();
    std::atomic<std::int64_t> started{0};
    auto exited = goro::make_chan<int>(1);
    std::atomic<std::int64_t> left{n};
    for (std::int64_t i = 0; i < n; ++i) {
      goro::go([gate, exited, &started, &left] {
        started.fetch_add(1, std::memory_order_relaxed);
        gate.recv();  // parks here until the gate closes
        if (left.fetch_sub(1, std::memory_order_acq_rel) == 1) exited.send(0);
      });
    }
    // Every goroutine has started; the last few may be between the count and
    // the park. Go's twin settles the same way (Gosched, then 10 ms).
    auto limit = std::chrono::steady_clock::now() + std::chrono::minutes(5);
    while (started.load(std::memory_order_relaxed) < n) {
      if (std::chrono::steady_clock::now() > limit) return parked_result{0, false};
      goro::sleep(std::chrono::milliseconds(1));
    }
    goro::sleep(std::chrono::milliseconds(10));
    const std::int64_t after = rss_bytes();
    gate.close();
    std::optional<int> v;
    auto timeout = goro::after(std::chrono::minutes(5));
    std::size_t r = goro::select(exited.on_recv(v), timeout.on_recv());
    return parked_result{after - before, r == 0};
  });
}

}  // namespace

int main(int argc, char** argv) {
  std::string what = argc > 1 ? argv[1] : "";
  if (argc > 2) goro::gomaxprocs(std::atoi(argv[2]));
  if (what == "park_mem") {
    const std::int64_t n = bench_common::quick() ? 1000 : 100000;
    auto r = park(n);
    if (!r.ok || r.growth < 0) {
      std::fprintf(stderr, "mem_bench park_mem: the goroutines did not park and exit in time\n");
      return 1;
    }
    std::printf("bytes/goroutine %.1f\n", static_cast<double>(r.growth) / static_cast<double>(n));
    return 0;
  }
  if (what == "million") {
    const std::int64_t n = bench_common::quick() ? 10000 : 1000000;
    auto r = park(n);
    if (!r.ok) {
      std::fprintf(stderr, "mem_bench million: the goroutines did not park and exit in time\n");
      return 1;
    }
    std::printf("MB-peak-rss %.1f\n", static_cast<double>(peak_rss_bytes()) / (1 << 20));
    return 0;
  }
  std::fprintf(stderr, "usage: mem_bench park_mem|million [gomaxprocs]\n");
  return 2;
}
