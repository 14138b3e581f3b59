// The example at the top of README.md, kept compiling and running by ctest.
#include <goro/goro.hpp>
#include <iostream>
using namespace std::chrono_literals;

int main() {
  auto results = goro::make_chan<int>(16);        // buffered channel
  for (int w = 0; w < 4; ++w)
    goro::go([results, w] { results.send(w * w); });  // four goroutines
  for (int i = 0; i < 4; ++i) std::cout << *results.recv() << '\n';

  std::optional<int> v;
  switch (goro::select(results.on_recv(v), goro::after(50ms).on_recv())) {
    case 0: std::cout << "got " << *v << '\n'; break;
    case 1: std::cout << "timed out\n"; break;    // nothing left: this one
  }
}
