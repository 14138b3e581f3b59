// src/runtime/timers.cpp: see timers.hpp for the invariants.
#include "runtime/timers.hpp"

#include "runtime/bubble.hpp"
#include "runtime/platform.hpp"
#include "runtime/processor.hpp"

namespace goro::detail {
namespace {

constexpr std::size_t arity = 4;

// ---- 4-ary min-heap on when; every move keeps node->index current. Heap lock held.

void place(timer_heap& h, std::size_t i, timer_node* n) noexcept {
  h.nodes[i] = n;
  n->index = static_cast<std::uint32_t>(i);
}

void sift_up(timer_heap& h, std::size_t i) noexcept {
  timer_node* n = h.nodes[i];
  while (i > 0) {
    std::size_t parent = (i - 1) / arity;
    if (h.nodes[parent]->when <= n->when) break;
    place(h, i, h.nodes[parent]);
    i = parent;
  }
  place(h, i, n);
}

void sift_down(timer_heap& h, std::size_t i) noexcept {
  timer_node* n = h.nodes[i];
  std::size_t size = h.nodes.size();
  for (;;) {
    std::size_t first = i * arity + 1;
    if (first >= size) break;
    std::size_t best = first;
    std::size_t last = first + arity < size ? first + arity : size;
    for (std::size_t c = first + 1; c < last; ++c) {
      if (h.nodes[c]->when < h.nodes[best]->when) best = c;
    }
    if (n->when <= h.nodes[best]->when) break;
    place(h, i, h.nodes[best]);
    i = best;
  }
  place(h, i, n);
}

void publish_earliest(timer_heap& h) noexcept {
  h.earliest.store(h.nodes.empty() ? 0 : h.nodes[0]->when, std::memory_order_relaxed);
}

void erase_at(timer_heap& h, std::size_t i) noexcept {
  timer_node* last = h.nodes.back();
  h.nodes.pop_back();
  if (i < h.nodes.size()) {
    place(h, i, last);
    sift_down(h, i);
    sift_up(h, last->index);
  }
}

}  // namespace

namespace {

// Inserts node into h. h's lock held.
void insert(timer_heap& h, timer_node* node) noexcept {
  h.nodes.push_back(node);
  node->index = static_cast<std::uint32_t>(h.nodes.size() - 1);
  sift_up(h, node->index);
  node->heap.store(&h, std::memory_order_release);
}

}  // namespace

namespace {

// The heap timer_add puts a node on when not in a bubble.
timer_heap& processor_heap() noexcept {
  processor* p = current_processor();
  // A processor beyond gomaxprocs runs no scheduler: its heap would be
  // checked only by idle workers.
  if (p == nullptr || p->id >= sched().maxprocs.load(std::memory_order_relaxed)) {
    p = sched().procs[0].load(std::memory_order_acquire);
  }
  return p->timers;
}

}  // namespace

void timer_add(timer_node* node, std::int64_t when, bool bubbled) {
  runtime_start();
  // A bubble's heap is run only by its driver, once every member is
  // blocked: no worker needs waking for it.
  goroutine* g = bubbled ? current_goroutine() : nullptr;
  bubble_state* b = g != nullptr ? g->bubble.load(std::memory_order_relaxed) : nullptr;
  timer_heap& h = b != nullptr ? b->timers : processor_heap();
  if (when <= 0) when = 1;  // 0 means "empty" in heap.earliest
  bool became_first;
  {
    runtime_lock_guard lock(h.lock);
    node->when = when;
    node->inflight.store(false, std::memory_order_relaxed);
    insert(h, node);
    became_first = h.nodes[0] == node;
    if (became_first) publish_earliest(h);
  }
  // An idle worker may be sleeping until a later deadline: let one look again.
  if (became_first && b == nullptr) wakep();
}

bool timer_remove(timer_node* node) noexcept {
  for (;;) {
    timer_heap* h = node->heap.load(std::memory_order_acquire);
    if (h == nullptr) {
      if (node->moving.load(std::memory_order_acquire)) {
        cpu_relax();  // timer_move_all() is carrying it to another heap
        continue;
      }
      // Not moving now: unarmed, unless a move finished since we looked.
      if (node->heap.load(std::memory_order_acquire) == nullptr) return false;
      continue;
    }
    runtime_lock_guard lock(h->lock);
    if (node->heap.load(std::memory_order_relaxed) != h) continue;  // moved meanwhile
    erase_at(*h, node->index);
    node->heap.store(nullptr, std::memory_order_release);
    publish_earliest(*h);
    return true;
  }
}

void timer_move_all(timer_heap& from, timer_heap& to, std::int64_t shift) noexcept {
  // One node at a time, never holding both locks: a concurrent
  // timer_remove() finds the node in one heap or the other (it re-checks
  // node->heap under the lock it took).
  for (;;) {
    timer_node* n;
    {
      runtime_lock_guard lock(from.lock);
      if (from.nodes.empty()) return;
      n = from.nodes.back();
      from.nodes.pop_back();
      // Between the two locks the node is in no heap, but armed: it is not
      // lost, and a remover spinning on node->heap waits for the move.
      n->moving.store(true, std::memory_order_relaxed);
      n->heap.store(nullptr, std::memory_order_release);  // after `moving`: see timer_remove
      publish_earliest(from);
    }
    bool became_first;
    {
      runtime_lock_guard lock(to.lock);
      // INT64_MAX ("never") stays; shift may be negative (a bubble's clock
      // ran ahead of the real one), and no deadline is before the virtual now.
      if (shift != 0 && n->when != INT64_MAX) {
        n->when = shift > 0 && n->when > INT64_MAX - shift ? INT64_MAX : n->when + shift;
        if (n->when <= 0) n->when = 1;
      }
      insert(to, n);
      n->moving.store(false, std::memory_order_release);
      became_first = to.nodes[0] == n;
      if (became_first) publish_earliest(to);
    }
    if (became_first) wakep();
  }
}

void timer_adopt_all(timer_heap& from, std::int64_t shift) noexcept { timer_move_all(from, processor_heap(), shift); }

int timer_run_due(timer_heap& h, std::int64_t now) noexcept {
  int fired = 0;
  for (;;) {
    timer_node* n;
    std::uint64_t seq;
    {
      runtime_lock_guard lock(h.lock);
      if (h.nodes.empty() || h.nodes[0]->when > now) {
        publish_earliest(h);
        return fired;
      }
      n = h.nodes[0];
      seq = n->seq;
      if (n->period > 0) {
        // Re-arm; ticks missed while nobody ran timers are dropped, as Go's
        // ticker drops them. The heap keeps its reference; fire() gets one.
        n->when += n->period;
        if (n->when <= now) n->when = now + n->period;
        sift_down(h, 0);
        if (n->retain != nullptr) n->retain(n);
      } else {
        // Disarmed: the heap's reference passes to fire(). inflight first,
        // then heap with release: a timer_remove() that sees heap == null
        // also sees inflight, and everything read above (seq, period).
        erase_at(h, 0);
        n->inflight.store(true, std::memory_order_relaxed);
        n->heap.store(nullptr, std::memory_order_release);
      }
      publish_earliest(h);
    }
    n->fire(n, seq);
    ++fired;
  }
}

}  // namespace goro::detail
