// A virtual clock for tests (goro::testing::bubble, like Go's
// testing/synctest): the heartbeat of examples/heartbeat.cpp, on a clock that
// moves only when every goroutine of the bubble waits, straight to the next
// timer. The times printed are exact and the same on every run, and the
// minutes the watcher waits pass in microseconds.
#include <goro/patterns.hpp>
#include <goro/testing.hpp>

#include <chrono>
#include <cstdio>

using namespace std::chrono_literals;

int main() {
  auto real_start = std::chrono::steady_clock::now();
  goro::testing::bubble([] {
    const auto start = goro::clock::now();
    auto at = [start] { return std::chrono::duration<double>(goro::clock::now() - start).count(); };

    // Work arrives every 25 s; the worker pulses every 8 s while it waits.
    auto done = goro::make_done();
    auto [beats, results] = goro::heartbeat(done, 8s, goro::tick(25s));
    goro::after_func(60s, [done] { done.close(); });
    for (bool open = true; open;) {
      std::optional<std::monostate> beat;
      std::optional<goro::time_point> r;
      switch (goro::select(beats.on_recv(beat), results.on_recv(r))) {
        case 0:
          if ((open = beat.has_value())) std::printf("%5.1f s  pulse\n", at());
          break;
        case 1:
          if ((open = r.has_value())) std::printf("%5.1f s  result (work sent at %.1f s)\n", at(),
                                                  std::chrono::duration<double>(*r - start).count());
          break;
      }
    }
    std::printf("%5.1f s  worker stopped\n", at());
  });
  auto real = std::chrono::steady_clock::now() - real_start;
  std::printf("(a virtual minute took %.1f ms of real time)\n\n",
              std::chrono::duration<double, std::milli>(real).count());

  // A goroutine stuck for good is a deadlock the bubble reports, instead of a
  // test that hangs.
  try {
    goro::testing::bubble([] {
      goro::this_goroutine::set_name("stuck");
      goro::make_chan<int>().recv();
    });
  } catch (const goro::deadlock_error& e) {
    std::printf("%s\n", e.what());
  }
}
