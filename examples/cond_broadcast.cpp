// Chapter 3, "Cond": a rendezvous point for goroutines waiting for an event.
// signal() wakes the longest waiter (the book's queue of two); broadcast()
// wakes them all (the book's button: three handlers subscribed to a click).
#include <goro/goro.hpp>

#include <algorithm>
#include <deque>
#include <functional>
#include <iostream>
#include <mutex>
#include <string>

using namespace std::chrono_literals;

struct button {
  goro::mutex mu;
  goro::cond clicked{mu};
};

// Starts a goroutine that waits for a click, then runs fn. Unlike the book,
// it holds the lock until wait() releases it: a broadcast made under the
// lock cannot slip in before the wait and be missed. And it lets go of b
// before fn runs: fn tells main the click was handled, after which main may
// leave the scope that owns b (Go's garbage collector keeps b alive for the
// book's version; in C++ nothing touches b once main can destroy it).
void subscribe(button& b, std::function<void()> fn) {
  goro::wait_group running;
  running.add(1);
  goro::go([&b, &running, fn] {
    {
      std::unique_lock l(b.mu);
      running.done();
      b.clicked.wait();
    }
    fn();
  });
  running.wait();
}

int main() {
  goro::run([] {
    {  // signal(): add to a queue of at most two; each removal signals one waiter.
      goro::mutex mu;
      goro::cond c(mu);
      std::deque<int> queue;
      int removed = 0;
      std::size_t most = 0;
      auto remove_from_queue = [&](std::chrono::milliseconds delay) {
        goro::sleep(delay);
        std::lock_guard l(mu);
        queue.pop_front();
        ++removed;
        c.signal();  // a waiting adder can go on
      };
      for (int i = 0; i < 10; ++i) {
        std::unique_lock l(mu);
        c.wait([&] { return queue.size() < 2; });  // while (len(queue) == 2) Wait()
        queue.push_back(i);
        most = std::max(most, queue.size());
        goro::go([=] { remove_from_queue(1ms); });
      }
      std::unique_lock l(mu);
      c.wait([&] { return queue.empty(); });
      std::cout << "queue: added 10, removed " << removed << ", at most " << most << " queued\n";
    }
    {  // broadcast(): the button.
      button b;
      goro::wait_group click_registered;
      goro::mutex out;
      auto handler = [&](std::string msg) {
        return [&, msg] {
          {
            std::lock_guard l(out);
            std::cout << msg << "\n";
          }
          click_registered.done();  // the last touch: main may return now
        };
      };
      click_registered.add(3);
      subscribe(b, handler("Maximizing window."));
      subscribe(b, handler("Displaying annoying dialog box!"));
      subscribe(b, handler("Mouse clicked."));
      {
        std::lock_guard l(b.mu);
        b.clicked.broadcast();  // the click
      }
      click_registered.wait();
      std::cout << "one broadcast reached all 3 subscribers\n";
    }
  });
}
