// src/runtime/stack.cpp: carving, pooling and guarding goroutine stacks.
//
// Invariants:
//  - The global pool (pool_mutex) owns every slot that is neither on a
//    processor's cache nor under a goroutine: `warm` slots keep their pages
//    resident; `cold` ones had them released with MADV_DONTNEED (guard
//    markers survive it).
//  - Scavenging (Go's idea): every scavenge_period, the warm slots that were
//    not needed during the period (the pool's low-water mark) beyond
//    keep_warm go cold. A burst's stacks stay warm for the next burst; an
//    idle program gives its memory back.
//  - Regions are never unmapped, so a slot address stays valid for the life of
//    the process (the overflow handler relies on it).
//  - guarded_count counts slots with an mprotect guard; it never exceeds
//    guarded_limit, keeping the process under vm.max_map_count.
#include "runtime/stack.hpp"

#include <signal.h>
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <mutex>
#include <vector>

#include "runtime/goroutine.hpp"
#include "runtime/platform.hpp"
#include "runtime/processor.hpp"
#include "runtime/sanitizers.hpp"

#ifndef MADV_GUARD_INSTALL
#define MADV_GUARD_INSTALL 102
#endif

namespace goro::detail {
namespace {

constexpr std::uint64_t canary_value = 0x676f726f5354414bull;  // "goroSTAK"
constexpr std::size_t page = 4096;
constexpr std::size_t slots_per_region = 1024;
constexpr std::size_t keep_warm = 256;
constexpr std::int64_t scavenge_period_ns = 500'000'000;
constexpr std::size_t guarded_limit = 16000;  // 2 mappings each: well under 65530

enum class guard_kind { unknown, madvise, mprotect_then_canary };

struct stack_globals {
  std::size_t slot_size = 0;
  std::mutex pool_mutex;
  // Guarded by pool_mutex:
  std::deque<stack_slot> warm;  // oldest first
  std::vector<stack_slot> cold;
  std::size_t low_water = 0;        // fewest warm slots since the last scavenge
  std::int64_t last_scavenge = 0;
  char* region = nullptr;       // current region being carved
  std::size_t region_used = 0;  // slots carved from it
  std::size_t guarded_count = 0;
  guard_kind guard = guard_kind::unknown;
  std::vector<char*> regions;  // every region mapped, in order; the last is `region`
};

std::size_t read_stack_size() noexcept {
#if defined(GORO_ASAN) || defined(GORO_TSAN)
  std::size_t size = 1u << 20;  // instrumented frames are several times larger
#else
  std::size_t size = 256u << 10;
#endif
  if (const char* env = std::getenv("GORO_STACK_SIZE")) {
    char* end = nullptr;
    unsigned long long v = std::strtoull(env, &end, 10);
    if (end != env && v >= 16 * 1024 && v <= (1ull << 30)) size = static_cast<std::size_t>(v);
  }
  size = (size + page - 1) & ~(page - 1);
  return size + page;  // plus the guard page
}

// GORO_STACK_GUARD=mprotect or =canary forces a fallback (tests use it).
guard_kind read_guard_kind() noexcept {
  if (const char* env = std::getenv("GORO_STACK_GUARD")) {
    if (std::strcmp(env, "mprotect") == 0 || std::strcmp(env, "canary") == 0) {
      return guard_kind::mprotect_then_canary;
    }
  }
  return guard_kind::unknown;
}

stack_globals& globals() noexcept {
  // Never destroyed: goroutines may still run while static destructors do.
  static stack_globals* g = [] {
    auto* s = new stack_globals;
    s->slot_size = read_stack_size();
    s->guard = read_guard_kind();
    if (const char* env = std::getenv("GORO_STACK_GUARD"); env != nullptr && std::strcmp(env, "canary") == 0) {
      s->guarded_count = guarded_limit;  // no mprotect guard at all: canaries only
    }
    return s;
  }();
  return *g;
}

// Carves a fresh slot and protects it. pool_mutex held.
stack_slot carve(stack_globals& sg) {
  if (sg.region == nullptr || sg.region_used == slots_per_region) {
    void* r = mmap(nullptr, sg.slot_size * slots_per_region, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (r == MAP_FAILED) {
      static const char msg[] = "goro: out of memory mapping goroutine stacks\n";
      (void)!write(2, msg, sizeof msg - 1);
      std::abort();
    }
    sg.region = static_cast<char*>(r);
    sg.region_used = 0;
    sg.regions.push_back(sg.region);
  }
  stack_slot s;
  s.base = sg.region + sg.region_used++ * sg.slot_size;
  if (sg.guard != guard_kind::mprotect_then_canary &&
      madvise(s.base, page, MADV_GUARD_INSTALL) == 0) {
    sg.guard = guard_kind::madvise;
  } else if (sg.guard == guard_kind::madvise) {
    s.canary = true;  // a madvise that worked before failed now (out of memory?)
  } else {
    sg.guard = guard_kind::mprotect_then_canary;
    if (sg.guarded_count < guarded_limit && mprotect(s.base, page, PROT_NONE) == 0) {
      ++sg.guarded_count;
    } else {
      s.canary = true;
    }
  }
  san::valgrind_stack_register(s.lo(), s.hi());
  return s;
}

// Releases the memory of slots going cold, one madvise per contiguous run.
void release_memory(stack_globals& sg, stack_slot* slots, std::size_t n) noexcept {
  std::sort(slots, slots + n, [](const stack_slot& a, const stack_slot& b) { return a.base < b.base; });
  std::size_t i = 0;
  while (i < n) {
    std::size_t j = i + 1;
    while (j < n && slots[j].base == slots[j - 1].base + sg.slot_size) ++j;
    // Guard pages inside the run are kept by MADV_DONTNEED (madvise guards)
    // or are PROT_NONE pages with nothing to release (mprotect guards).
    madvise(slots[i].base + page, (slots[j - 1].base - slots[i].base) + sg.slot_size - page,
            MADV_DONTNEED);
    i = j;
  }
}

// ---- overflow reporting --------------------------------------------------------

struct sigaction old_segv;
struct sigaction old_bus;

void write_str(const char* s) noexcept { (void)!write(2, s, std::strlen(s)); }
void write_u64(std::uint64_t v) noexcept {
  char buf[24];
  int i = sizeof buf;
  do {
    buf[--i] = static_cast<char>('0' + v % 10);
    v /= 10;
  } while (v != 0);
  (void)!write(2, buf + i, sizeof buf - i);
}

void on_fault(int sig, siginfo_t* info, void* uctx) {
  goroutine* g = signal_current_goroutine();
  char* addr = static_cast<char*>(info->si_addr);
  if (g != nullptr && g->stack.base != nullptr && addr >= g->stack.base - page &&
      addr < g->stack.base + page) {
    stack_overflow_abort(g->id, g->spawn_site.file, g->spawn_site.line);
  }
  // Not ours: hand it to whoever had the signal before us.
  const struct sigaction& old = sig == SIGBUS ? old_bus : old_segv;
  if (old.sa_flags & SA_SIGINFO) {
    if (old.sa_sigaction != nullptr) {
      old.sa_sigaction(sig, info, uctx);
      return;
    }
  } else if (old.sa_handler != SIG_DFL && old.sa_handler != SIG_IGN) {
    old.sa_handler(sig);
    return;
  }
  // Default action: restore it and return; the faulting instruction runs
  // again and the kernel delivers the signal with its default effect.
  signal(sig, SIG_DFL);
}

}  // namespace

char* stack_slot::lo() const noexcept { return base + page; }
char* stack_slot::hi() const noexcept { return base + globals().slot_size; }
bool stack_slot::canary_intact() const noexcept {
  std::uint64_t v;
  std::memcpy(&v, lo(), sizeof v);
  return v == canary_value;
}

std::size_t stack_slot_size() noexcept { return globals().slot_size; }
std::size_t stack_guard_size() noexcept { return page; }

stack_slot stack_allocate() {
  stack_globals& sg = globals();
  stack_slot s;
  {
    std::lock_guard lock(sg.pool_mutex);
    if (!sg.warm.empty()) {
      s = sg.warm.back();
      sg.warm.pop_back();
      if (sg.warm.size() < sg.low_water) sg.low_water = sg.warm.size();
    } else if (!sg.cold.empty()) {
      s = sg.cold.back();
      sg.cold.pop_back();
    } else {
      s = carve(sg);
    }
  }
  if (s.canary) std::memcpy(s.lo(), &canary_value, sizeof canary_value);
  san::tsan_acquire(s.base);
  return s;
}

namespace {

// Takes the slots to release, if a period has passed. pool_mutex held.
std::vector<stack_slot> take_idle_slots(stack_globals& sg) {
  std::vector<stack_slot> going_cold;
  std::int64_t now = nanotime();
  if (now - sg.last_scavenge < scavenge_period_ns) return going_cold;
  sg.last_scavenge = now;
  std::size_t idle = std::min(sg.low_water, sg.warm.size());
  if (idle > keep_warm) {
    auto k = static_cast<std::ptrdiff_t>(idle - keep_warm);
    going_cold.assign(sg.warm.begin(), sg.warm.begin() + k);
    sg.warm.erase(sg.warm.begin(), sg.warm.begin() + k);
  }
  sg.low_water = sg.warm.size();
  return going_cold;
}

void release_idle(stack_globals& sg, std::vector<stack_slot>& going_cold) noexcept {
  if (going_cold.empty()) return;
  release_memory(sg, going_cold.data(), going_cold.size());
  std::lock_guard lock(sg.pool_mutex);
  sg.cold.insert(sg.cold.end(), going_cold.begin(), going_cold.end());
}

}  // namespace

void stack_free(stack_slot* slots, std::size_t n) noexcept {
  stack_globals& sg = globals();
  std::vector<stack_slot> going_cold;
  {
    std::lock_guard lock(sg.pool_mutex);
    for (std::size_t i = 0; i < n; ++i) {
      san::tsan_release(slots[i].base);
      sg.warm.push_back(slots[i]);
    }
    going_cold = take_idle_slots(sg);
  }
  release_idle(sg, going_cold);
}

void stack_scavenge() noexcept {
  stack_globals& sg = globals();
  std::vector<stack_slot> going_cold;
  {
    std::lock_guard lock(sg.pool_mutex);
    going_cold = take_idle_slots(sg);
  }
  release_idle(sg, going_cold);
}

void stack_register_for_leak_check() noexcept {
#if defined(GORO_ASAN)
  // Goroutines still parked at exit hold pointers on their stacks, which
  // LeakSanitizer does not scan. Register the resident pages of every stack
  // slot as root regions (only resident pages: scanning untouched ones would
  // cost, and guard pages are never resident).
  stack_globals& sg = globals();
  std::lock_guard lock(sg.pool_mutex);
  std::vector<unsigned char> residency(sg.slot_size / page);
  for (char* region : sg.regions) {
    std::size_t used = region == sg.region ? sg.region_used : slots_per_region;
    for (std::size_t i = 0; i < used; ++i) {
      char* lo = region + i * sg.slot_size + page;
      std::size_t n = (sg.slot_size - page) / page;
      if (mincore(lo, n * page, residency.data()) != 0) continue;
      std::size_t k = 0;
      while (k < n) {
        if (!(residency[k] & 1)) {
          ++k;
          continue;
        }
        std::size_t j = k;
        while (j < n && (residency[j] & 1)) ++j;
        san::lsan_register_root(lo + k * page, (j - k) * page);
        k = j;
      }
    }
  }
#endif
}

void stack_install_overflow_handler() noexcept {
  struct sigaction sa;
  std::memset(&sa, 0, sizeof sa);
  sa.sa_sigaction = &on_fault;
  sa.sa_flags = SA_SIGINFO | SA_ONSTACK;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGSEGV, &sa, &old_segv);
  sigaction(SIGBUS, &sa, &old_bus);
}

void stack_install_signal_stack() noexcept {
  // Never freed: the thread keeps it for life.
  constexpr std::size_t size = 64 * 1024;
  void* mem = mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (mem == MAP_FAILED) return;
  stack_t ss;
  ss.ss_sp = mem;
  ss.ss_size = size;
  ss.ss_flags = 0;
  sigaltstack(&ss, nullptr);
}

void stack_overflow_abort(std::uint64_t goroutine_id, const char* file, std::uint32_t line) noexcept {
  write_str("goro: fatal error: stack overflow in goroutine ");
  write_u64(goroutine_id);
  write_str(" (stack ");
  write_u64(globals().slot_size - page);
  write_str(" bytes; set GORO_STACK_SIZE for more), started at ");
  write_str(file != nullptr ? file : "?");
  write_str(":");
  write_u64(line);
  write_str("\n");
  signal(SIGABRT, SIG_DFL);
  std::abort();
}

}  // namespace goro::detail
