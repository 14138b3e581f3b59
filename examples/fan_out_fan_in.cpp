// Chapter 4, "Fan-out, fan-in": a slow stage (the book's deliberately naive
// primeFinder) run by one goroutine, then by one per processor reading the
// same input, their outputs merged by fan_in. The work is the same; with
// more than one processor it takes less time. fan_out_ordered does both
// steps and also keeps the input's order.
#include <goro/goro.hpp>
#include <goro/pipeline.hpp>

#include <algorithm>
#include <chrono>
#include <iostream>
#include <random>
#include <vector>

// The book's check: try every divisor from n-1 down (slow on purpose).
static bool is_prime(int n) {
  for (int divisor = n - 1; divisor > 1; --divisor) {
    if (n % divisor == 0) return false;
  }
  return n > 1;
}

// 600 random ints below 100000, the same ones every run (repeat_fn, take).
static goro::stream<int> rand_int_stream(goro::stop_signal done) {
  return goro::repeat_fn(done, [rng = std::mt19937(1)]() mutable { return static_cast<int>(rng() % 100000); }) |
         goro::take(600);
}

template <class F>
static std::vector<int> timed(const char* how, F search) {
  auto start = goro::clock::now();
  std::vector<int> primes = search();
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(goro::clock::now() - start);
  std::cout << how << ": " << primes.size() << " primes, search took " << ms.count() << " ms\n";
  return primes;
}

int main() {
  goro::run([] {
    auto done = goro::make_done();
    const int num_finders = goro::gomaxprocs();
    auto collect = [](auto&& stream) { return std::vector<int>(stream.begin(), stream.end()); };

    auto sequential = timed("one prime finder", [&] {  // the input's order
      return collect(goro::filter(done, rand_int_stream(done), is_prime));
    });
    auto fanned = timed("fan-out to finders, fan-in", [&] {
      auto rand_ints = rand_int_stream(done);
      std::vector<goro::recv_chan<int>> finders;  // each reads from the same stream
      for (int i = 0; i < num_finders; ++i) finders.push_back(goro::filter(done, rand_ints, is_prime));
      return collect(goro::fan_in(done, finders));  // in the order they were found
    });
    auto ordered = timed("fan_out_ordered", [&] {
      auto checked = goro::fan_out_ordered(done, rand_int_stream(done), num_finders,
                                           [](int n) { return is_prime(n) ? n : 0; });
      return collect(checked | goro::filter([](int n) { return n != 0; }));
    });

    std::cout << "finders: " << num_finders << "\nPrimes:";
    for (std::size_t i = 0; i < sequential.size() && i < 10; ++i) std::cout << " " << sequential[i];
    std::cout << " ...\n";
    std::cout << "fan_out_ordered gives the same primes in the same order: "
              << (ordered == sequential ? "yes" : "no") << "\n";
    std::ranges::sort(sequential);
    std::ranges::sort(fanned);
    std::cout << "fan-in gives the same primes: " << (fanned == sequential ? "yes" : "no") << "\n";
    done.close();
  });
}
