// Chapter 3, "Goroutines": a goroutine's closure captures variables, not
// values. Capture by reference and the goroutine sees (and changes) the
// variable itself; the book's loop prints "good day" three times because
// every goroutine reads the one loop variable after the loop has ended
// (Go before 1.22). Capture by value to give each goroutine its own copy.
#include <goro/goro.hpp>

#include <algorithm>
#include <iostream>
#include <string>
#include <vector>

using namespace std::chrono_literals;

static void print(const char* what, std::vector<std::string> seen) {
  std::ranges::sort(seen);  // goroutines finish in any order
  std::cout << what;
  for (const auto& s : seen) std::cout << " [" << s << "]";
  std::cout << "\n";
}

int main() {
  goro::run([] {
    {  // 1. The goroutine changes the variable it captured by reference.
      goro::wait_group wg;
      std::string salutation = "hello";
      wg.go([&] { salutation = "welcome"; });
      wg.wait();  // the write happens-before wait() returns
      std::cout << "captured by reference, after wait: " << salutation << "\n";
    }
    {  // 2. The book's loop with one shared loop variable. On one processor no
       // goroutine runs before main blocks in wait(), so all see the last value.
      int procs = goro::gomaxprocs(1);
      goro::wait_group wg;
      goro::mutex mu;
      std::vector<std::string> seen;
      std::string salutation;  // one variable for every iteration
      for (const char* s : {"hello", "greetings", "good day"}) {
        salutation = s;
        wg.go([&] {
          std::lock_guard lock(mu);
          seen.push_back(salutation);
        });
      }
      wg.wait();
      goro::gomaxprocs(procs);
      print("shared loop variable:", seen);
    }
    {  // 3. The fix: each goroutine gets its own copy (capture by value).
      goro::wait_group wg;
      goro::mutex mu;
      std::vector<std::string> seen;
      for (std::string salutation : {"hello", "greetings", "good day"}) {
        wg.go([&, salutation] {
          std::lock_guard lock(mu);
          seen.push_back(salutation);
        });
      }
      wg.wait();
      print("captured by value:", seen);
    }
    {  // 4. Goroutines are cheap: ten thousand of them, all blocked on one channel.
      constexpr int n = 10000;
      auto before = goro::num_goroutine();
      auto gate = goro::make_chan<int>();
      goro::wait_group wg;
      for (int i = 0; i < n; ++i) wg.go([gate] { gate.recv(); });
      std::cout << "started " << goro::num_goroutine() - before << " goroutines\n";
      gate.close();  // wakes them all
      wg.wait();  // each calls done() just before it ends: let them finish
      for (int i = 0; i < 1000 && goro::num_goroutine() > before; ++i) goro::sleep(1ms);
      std::cout << "after close and wait: " << goro::num_goroutine() - before << " left\n";
    }
  });
}
