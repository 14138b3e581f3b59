// src/runtime/runtime_mutex.cpp: runtime_mutex's slow path: spin, then sleep
// behind a process-wide barrier (see the top of runtime_mutex.hpp).
#include "runtime/runtime_mutex.hpp"

#include <linux/membarrier.h>
#include <sys/syscall.h>
#include <unistd.h>

namespace goro::detail {

bool process_barrier_ready() noexcept {
  static const bool ready = [] {
#if defined(SYS_membarrier)
    return syscall(SYS_membarrier, MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED, 0, 0) == 0;
#else
    return false;
#endif
  }();
  return ready;
}

bool process_barrier() noexcept {
#if defined(SYS_membarrier)
  return process_barrier_ready() && syscall(SYS_membarrier, MEMBARRIER_CMD_PRIVATE_EXPEDITED, 0, 0) == 0;
#else
  return false;
#endif
}

namespace {

bool try_take(std::atomic<std::uint32_t>& word) noexcept {
  std::uint32_t expected = 0;
  return word.load(std::memory_order_relaxed) == 0 &&
         word.compare_exchange_strong(expected, 1, std::memory_order_acquire, std::memory_order_relaxed);
}

// Without the barrier a sleeper may miss an unlock: it looks again this often.
constexpr std::int64_t unordered_sleep_ns = 50'000;

}  // namespace

void runtime_mutex_lock_slow(std::atomic<std::uint32_t>& word, std::atomic<std::uint32_t>& sleepers) noexcept {
  // Sixteen looks, then one yield of the thread (the holder may have been
  // preempted). Longer than Go's four looks because a sleep costs more here
  // (the barrier interrupts every running thread): with four, spsc/2 took
  // 54 ns an item, with sixteen 28. The looks back off: 60 pauses apart
  // twice, 120 twice, then 240 (see runtime_mutex::lock_slow). A short
  // wait (a hand-off's, pingpong/2) is over at the first looks, while two
  // workers that keep meeting at one channel each get longer turns on its
  // cache line. Over four A/Bs against 60 apart throughout: mpmc/2
  // 0.79-0.88, spsc/2 0.90-0.95, pingpong/2 0.94-0.98; thread_ring,
  // spsc_cap1, skynet and select 0.94-1.04.
  //
  // The counts are of PAUSEs, measured where one takes 9-11 ns. Where one
  // takes ~140 cycles (Skylake server parts) the same looks would spin
  // about four times as long before the sleep; goro::mutex's spin is timed
  // instead (sync_spin), and this one is not yet (bench/limits.md).
  for (int spin = 0; spin < 17; ++spin) {
    if (spin < 16) {
      int pauses = 60 << (spin < 4 ? spin / 2 : 2);
      for (int i = 0; i < pauses; ++i) cpu_relax();
    } else {
      os_yield();
    }
    if (try_take(word)) return;
  }
  // Sleep. Counted first, then the barrier, then the look at the word: the
  // order the Dekker argument at the top of runtime_mutex.hpp needs. The
  // futex sleeps only while the word is still 1.
  sleepers.fetch_add(1, std::memory_order_seq_cst);
  for (;;) {
    bool ordered = process_barrier();
    if (try_take(word)) break;
    futex_wait(&word, 1, ordered ? -1 : unordered_sleep_ns);
  }
  sleepers.fetch_sub(1, std::memory_order_relaxed);
}

}  // namespace goro::detail
