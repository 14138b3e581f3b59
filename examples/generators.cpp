// Chapter 4, "Generators": repeat sends its values over and over, take
// passes on the first n, repeat_fn calls a function for each value. All stop
// when done closes, so an endless generator costs nothing once you are done.
// goro's streams are typed: no interface{} and no toString stage needed.
#include <goro/goro.hpp>
#include <goro/pipeline.hpp>

#include <iostream>
#include <random>
#include <string>

int main() {
  goro::run([] {
    const auto base = goro::num_goroutine();
    auto done = goro::make_done();

    // take(done, repeat(done, 1), 10)
    std::cout << "repeat 1, take 10:";
    for (int num : goro::take(done, goro::repeat(done, 1), 10)) std::cout << " " << num;
    std::cout << "\n";

    // repeat_fn with a random number generator (seeded: the same output every run).
    std::mt19937 rng(2017);
    auto rand = [&rng] { return static_cast<int>(rng() % 100); };
    std::cout << "repeat_fn(rand), take 10:";
    for (int num : goro::repeat_fn(done, rand) | goro::take(10)) std::cout << " " << num;
    std::cout << "\n";

    // The book's string example: repeat "I", "am." and take 5 tokens.
    std::string message;
    for (const std::string& token : goro::repeat(done, std::string("I"), std::string("am.")) | goro::take(5)) {
      message += token;
    }
    std::cout << "message: " << message << "...\n";

    // A generator of a fixed list, and one from any range.
    std::cout << "generator:";
    for (int v : goro::generator(done, 1, 2, 3, 4)) std::cout << " " << v;
    std::cout << "\nfrom a vector:";
    for (int v : goro::from(done, std::vector<int>{5, 6, 7})) std::cout << " " << v;
    std::cout << "\n";

    std::cout << "goroutines still running: " << goro::num_goroutine() - base << "\n";
    done.close();  // the endless repeat generators stop here
    for (int i = 0; i < 1000 && goro::num_goroutine() > base; ++i) goro::sleep(std::chrono::milliseconds(1));
    std::cout << "after done.close(): " << goro::num_goroutine() - base << " goroutines left\n";
  });
}
