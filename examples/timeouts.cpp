// The book's "Timeouts and Cancellation" (chapter 5): work that may be
// cancelled checks its done channel (or context) between short pieces that
// cannot be interrupted, so a timeout stops it promptly and leaves nothing
// running. goro's goroutines are cooperative: the piece loop also yields, so
// the timer that cancels can run even with one worker (GOMAXPROCS=1).
#include <goro/goro.hpp>

#include <chrono>
#include <cstdio>
#include <optional>

using namespace std::chrono_literals;
using steady = std::chrono::steady_clock;

// One piece that cannot be interrupted: about a millisecond of computing.
long long long_calculation(long long v) {
  auto end = steady::now() + 1ms;
  while (steady::now() < end) v = (v * 31 + 7) % 1000003;
  return v;
}

// Preemptable (the book's reallyLongCalculation): stops between pieces.
std::optional<long long> really_long_calculation(const goro::stop_signal& stop, long long v, int pieces) {
  for (int i = 0; i < pieces; ++i) {
    if (stop.stopped()) return std::nullopt;
    v = long_calculation(v);
    goro::yield();
  }
  return v;
}

long long ms_since(steady::time_point t) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(steady::now() - t).count();
}

int main() {
  goro::run([] {
    // A timeout: 1,000 pieces would take a second; the context allows 20 ms.
    auto [ctx, cancel] = goro::with_timeout(goro::background(), 20ms);
    auto start = steady::now();
    auto r = really_long_calculation(ctx, 1, 1000);
    std::printf("calculation %s after %s 1 s (%s)\n", r ? "finished" : "was preempted",
                ms_since(start) < 1000 ? "well under" : "over", ctx.err().message().c_str());
    cancel();

    // With time to finish, it finishes.
    auto [ctx2, cancel2] = goro::with_timeout(goro::background(), 5s);
    std::printf("short calculation finished: %s\n", really_long_calculation(ctx2, 1, 5) ? "yes" : "no");
    cancel2();

    // Cancellation from the parent, through a done channel.
    auto done = goro::make_done();
    auto result = goro::make_chan<std::optional<long long>>(1);
    goro::go([done, result] { result.send(really_long_calculation(done, 2, 1000)); });
    goro::after(5ms).recv();  // let it work a little, then change our mind
    done.close();
    std::printf("goroutine %s\n", (*result.recv()).has_value() ? "finished" : "stopped when done closed");
  });
}
