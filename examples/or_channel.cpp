// Chapter 4, "The or-channel": one done channel that closes as soon as any
// of several channels closes (or delivers). The book's sig(after) example:
// five signals, from 20 ms to 2 hours; the combined one is done after about
// the shortest. goro::or_channel takes any number of channels of any types
// and needs one goroutine (a select over all of them), where the book's
// recursive `or` needs about one per two channels.
#include <goro/goro.hpp>
#include <goro/pipeline.hpp>

#include <chrono>
#include <iostream>

using namespace std::chrono_literals;

int main() {
  goro::run([] {
    auto quit = goro::make_done();  // ends the sig goroutines still sleeping
    goro::wait_group sleepers;
    // A channel that closes after `after` (the book's sig).
    auto sig = [&](std::chrono::nanoseconds after) -> goro::done_chan {
      auto c = goro::make_done();
      sleepers.go([c, after, quit] {
        goro::select(goro::after(after).on_recv(), quit.on_recv());
        c.close();
      });
      return c;
    };

    auto start = goro::clock::now();
    goro::or_channel(sig(2h), sig(5min), sig(20ms), sig(1h), sig(1min)).recv();
    auto took = std::chrono::duration_cast<std::chrono::milliseconds>(goro::clock::now() - start);
    std::cout << "done after " << took.count() << " ms\n";
    std::cout << "done after the shortest (20 ms) and not a longer one: "
              << (took >= 20ms && took < 1min ? "yes" : "no") << "\n";

    // Mixed types: a done channel that never closes, and a timer's channel.
    start = goro::clock::now();
    auto never = goro::make_done();
    goro::or_channel(never, goro::after(30ms)).recv();
    took = std::chrono::duration_cast<std::chrono::milliseconds>(goro::clock::now() - start);
    std::cout << "or of (never, after(30ms)) done after " << took.count() << " ms\n";

    // A run-time number of channels: the vector form.
    std::vector<goro::done_chan> signals;
    for (int i = 1; i <= 10; ++i) signals.push_back(sig(i * 10ms));
    start = goro::clock::now();
    goro::or_channel(signals).recv();
    took = std::chrono::duration_cast<std::chrono::milliseconds>(goro::clock::now() - start);
    std::cout << "or of 10 signals (10 ms .. 100 ms) done after " << took.count() << " ms\n";

    quit.close();
    sleepers.wait();
    std::cout << "all signal goroutines ended\n";
  });
}
