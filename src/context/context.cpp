// src/context/context.cpp: Go's context package (goro/context.hpp).
//
// Nodes. Every context is a counted ctx_node; a node holds a counted
// reference to its parent, so values and deadlines are read up an immutable
// chain. Cancellable nodes (cancel_node and its kinds: deadline, after_func,
// stop_token) also hang in the children list of their *anchor*, the nearest
// cancellable ancestor, found once from the immutable chain (a value node is
// skipped over; without_cancel, background and todo end the search).
//
// Locks: each cancel_node has a goro::mutex `mu` guarding its done channel's
// creation, its cause and its children list; the `linked` flag and sibling
// links of a linked child are guarded by its anchor's mu (a detached child's
// belong to the cancel that detached it). No two mu are ever held at once:
// a cancel detaches a node's children under its lock and cancels them after
// releasing it; a child unlinking itself takes its anchor's mu only after
// releasing its own. No mu is ever taken on a worker's own context: a deadline firing
// starts a goroutine that cancels (timer callbacks must not block).
//
// References: the anchor's children list holds one on each linked child
// (dropped when the child is unlinked, never while a mu is held: dropping
// the last one destroys a node, and a stop_token node's destructor may wait
// for its callback, which may want that mu); an armed deadline timer holds
// one, passed to the goroutine its firing starts; cancel_func holds one.
//
// Handles. Of those references, the ones that can observe the node are
// counted again in `handles`: context and cancel_func handles, and each
// child's reference to its parent. The list's and the timer's are not. When
// the last handle goes, nobody can see the node's cancellation any more
// (unless they hold its done channel), so it leaves its anchor: an
// uncancelled child of a long-lived parent is freed when dropped, as Go's
// garbage collector would free it.
//
// err: written once, under mu, with release; read anywhere with acquire,
// so whoever sees it also sees the done channel closed and the cause set.
#include "goro/context.hpp"

#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <new>
#include <string>

#include "chan/chan_impl.hpp"
#include "goro/detail/chan_core.hpp"
#include "goro/detail/runtime_core.hpp"
#include "goro/select.hpp"
#include "goro/sync.hpp"
#include "runtime/bubble.hpp"
#include "runtime/platform.hpp"
#include "runtime/timers.hpp"

namespace goro {

// ---- error category ------------------------------------------------------------

namespace {

class context_category_impl final : public std::error_category {
 public:
  const char* name() const noexcept override { return "goro.context"; }
  std::string message(int ev) const override {
    switch (static_cast<errc>(ev)) {
      case errc::canceled:
        return "context canceled";
      case errc::deadline_exceeded:
        return "context deadline exceeded";
    }
    return "unknown context error";
  }
  std::error_condition default_error_condition(int ev) const noexcept override {
    switch (static_cast<errc>(ev)) {
      case errc::canceled:
        return std::make_error_condition(std::errc::operation_canceled);
      case errc::deadline_exceeded:
        return std::make_error_condition(std::errc::timed_out);
    }
    return std::error_condition(ev, *this);
  }
};

}  // namespace

const std::error_category& context_category() noexcept {
  static const context_category_impl category;
  return category;
}

// ---- nodes -----------------------------------------------------------------------

namespace detail {

enum class ctx_kind : std::uint8_t { root, cancel, value, without_cancel };

struct ctx_node {
  // refs: the non-observing references (list, timer), plus one for all the
  // handles together while there are any; the node is freed at 0.
  std::atomic<std::int64_t> refs{1};
  std::atomic<std::int64_t> handles{1};  // the observing references (see "Handles" above)
  ctx_kind kind;
  bool immortal = false;          // background and todo: never counted, never freed
  ctx_node* parent = nullptr;     // counted; null for roots
  std::int64_t deadline = 0;      // nanotime(); 0: none. Immutable.

  explicit ctx_node(ctx_kind k) noexcept : kind(k) {}
  virtual ~ctx_node() = default;  // ctx_release drops parent, iteratively
};

struct cancel_node : ctx_node {
  mutex mu;
  std::atomic<chan_core*> done{nullptr};  // created lazily under mu; never replaced
  std::atomic<int> err{0};                // errc, or 0; see the header comment
  std::error_code cause;                  // written once, before err; immutable once err is set
  cancel_node* children = nullptr;        // guarded by mu
  // Guarded by anchor->mu:
  bool linked = false;
  cancel_node* sib_prev = nullptr;
  cancel_node* sib_next = nullptr;
  cancel_node* anchor = nullptr;  // immutable once linked; an ancestor (kept alive by parent refs)

