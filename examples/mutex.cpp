// Chapter 3, "Mutex and RWMutex": a mutex guards a critical section; an
// rw_mutex lets any number of readers in at once while no writer holds it.
// The book's timing test: one producer takes the write lock now and then
// while 2^k observers take the read side (rlocker()) or the whole lock
// (scaled down: the observers here hold it for 20us, so sharing shows).
#include <goro/goro.hpp>

#include <chrono>
#include <cstdio>
#include <mutex>

using namespace std::chrono_literals;

// Lockable: goro::mutex, goro::rw_mutex, rw_mutex::shared_view (Go's sync.Locker).
template <class P, class O>
std::chrono::microseconds test(int count, P& producer_lock, O& observer_lock) {
  goro::wait_group wg;
  auto begin = goro::clock::now();
  wg.go([&] {  // producer
    for (int i = 5; i > 0; --i) {
      producer_lock.lock();
      producer_lock.unlock();
      goro::sleep(1ns);
    }
  });
  for (int i = count; i > 0; --i) {
    wg.go([&observer_lock] {  // observer: a read that takes a moment
      std::lock_guard l(observer_lock);
      goro::sleep(20us);
    });
  }
  wg.wait();
  return std::chrono::duration_cast<std::chrono::microseconds>(goro::clock::now() - begin);
}

int main() {
  goro::run([] {
    {  // The book's arithmetic: five increments and five decrements, one lock.
      int count = 0;
      goro::mutex lock;
      goro::wait_group arithmetic;
      for (int i = 0; i < 5; ++i) {
        arithmetic.go([&] {
          std::lock_guard l(lock);  // lock, and unlock however the block ends (Go's defer)
          ++count;
        });
        arithmetic.go([&] {
          std::lock_guard l(lock);
          --count;
        });
      }
      arithmetic.wait();
      std::printf("Arithmetic complete: count is %d\n", count);
    }
    std::printf("%8s %12s %12s\n", "Readers", "RWMutex", "Mutex");
    for (int k = 0; k <= 9; k += 3) {
      int count = 1 << k;
      goro::rw_mutex rw;
      goro::mutex m;
      auto readers = rw.rlocker();
      auto with_rw = test(count, rw, readers);  // observers share the lock
      auto with_mutex = test(count, m, m);      // everyone takes it in turn
      std::printf("%8d %10lldus %10lldus\n", count, static_cast<long long>(with_rw.count()),
                  static_cast<long long>(with_mutex.count()));
    }
    std::printf("timing test complete\n");
  });
}
