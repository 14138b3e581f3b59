// Heartbeats (Concurrency in Go, ch. 5): a worker that pulses while it
// works, so whoever watches it can tell a slow worker from a stuck one.
#include <goro/patterns.hpp>
#include <cstdio>
using namespace std::chrono_literals;

int main() {
  goro::run([] {
    const auto interval = 40ms;
    const auto start = goro::clock::now();
    auto ms = [start] { return static_cast<long long>((goro::clock::now() - start) / 1ms); };

    // 1. The book's doWork: work arrives every 2 intervals (a ticker); the
    //    worker pulses every interval meanwhile. main stops it after 250 ms.
    auto done = goro::make_done();
    auto [beats, results] = goro::heartbeat(done, interval, goro::tick(2 * interval));
    goro::after_func(250ms, [done] { done.close(); });
    for (bool open = true; open;) {
      std::optional<std::monostate> beat;
      std::optional<goro::time_point> r;
      switch (goro::select(beats.on_recv(beat), results.on_recv(r))) {
        case 0: if ((open = beat.has_value())) std::printf("%4lldms pulse\n", ms()); break;
        case 1: if ((open = r.has_value())) std::printf("%4lldms results\n", ms()); break;
      }
    }

    // 2. A worker that gets stuck in its third unit of work: its pulses
    //    stop, and a watcher that waits two intervals for one notices.
    auto done2 = goro::make_done();
    int n = 0;
    auto stuck_after_two = [&n](const goro::stop_signal& stop) -> std::optional<int> {
      if (++n > 2) stop.done().recv();  // stuck until stopped
      return stop.stopped() ? std::nullopt : std::optional<int>(n);
    };
    auto [beats2, results2] = goro::heartbeat(done2, interval, stuck_after_two);
    for (bool healthy = true; healthy;) {
      std::optional<int> r;
      switch (goro::select(beats2.on_recv(), results2.on_recv(r), goro::after(2 * interval).on_recv())) {
        case 0: std::printf("%4lldms pulse\n", ms()); break;
        case 1: std::printf("%4lldms results %d\n", ms(), *r); break;
        case 2: std::printf("%4lldms worker goroutine is not healthy!\n", ms()); healthy = false; break;
      }
    }
    done2.close();
    for (auto r : results2) (void)r;  // wait for it to stop (results closes)

    // 3. A pulse before each unit of work: wait for the first pulse and
    //    every result follows, with no timing in sight (the book's tests).
    auto [beats3, results3] = goro::heartbeat_per_unit(goro::stop_signal(), [i = 0]() mutable {
      return i < 3 ? std::optional<int>(10 * ++i) : std::nullopt;
    });
    while (beats3.recv()) {
      std::optional<int> r = results3.recv();
      if (!r) break;
      std::printf("pulse, then result %d\n", *r);
    }
    std::printf("heartbeats done\n");
  });
}
