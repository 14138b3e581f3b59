// Chapter 1, "Deadlocks, Livelocks, and Starvation": printSum locks two
// values in opposite orders, and each goroutine waits for the lock the other
// holds. The Go program dies with "fatal error: all goroutines are asleep -
// deadlock!"; goro::run throws goro::deadlock_error saying the same, with
// every goroutine and what it waits on (see docs/debugging.md).
//
// The book sleeps 2 s between the two locks so that both goroutines hold
// their first lock; here a wait_group makes that certain.
#include <goro/goro.hpp>

#include <iostream>

struct value {
  goro::mutex mu;
  int v = 0;
};

int main() {
  try {
    goro::run([] {
      goro::wait_group wg;
      goro::wait_group both_hold_one;
      both_hold_one.add(2);
      auto print_sum = [&](value& v1, value& v2) {
        goro::this_goroutine::set_name("printSum");
        std::lock_guard l1(v1.mu);
        both_hold_one.done();
        both_hold_one.wait();  // the book: time.Sleep(2*time.Second)
        std::lock_guard l2(v2.mu);
        std::cout << "sum=" << v1.v + v2.v << "\n";
        wg.done();
      };
      value a, b;
      wg.add(2);
      goro::go([&] { print_sum(a, b); });
      goro::go([&] { print_sum(b, a); });
      wg.wait();
    });
  } catch (const goro::deadlock_error& e) {
    std::cout << "goro::deadlock_error: " << e.what();
  }
}
