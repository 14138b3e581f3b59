// src/runtime/records.cpp: see records.hpp.
//
// Invariants:
//  - A free record is a free_node (its first bytes link it); it is on exactly
//    one list: a processor's cache or a batch of the global stack.
//  - The global stack of batches and the chunk being carved are guarded by
//    record_globals::mutex. A batch is a list of free nodes linked by next
//    (the last one's next is null); its first node holds the batch's length
//    and the link to the next batch.
//  - A processor's cache holds at most cache_max records; beyond that a
//    batch moves to the global stack, whole, and an empty cache takes a
//    whole batch back. Neither walks a batch under the mutex: the records
//    were last written on another core, so each would be a cache miss with
//    the mutex held (a refill walking 128 of them was 13% of spawn/2).
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
  // In a batch's first node only: the next batch and this one's length.
  free_node* next_batch;
  std::uint32_t length;
};

constexpr std::size_t record_size = (sizeof(goroutine) + alignof(goroutine) - 1) & ~(alignof(goroutine) - 1);
constexpr std::size_t chunk_size = std::size_t{4} << 20;
constexpr std::uint32_t batch = 128;
constexpr std::uint32_t cache_max = 4 * batch;

struct record_globals {
  std::mutex mutex;
  // Guarded by mutex:
  free_node* batches = nullptr;  // the stack of batches
  char* chunk = nullptr;
  char* chunk_end = nullptr;
};

record_globals& globals() noexcept {
  static record_globals* g = new record_globals;  // never destroyed
  return *g;
}

// Pushes the batch first..(length nodes). mutex held.
void push_batch(record_globals& rg, free_node* first, std::uint32_t length) noexcept {
  first->next_batch = rg.batches;
  first->length = length;
  rg.batches = first;
}

// Takes the top batch whole; returns its first node and sets length. mutex held.
free_node* pop_batch(record_globals& rg, std::uint32_t& length) noexcept {
  free_node* b = rg.batches;
  if (b != nullptr) {
    rg.batches = b->next_batch;
    length = b->length;
  }
  return b;
}

// A fresh record from the chunk being carved. mutex held.
free_node* carve(record_globals& rg) {
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

// One record from the top batch (the rest stays a batch) or a fresh chunk.
// For a plain thread, which has no cache. mutex held.
free_node* take_one(record_globals& rg) {
  std::uint32_t length = 0;
  if (free_node* b = pop_batch(rg, length)) {
    if (b->next != nullptr) push_batch(rg, b->next, length - 1);
    return b;
  }
  return carve(rg);
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
  free_node* n = nullptr;
  if (c == nullptr) {
    record_globals& rg = globals();
    std::lock_guard lock(rg.mutex);
    n = take_one(rg);
  } else if ((n = pop(c)) == nullptr) {
    // The cache is empty: refill it with a batch, so that the next
    // allocations take no lock. A batch from the stack is taken whole.
    record_globals& rg = globals();
    std::uint32_t length = 0;
    {
      std::lock_guard lock(rg.mutex);
      n = pop_batch(rg, length);
      if (n == nullptr) {
        n = carve(rg);
        for (std::uint32_t i = 1; i < batch; ++i) push(c, carve(rg));
      }
    }
    if (length != 0) {
      // Its nodes were released after linking (record_free), and the mutex
      // orders that before us: pop() may acquire each of them as usual.
      san::tsan_acquire(n);
      c->head.store(n->next, std::memory_order_relaxed);
      c->count.store(length - 1, std::memory_order_relaxed);
    }
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
    // Spill a batch to the global stack, linked here, outside the mutex.
    free_node* first = nullptr;
    for (std::uint32_t i = 0; i < batch; ++i) {
      free_node* m = pop(c);
      m->next = first;
      san::tsan_release(m);  // for the fibers that will pop it from another cache
      first = m;
    }
    record_globals& rg = globals();
    std::lock_guard lock(rg.mutex);
    push_batch(rg, first, batch);
    return;
  }
  record_globals& rg = globals();
  std::lock_guard lock(rg.mutex);
  n->next = nullptr;
  push_batch(rg, n, 1);
}

}  // namespace goro::detail