  cancel_node() noexcept : ctx_node(ctx_kind::cancel) {}
  ~cancel_node() override {
    if (chan_core* c = done.load(std::memory_order_relaxed)) chan_release(c);
  }
  /// Called under mu, once, right after the node is cancelled.
  virtual void on_cancel() noexcept {}
  /// Whether the node may leave its anchor once nobody observes it: not an
  /// after_func node, whose function must still run on cancel.
  virtual bool leaves_when_unobserved() const noexcept { return true; }
  /// Called under mu when the node leaves its anchor unobserved.
  virtual void on_abandon() noexcept {}
};

struct value_node final : ctx_node {
  const void* key;
  ctx_value_holder* holder;
  value_node(const void* k, ctx_value_holder* h) noexcept : ctx_node(ctx_kind::value), key(k), holder(h) {}
  ~value_node() override { delete holder; }
};

namespace {

void unobserved(ctx_node* n) noexcept;

// Both counters drop with a plain load when it reads 1: we hold that last
// reference, and taking a new one requires holding one, so nobody can.

/// Drops one reference to n (a handle if `handle`), then frees what nobody
/// references any more, up the parent chain, iteratively.
void drop(ctx_node* n, bool handle) noexcept {
  while (n != nullptr && !n->immortal) {
    if (handle) {
      if (n->handles.load(std::memory_order_acquire) != 1 &&
          n->handles.fetch_sub(1, std::memory_order_acq_rel) != 1) {
        return;
      }
      // The last handle: the handles' shared reference keeps n alive here.
      unobserved(n);
    }
    if (n->refs.load(std::memory_order_acquire) != 1 && n->refs.fetch_sub(1, std::memory_order_acq_rel) != 1) {
      return;
    }
    ctx_node* parent = n->parent;
    delete n;
    n = parent;
    handle = true;  // a node's reference to its parent is a handle
  }
}

/// A reference that observes nothing: the anchor's list's and the timer's.
void hold(ctx_node* n) noexcept { n->refs.fetch_add(1, std::memory_order_relaxed); }
void unhold(ctx_node* n) noexcept { drop(n, false); }

}  // namespace

void ctx_retain(ctx_node* n) noexcept {
  if (!n->immortal) n->handles.fetch_add(1, std::memory_order_relaxed);
}

void ctx_release(ctx_node* n) noexcept { drop(n, true); }

namespace {

ctx_node* make_root() {
  auto* n = new ctx_node(ctx_kind::root);
  n->immortal = true;
  return n;
}

ctx_node* background_node() noexcept {
  static ctx_node* const n = make_root();  // never freed: contexts may outlive statics
  return n;
}
ctx_node* todo_node() noexcept {
  static ctx_node* const n = make_root();
  return n;
}

/// The nearest cancellable node at or above n, or null.
cancel_node* cancellable(ctx_node* n) noexcept {
  while (n != nullptr) {
    switch (n->kind) {
      case ctx_kind::cancel:
        return static_cast<cancel_node*>(n);
      case ctx_kind::value:
        n = n->parent;
        break;
      case ctx_kind::root:
      case ctx_kind::without_cancel:
        return nullptr;
    }
  }
  return nullptr;
}

void unlink_from_anchor(cancel_node* c) noexcept;
/// Under c->mu: marks c cancelled, closes its done channel, runs its hook,
/// and detaches its children (whose list references pass to the caller, as
/// a list through sib_next ending at *tail). False if c was cancelled already.
bool mark_cancelled(cancel_node* c, errc e, const std::error_code& why, cancel_node** kids,
                    cancel_node** tail) noexcept {
  std::lock_guard lock(c->mu);
  if (c->err.load(std::memory_order_relaxed) != 0) return false;
  c->cause = why;
  c->err.store(static_cast<int>(e), std::memory_order_release);
  if (chan_core* d = c->done.load(std::memory_order_relaxed)) chan_close(d);
  *kids = c->children;
  *tail = nullptr;
  c->children = nullptr;
  for (cancel_node* k = *kids; k != nullptr; k = k->sib_next) {
    k->linked = false;  // guarded by our mu, which we hold
    k->sib_prev = nullptr;
    *tail = k;
  }
  c->on_cancel();
  return true;
}

/// Cancels c and everything below it. remove: also unlink c from its anchor
/// (a cancel that starts at c). Once c is marked, nothing can link under it
/// (attach sees err), so the detached subtree is cancelled after c's lock is
/// released, iteratively: a deep tree costs no stack. Observers may see a
/// parent cancelled a moment before its children, as in Go.
void cancel(cancel_node* c, bool remove, errc e, std::error_code why) noexcept {
  if (!why) why = make_error_code(e);
  cancel_node* work;
  cancel_node* tail;
  if (!mark_cancelled(c, e, why, &work, &tail)) return;
  // work: detached nodes whose list references we own, linked through sib_next.
  while (work != nullptr) {
    cancel_node* k = work;
    work = k->sib_next;
    k->sib_next = nullptr;
    cancel_node* grandkids;
    if (mark_cancelled(k, e, why, &grandkids, &tail) && grandkids != nullptr) {
      tail->sib_next = work;
      work = grandkids;
    }
    unhold(k);  // the list's, with no lock held (see the header comment)
  }
  if (remove) unlink_from_anchor(c);
}

void unlink_from_anchor(cancel_node* c) noexcept {
  cancel_node* a = c->anchor;
  if (a == nullptr) return;
  {
    std::lock_guard lock(a->mu);
    if (!c->linked) return;
    c->linked = false;
    if (c->sib_prev != nullptr) {
      c->sib_prev->sib_next = c->sib_next;
    } else {
      a->children = c->sib_next;
    }
    if (c->sib_next != nullptr) c->sib_next->sib_prev = c->sib_prev;
    c->sib_prev = c->sib_next = nullptr;
  }
  unhold(c);  // the list's reference; the caller still holds one
}

/// The last handle to n is gone: nobody can read its err(), take its done
/// channel, cancel it or derive from it. If nobody holds its done channel
/// either, its cancellation can never be seen: it leaves its anchor (and
/// stops its timer), so that it is freed instead of staying until the anchor
/// is cancelled. (Go's garbage collector frees such a node, and its parent
/// with it if that is unreachable too.)
void unobserved(ctx_node* n) noexcept {
  if (n->kind != ctx_kind::cancel) return;
  auto* c = static_cast<cancel_node*>(n);
  // Cancelled: it has left its anchor, or whoever cancelled it is unlinking
  // it (err never goes back to 0). No lock needed.
  if (c->err.load(std::memory_order_acquire) != 0) return;
  if (!c->leaves_when_unobserved()) return;
  {
    std::lock_guard lock(c->mu);
    if (c->err.load(std::memory_order_relaxed) != 0) return;  // cancelled: already left
    chan_core* d = c->done.load(std::memory_order_relaxed);
    // Only the node's own reference: nobody else can get one now.
    if (d != nullptr && d->refs.load(std::memory_order_acquire) > 1) return;
    c->on_abandon();
  }
  unlink_from_anchor(c);
}

/// Marks c, which no other thread can reach yet, cancelled: no lock, no
/// done channel or children to deal with.
void cancel_private(cancel_node* c, errc e, const std::error_code& why) noexcept {
  c->cause = why;
  c->err.store(static_cast<int>(e), std::memory_order_release);
  c->on_cancel();
}

/// Sets c's parent and links c under its anchor (Go's propagateCancel). If
/// the anchor is cancelled already, cancels c. c is not yet visible to any
/// other thread.
void attach(cancel_node* c, ctx_node* parent) {
  ctx_retain(parent);
  c->parent = parent;
  c->deadline = parent->deadline;
  cancel_node* a = cancellable(parent);
  if (a == nullptr) return;  // nothing above can ever cancel c
  c->anchor = a;
  // Cancelled already: cause was written before err's release and never
  // changes after, so it is read without the lock.
  if (int ae = a->err.load(std::memory_order_acquire); ae != 0) {
    cancel_private(c, static_cast<errc>(ae), a->cause);
    return;
  }
  {
    std::lock_guard lock(a->mu);
    if (int ae = a->err.load(std::memory_order_relaxed); ae != 0) {
      cancel_private(c, static_cast<errc>(ae), a->cause);
      return;
    }
    c->refs.store(c->refs.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);  // the list's; c is private
    c->linked = true;
    c->sib_next = a->children;
    if (a->children != nullptr) a->children->sib_prev = c;
    a->children = c;
  }
}

// ---- deadline ----------------------------------------------------------------------

struct deadline_node final : cancel_node {
  timer_node tn;
  std::error_code deadline_cause;  // immutable
  source_location where{"(context deadline)", "", 0};

