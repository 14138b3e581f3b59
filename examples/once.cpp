// Chapter 3, "Once": once.call(f) runs f the first time it is called, on
// whichever goroutine gets there first; every other call waits for that one
// and does nothing. It counts calls of call(), not distinct functions.
#include <goro/goro.hpp>

#include <iostream>
#include <string>

int main() {
  goro::run([] {
    {  // A hundred goroutines race to increment, through one once.
      int count = 0;
      auto increment = [&] { ++count; };
      goro::once once;
      goro::wait_group increments;
      for (int i = 0; i < 100; ++i) increments.go([&] { once.call(increment); });
      increments.wait();
      std::cout << "Count is " << count << "\n";
    }
    {  // Two different functions, one once: only the first runs.
      int count = 0;
      goro::once once;
      once.call([&] { ++count; });
      once.call([&] { --count; });
      std::cout << "Count: " << count << "\n";
    }
    // The book's deadlock (not run here):
    //   initA = [&] { onceB.call(initB); };  initB = [&] { onceA.call(initA); };
    //   onceA.call(initA);
    // initB calls onceA.call while onceA's first call has not returned, so it
    // waits for itself forever (Go: "all goroutines are asleep - deadlock!").
    {  // The deadlock-free variant: no cycle. A depends on B, B on nothing,
       // so each once is entered at most once at a time.
      goro::once once_a, once_b;
      std::string order;
      auto init_b = [&] { order += "B"; };
      auto init_a = [&] {
        once_b.call(init_b);  // B first, if nobody has yet
        order += "A";
      };
      goro::wait_group wg;
      for (int i = 0; i < 10; ++i) {
        wg.go([&] { once_a.call(init_a); });
        wg.go([&] { once_b.call(init_b); });
      }
      wg.wait();
      std::cout << "initialized in order " << order << ", no deadlock\n";
    }
    {  // Go 1.21's sync.OnceValue: a value computed once, on first use.
      int computed = 0;
      auto locale = goro::once_value([&] {
        ++computed;
        return std::string("EN/US");
      });
      goro::wait_group wg;
      for (int i = 0; i < 10; ++i) wg.go([locale] { locale(); });
      wg.wait();
      std::cout << "locale " << locale() << " computed " << computed << " time(s) for 11 calls\n";
    }
  });
}
