// "Concurrency in Go", chapter 5, rate limiting: an API connection whose
// calls pass through multi-tier limiters, the strictest winning. The book's
// limits (2 a second, 10 a minute, disk 1 a second, network 3 a second) run
// here 10 times faster, so the whole thing takes about a second.
#include <goro/goro.hpp>
#include <goro/rate.hpp>

#include <chrono>
#include <cstdio>
#include <mutex>
using namespace std::chrono_literals;
namespace rate = goro::rate;

class api_connection {
 public:
  // The book's API allows 2 calls a second in bursts of 2 and 10 a minute in
  // bursts of 10 (here one per 50 ms and one per 600 ms); disk reads and
  // network lookups have their own limits, and count against the API's too.
  std::error_code read_file(const goro::context& ctx) {
    return rate::multi_limiter(api_, disk_).wait(ctx);  // pretend we do work here
  }
  std::error_code resolve_address(const goro::context& ctx) {
    return rate::multi_limiter(api_, network_).wait(ctx);
  }

 private:
  rate::limiter per_second_{rate::every(50ms), 2};
  rate::limiter per_minute_{rate::every(600ms), 10};
  rate::limiter disk_{rate::every(100ms), 1};
  rate::limiter network_{rate::every(33ms), 3};
  rate::multi_limiter api_{per_second_, per_minute_};
};

int main() {
  api_connection conn;
  auto start = goro::clock::now();
  std::mutex out;  // keeps lines whole
  auto log = [&](const char* what, std::error_code e) {
    auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(goro::clock::now() - start).count();
    std::lock_guard lock(out);
    if (e) std::printf("%4lld ms  %s: %s\n", static_cast<long long>(ms), what, e.message().c_str());
    else std::printf("%4lld ms  %s\n", static_cast<long long>(ms), what);
  };

  goro::run([&] {
    goro::wait_group wg;
    // Ten goroutines read files and ten resolve addresses, all at once: the
    // first ten calls go through the per-minute burst, then one per 600 ms.
    // A context with a deadline makes the last callers give up at once
    // rather than wait past it.
    auto [ctx, cancel] = goro::with_timeout(goro::background(), 1300ms);
    for (int i = 0; i < 10; ++i) {
      wg.go([&, ctx = ctx] { log("read_file", conn.read_file(ctx)); });
      wg.go([&, ctx = ctx] { log("resolve_address", conn.resolve_address(ctx)); });
    }
    wg.wait();
    cancel();
  });
  std::printf("done\n");
}
