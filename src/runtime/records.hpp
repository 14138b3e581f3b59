// src/runtime/records.hpp: where pending goroutine records live.
//
// go() makes a record (runtime/goroutine.hpp) before the goroutine has a
// stack; a spawn storm keeps a million of them alive at once. malloc serves
// that badly (a worker's arena grows a few pages at a time, mprotect by
// mprotect), so records come from 4 MiB chunks mapped pre-faulted and are
// recycled through per-processor free lists, spilling to a global one.
// Record memory is reused, never returned to the system.
#pragma once

#include <atomic>
#include <cstdint>

namespace goro::detail {

struct goroutine;

/// A processor's free records. Touched only by code running on that
/// processor (several fibers: relaxed atomics, see local_cache).
struct record_cache {
  std::atomic<void*> head{nullptr};
  std::atomic<std::uint32_t> count{0};
};

/// A default-constructed goroutine record. cache may be null (a plain thread).
goroutine* record_alloc(record_cache* cache);
/// Destroys and recycles a record. cache may be null.
void record_free(record_cache* cache, goroutine* g) noexcept;

}  // namespace goro::detail
