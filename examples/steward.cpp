// Healing unhealthy goroutines (Concurrency in Go, ch. 5): a steward
// restarts its ward whenever the ward's heartbeat stops.
#include <goro/patterns.hpp>
#include <cstdio>
using namespace std::chrono_literals;

int main() {
  goro::run([] {
    const auto start = goro::clock::now();
    auto log = [start](const char* what) {
      std::printf("%4lldms %s\n", static_cast<long long>((goro::clock::now() - start) / 1ms), what);
    };

    // The book's irresponsible ward: it never pulses. It does stop when told
    // to, and then closes its heartbeat channel, so the steward knows.
    auto irresponsible = [log](goro::stop_signal done, std::chrono::nanoseconds) {
      log("ward: Hello, I'm irresponsible!");
      auto beats = goro::make_chan<std::monostate>();
      goro::go([log, done, beats] {
        done.done().recv();
        log("ward: I am halting.");
        beats.close();
      });
      return goro::recv_chan<std::monostate>(beats);
    };

    // A steward that gives the ward 100 ms to pulse; itself a start function.
    auto with_steward =
        goro::steward(100ms, irresponsible, [log] { log("steward: ward unhealthy; restarting"); });

    auto done = goro::make_done();
    goro::after_func(250ms, [log, done] {
      log("main: halting steward and ward.");
      done.close();
    });
    // The steward's heartbeat closes once it and its ward have stopped.
    for (auto pulse : with_steward(done, 1h)) (void)pulse;
    log("Done");
  });
}
