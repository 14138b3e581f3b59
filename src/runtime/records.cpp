// src/runtime/records.cpp: see records.hpp.
//
// Invariants:
//  - A free record is a free_node (its first bytes link it); it is on exactly
//    one list: a processor's cache or the global list.
//  - The global list and the chunk being carved are guarded by global_mutex.
//  - A processor's cache holds at most cache_max records; beyond that a
//    batch moves to the global list.
#include "runtime/records.hpp"

#include <sys/mman.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <new>

#include "runtime/goroutine.hpp"
#include "runtime/sanitizers.hpp"

namespace goro::detail {
namespace {

struct free_node {
  free_node* next;
};

constexpr std::size_t record_size = (sizeof(goroutine) + alignof(goroutine) - 1) & ~(alignof(goroutine) - 1);
constexpr std::size_t chunk_size = std::size_t{4} << 20;
constexpr std::uint32_t batch = 128;
constexpr std::uint32_t cache_max = 4 * batch;

struct record_globals {
  std::mutex mutex;
  // Guarded by mutex:
  free_node* free_head = nullptr;
  char* chunk = nullptr;
  char* chunk_end = nullptr;
};

record_globals& globals() noexcept {
  static record_globals* g = new record_globals;  // never destroyed
  return *g;
}

// One record from the global list or a fresh chunk. mutex held.
free_node* take_global(record_globals& rg) {
  if (free_node* n = rg.free_head) {
    rg.free_head = n->next;
    return n;
  }
  if (rg.chunk == nullptr || rg.chunk_end - rg.chunk < static_cast<std::ptrdiff_t>(record_size)) {
    void* mem = mmap(nullptr, chunk_size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
    if (mem == MAP_FAILED) throw std::bad_alloc();
    rg.chunk = static_cast<char*>(mem);
    rg.chunk_end = rg.chunk + chunk_size;
  }
  auto* n = reinterpret_cast<free_node*>(rg.chunk);
  rg.chunk += record_size;
  return n;
}

void push(record_cache* c, free_node* n) noexcept {
  n->next = static_cast<free_node*>(c->head.load(std::memory_order_relaxed));
  // The cache is used by fibers of one worker, which TSan does not order
  // (no_sync switches): hand n->next over explicitly.
  san::tsan_release(n);
  c->head.store(n, std::memory_order_relaxed);
  c->count.store(c->count.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
}

free_node* pop(record_cache* c) noexcept {
  auto* n = static_cast<free_node*>(c->head.load(std::memory_order_relaxed));
  if (n == nullptr) return nullptr;
  san::tsan_acquire(n);  // see push()
  c->head.store(n->next, std::memory_order_relaxed);
  c->count.store(c->count.load(std::memory_order_relaxed) - 1, std::memory_order_relaxed);
  return n;
}

}  // namespace

goroutine* record_alloc(record_cache* c) {
  free_node* n = c != nullptr ? pop(c) : nullptr;
  if (n == nullptr) {
    record_globals& rg = globals();
    std::lock_guard lock(rg.mutex);
    n = take_global(rg);
    // Refill the cache with a batch, so the next allocations take no lock.
    for (std::uint32_t i = 1; c != nullptr && i < batch; ++i) push(c, take_global(rg));
  }
  san::tsan_acquire(n);
  return ::new (static_cast<void*>(n)) goroutine;
}

void record_free(record_cache* c, goroutine* g) noexcept {
  g->~goroutine();
  auto* n = ::new (static_cast<void*>(g)) free_node{nullptr};
  san::tsan_release(n);
  if (c != nullptr) {
    push(c, n);
    if (c->count.load(std::memory_order_relaxed) <= cache_max) return;
    // Spill a batch to the global list.
    free_node* first = nullptr;
    free_node* last = nullptr;
    for (std::uint32_t i = 0; i < batch; ++i) {
      free_node* m = pop(c);
      m->next = first;
      if (last == nullptr) last = m;
      first = m;
    }
    record_globals& rg = globals();
    std::lock_guard lock(rg.mutex);
    last->next = rg.free_head;
    rg.free_head = first;
    return;
  }
  record_globals& rg = globals();
  std::lock_guard lock(rg.mutex);
  n->next = rg.free_head;
  rg.free_head = n;
}

}  // namespace goro::detail