  void on_cancel() noexcept override {
    if (timer_remove(&tn)) unhold(this);  // the timer's reference; the caller holds another
  }
  void on_abandon() noexcept override { on_cancel(); }
};

void deadline_fire(timer_node* n, std::uint64_t) noexcept {
  auto* d = static_cast<deadline_node*>(n->owner);
  // The timer's reference passes to the goroutine; cancelling takes d->mu,
  // which a timer callback must not wait for.
  struct expire {
    deadline_node* d;
    void operator()() const {
      cancel(d, true, errc::deadline_exceeded, d->deadline_cause);
      unhold(d);
    }
  };
  try {
    spawn(d->where, expire{d});
  } catch (...) {
    std::fprintf(stderr, "goro: fatal error: out of memory starting a context deadline goroutine\n");
    std::abort();
  }
}

std::int64_t to_nanotime(time_point t) noexcept {
  auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch()).count();
  return ns <= 0 ? 1 : ns;
}

// ---- after_func --------------------------------------------------------------------

struct after_func_node final : cancel_node {
  std::function<void()> fn;
  std::atomic<bool> once{false};  // set by whichever of stop() and the cancel comes first

  bool leaves_when_unobserved() const noexcept override { return false; }
  void on_cancel() noexcept override {
    if (once.exchange(true, std::memory_order_acq_rel)) return;  // stopped
    try {
      spawn(source_location{"(context after_func)", "", 0}, std::move(fn));
    } catch (...) {
      std::fprintf(stderr, "goro: fatal error: out of memory starting a context after_func goroutine\n");
      std::abort();
    }
  }
};

// ---- stop_token ----------------------------------------------------------------------

struct stop_token_node final : cancel_node {
  struct on_stop {
    stop_token_node* n;
    void operator()() const noexcept { cancel(n, true, errc::canceled, {}); }
  };
  // Destroyed first (members before the base): its destructor waits for a
  // callback running on another thread, which still uses the base.
  std::optional<std::stop_callback<on_stop>> callback;
};

}  // namespace

}  // namespace detail

