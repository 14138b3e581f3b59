// Chapter 4, "Queuing": the same pipeline, a fast source feeding a slow
// stage, without and with a buffer stage (a queue) before the slow stage.
// The queue does not raise throughput (the slow stage sets it); it lets the
// source run ahead, so work waits longer in the system. Little's law,
// L = lambda * W, checked on measured numbers: lambda (items/s out), W (mean
// time from entering to leaving), and L (items in the system, sampled
// every ~0.3 ms by its own goroutine).
#include <goro/goro.hpp>
#include <goro/pipeline.hpp>

#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <vector>

using namespace std::chrono_literals;
using seconds = std::chrono::duration<double>;

static bool measure(const char* name, std::size_t queue) {
  constexpr int n = 100;
  std::atomic<int> in_system = 0;
  std::atomic<bool> finished = false;
  double samples_sum = 0;
  long samples = 0;
  goro::wait_group sampler;
  auto done = goro::make_done();
  auto start = goro::clock::now();
  sampler.go([&] {
    for (; !finished; ++samples, goro::sleep(300us)) samples_sum += in_system;
  });
  // Entering: the source stamps each item and counts it in.
  auto entered = goro::from(done, std::vector<int>(n)) | goro::map([&](int) {
                   ++in_system;
                   return goro::clock::now();
                 });
  auto queued = queue > 0 ? entered | goro::buffer(queue) : entered;
  auto processed = queued | goro::map([](goro::time_point t) {
                     goro::sleep(2ms);  // the slow stage
                     return t;
                   });
  double total_wait = 0;  // seconds spent in the system, all items
  for (goro::time_point t : processed) {
    total_wait += seconds(goro::clock::now() - t).count();
    --in_system;  // leaving
  }
  double elapsed = seconds(goro::clock::now() - start).count();
  finished = true;
  sampler.wait();
  done.close();

  double lambda = n / elapsed, w = total_wait / n, l = samples_sum / samples;
  bool holds = std::abs(lambda * w - l) <= 0.2 * l;
  std::printf("%s: %d items in %.0f ms\n", name, n, elapsed * 1000);
  std::printf("  lambda = %.0f items/s, W = %.2f ms, L = %.2f (%ld samples), lambda*W = %.2f: %s\n", lambda,
              w * 1000, l, samples, lambda * w, holds ? "within 20% of L" : "NOT within 20% of L");
  return holds;
}

int main() {
  goro::run([] {
    bool ok = measure("without a buffer", 0);
    ok = measure("with buffer(10)", 10) && ok;
    std::printf(ok ? "Little's law held for both pipelines\n" : "Little's law did not hold\n");
  });
}
