// Chapter 3, "WaitGroup": wait for a set of goroutines whose results you do
// not need (or collect some other way). add() before starting, done() when
// finished (here by a guard, Go's defer), wait() until the count is zero.
#include <goro/goro.hpp>

#include <algorithm>
#include <iostream>
#include <vector>

using namespace std::chrono_literals;

int main() {
  goro::run([] {
    {  // The book's first example: two goroutines that sleep.
      goro::wait_group wg;
      goro::mutex mu;
      std::vector<int> finished;
      for (int id : {1, 2}) {
        wg.add(1);
        goro::go([&wg, &mu, &finished, id] {
          struct defer_done {
            goro::wait_group& wg;
            ~defer_done() { wg.done(); }
          } d{wg};
          goro::sleep(id * 5ms);
          std::lock_guard lock(mu);
          finished.push_back(id);
        });
      }
      wg.wait();
      for (int id : finished) std::cout << (id == 1 ? "1st" : "2nd") << " goroutine slept\n";
      std::cout << "All goroutines complete.\n";
    }
    {  // hello(): add(n) once, then n goroutines; wg.go() does add(1) and done().
      constexpr int num_greeters = 5;
      goro::wait_group wg;
      goro::mutex mu;
      std::vector<int> hellos;
      for (int i = 1; i <= num_greeters; ++i) {
        wg.go([&, i] {
          std::lock_guard lock(mu);
          hellos.push_back(i);
        });
      }
      wg.wait();
      std::ranges::sort(hellos);  // they greet in any order
      for (int id : hellos) std::cout << "Hello from " << id << "!\n";
      std::cout << "greeters: " << hellos.size() << " of " << num_greeters << "\n";
    }
  });
}