// ---- the public API --------------------------------------------------------------------

struct detail_context_access {
  // A moved-from context is the background context.
  static detail::ctx_node* node(const context& c) noexcept { return c.n_ ? c.n_ : detail::background_node(); }
  static context adopt(detail::ctx_node* n) noexcept { return context(n); }
  /// A cancel_func for n, just made: only its creator holds handles to it
  /// (the anchor's list holds refs, never handles), so the count is
  /// raised with a plain store instead of an RMW.
  static cancel_func canceller(detail::ctx_node* n) noexcept {
    n->handles.store(n->handles.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
    return cancel_func(n);
  }
};

namespace {

using detail::cancel_node;
using detail::ctx_node;
using access = detail_context_access;

std::pair<context, cancel_func> adopt_pair(cancel_node* c) noexcept {
  cancel_func f = access::canceller(c);
  return {access::adopt(c), std::move(f)};
}

}  // namespace

context::context() noexcept : n_(detail::background_node()) {}

context background() noexcept { return context(); }
context todo() noexcept { return access::adopt(detail::todo_node()); }

recv_chan<std::monostate> context::done() const {
  cancel_node* c = detail::cancellable(n_);
  if (c == nullptr) return {};  // never cancelled: the nil channel
  detail::chan_core* d = c->done.load(std::memory_order_acquire);
  if (d == nullptr) {
    std::lock_guard lock(c->mu);
    d = c->done.load(std::memory_order_relaxed);
    if (d == nullptr) {
      d = detail::chan_make(&detail::elem_ops_for<std::monostate>, 0);
      if (c->err.load(std::memory_order_relaxed) != 0) detail::chan_close(d);
      c->done.store(d, std::memory_order_release);
    }
  }
  detail::chan_retain(d);
  return detail::chan_access::adopt<std::monostate>(d);
}

std::error_code context::err() const noexcept {
  cancel_node* c = detail::cancellable(n_);
  if (c == nullptr) return {};
  int e = c->err.load(std::memory_order_acquire);
  if (e == 0) return {};
  return make_error_code(static_cast<errc>(e));
}

std::optional<time_point> context::deadline() const noexcept {
  if (n_ == nullptr || n_->deadline == 0) return std::nullopt;
  return time_point(std::chrono::nanoseconds(n_->deadline));
}

const void* context::value_of(const void* key) const noexcept {
  for (ctx_node* n = n_; n != nullptr; n = n->parent) {
    if (n->kind == detail::ctx_kind::value) {
      auto* v = static_cast<detail::value_node*>(n);
      if (v->key == key) return v->holder->value;
    }
  }
  return nullptr;
}

void cancel_func::operator()(std::error_code why) const noexcept {
  if (n_ == nullptr) return;
  detail::cancel(static_cast<cancel_node*>(n_), true, errc::canceled, why);
}

std::pair<context, cancel_func> with_cancel(const context& parent) {
  auto* c = new cancel_node;
  detail::attach(c, access::node(parent));
  return adopt_pair(c);
}

std::pair<context, cancel_func> with_cancel_cause(const context& parent) { return with_cancel(parent); }

std::pair<context, cancel_func> with_deadline_cause(const context& parent, time_point d, std::error_code why) {
  ctx_node* p = access::node(parent);
  std::int64_t when = detail::to_nanotime(d);
  // The parent's deadline comes first: this one could never fire.
  if (p->deadline != 0 && p->deadline <= when) return with_cancel(parent);
  auto* c = new detail::deadline_node;
  c->tn.owner = c;
  c->tn.fire = &detail::deadline_fire;
  c->deadline_cause = why;
  detail::attach(c, p);
  c->deadline = when;
  if (when <= detail::clock_now()) {  // a bubble's clock in a bubble
    detail::cancel(c, true, errc::deadline_exceeded, why);
    return adopt_pair(c);
  }
  {
    std::lock_guard lock(c->mu);
    if (c->err.load(std::memory_order_relaxed) == 0) {
      detail::hold(c);  // the timer's
      detail::timer_add(&c->tn, when);
    }
  }
  return adopt_pair(c);
}

std::pair<context, cancel_func> with_deadline(const context& parent, time_point d) {
  return with_deadline_cause(parent, d, {});
}

std::error_code cause(const context& ctx) {
  cancel_node* c = detail::cancellable(access::node(ctx));
  if (c == nullptr || c->err.load(std::memory_order_acquire) == 0) return {};
  return c->cause;  // immutable once err is set (see cancel_node)
}

namespace detail {

context ctx_with_value(const context& parent, const void* key, ctx_value_holder* holder) {
  value_node* n;
  try {
    n = new value_node(key, holder);
  } catch (...) {
    delete holder;
    throw;
  }
  ctx_node* p = access::node(parent);
  ctx_retain(p);
  n->parent = p;
  n->deadline = p->deadline;
  return access::adopt(n);
}

}  // namespace detail

context without_cancel(const context& parent) {
  auto* n = new ctx_node(detail::ctx_kind::without_cancel);
  ctx_node* p = access::node(parent);
  detail::ctx_retain(p);
  n->parent = p;  // values only: no deadline, never cancelled
  return access::adopt(n);
}

std::function<bool()> after_func(const context& ctx, std::function<void()> f) {
  auto* c = new detail::after_func_node;
  c->fn = std::move(f);
  detail::attach(c, access::node(ctx));
  cancel_func stopper = access::canceller(c);
  detail::ctx_release(c);  // the creation reference: stopper and the list hold it now
  return [stopper = std::move(stopper), c]() -> bool {
    if (c->once.exchange(true, std::memory_order_acq_rel)) return false;  // f started (or stopped)
    stopper();
    return true;
  };
}

std::pair<context, cancel_func> with_stop_token(const context& parent, std::stop_token tok) {
  auto* c = new detail::stop_token_node;
  detail::attach(c, access::node(parent));
  auto result = adopt_pair(c);
  // After attaching: a token already stopped runs the callback right here.
  c->callback.emplace(std::move(tok), detail::stop_token_node::on_stop{c});
  return result;
}

std::stop_token to_stop_token(const context& ctx) {
  if (detail::cancellable(access::node(ctx)) == nullptr) return {};  // stop_possible() is false
  std::stop_source src;
  std::stop_token tok = src.get_token();
  after_func(ctx, [src]() mutable { src.request_stop(); });
  return tok;
}

std::error_code sleep(const context& ctx, std::chrono::nanoseconds d) {
  if (std::error_code e = ctx.err()) return e;
  recv_chan<std::monostate> done = ctx.done();
  if (!done) {
    sleep(d);
    return {};
  }
  if (d <= std::chrono::nanoseconds::zero()) return {};
  timer t(d);
  if (select(t.c().on_recv(), done.on_recv()) == 1) {
    t.stop();
    return ctx.err();
  }
  return {};
}

}  // namespace goro
