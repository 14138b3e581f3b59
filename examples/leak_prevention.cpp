// Chapter 4, "Preventing goroutine leaks": a goroutine blocked on a channel
// nobody will ever use is never collected. The fix is the book's convention:
// whoever starts a goroutine gives it a done channel and closes it to stop
// it. num_goroutine() shows the leak and its absence.
#include <goro/goro.hpp>

#include <chrono>
#include <iostream>
#include <random>
#include <string>

using namespace std::chrono_literals;
using done_chan = goro::recv_chan<std::monostate>;

// The goroutines started beyond `base`, once they have had up to 1 s to end.
static long long extra(long long base) {
  for (int i = 0; i < 1000 && goro::num_goroutine() > base; ++i) goro::sleep(1ms);
  return goro::num_goroutine() - base;
}

// doWork reads strings until they end, or until done is closed.
static goro::recv_chan<int> do_work(done_chan done, goro::recv_chan<std::string> strings) {
  auto terminated = goro::make_chan<int>();
  goro::go([=] {
    for (;;) {
      std::optional<std::string> s;
      if (goro::select(strings.on_recv(s), done.on_recv()) == 1 || !s) break;
      std::cout << *s << "\n";  // do something interesting
    }
    std::cout << "doWork exited.\n";
    terminated.close();
  });
  return terminated;
}

int main() {
  goro::run([] {
    const long long base = goro::num_goroutine();
    // The leak: nobody ever sends on strings (the book passes nil), nobody says stop.
    auto strings = goro::make_chan<std::string>();
    goro::go([strings] {
      for (const auto& s : strings) std::cout << s << "\n";
    });
    goro::sleep(20ms);
    std::cout << "leaky doWork: " << goro::num_goroutine() - base << " goroutine still blocked\n";
    const long long leaked = goro::num_goroutine();

    // The fix: a done channel, closed by the parent.
    auto done = goro::make_chan<std::monostate>();
    auto terminated = do_work(done, strings);
    goro::go([done] {
      goro::sleep(20ms);
      std::cout << "Canceling doWork goroutine...\n";
      done.close();
    });
    terminated.recv();
    std::cout << "Done. goroutines left beyond the leak: " << extra(leaked) << "\n";

    // A producer blocked on a send leaks the same way; done stops it too.
    auto new_rand_stream = [](done_chan done) {
      auto rand_stream = goro::make_chan<int>();
      goro::go([=] {
        std::mt19937 rng(42);
        while (goro::select(rand_stream.on_send(static_cast<int>(rng() % 1000)), done.on_recv()) == 0) continue;
        std::cout << "newRandStream closure exited.\n";
        rand_stream.close();
      });
      return goro::recv_chan<int>(rand_stream);
    };
    auto done2 = goro::make_chan<std::monostate>();
    auto rand_stream = new_rand_stream(done2);
    std::cout << "3 random ints:";
    for (int i = 1; i <= 3; ++i) std::cout << " " << *rand_stream.recv();
    std::cout << "\n";
    done2.close();
    while (rand_stream.recv()) continue;  // until the producer closes it
    std::cout << "goroutines left beyond the leak: " << extra(leaked) << "\n";

    strings.close();  // ends the leaked reader at last, so we exit clean
    std::cout << "after closing its input: " << extra(base) << " goroutines left\n";
  });
}
