// goro/singleflight.hpp: golang.org/x/sync/singleflight: duplicate
// suppression. Concurrent calls for one key run the function once; every
// caller gets its result.
//
//   goro::singleflight::group<std::string, config> g;
//   auto [cfg, shared] = g.call(name, [&] { return load_config(name); });
//
// If f throws, every caller waiting on that call rethrows the exception
// (Go re-panics in every waiter too). Go's Do is call() here (`do` is a
// keyword); DoChan is call_chan(); Forget is forget().
#pragma once

#include <exception>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <type_traits>
#include <unordered_map>
#include <utility>
#include <vector>

#include "goro/chan.hpp"
#include "goro/runtime.hpp"
#include "goro/sync.hpp"

namespace goro::singleflight {

/// What call() returns: the value, and whether other callers got it too.
template <class V>
struct result {
  V val;
  bool shared = false;
};

/// What call_chan()'s channel delivers (Go's Result): the value, or the
/// exception f threw, and whether other callers got it too.
template <class V>
struct chan_result {
  std::optional<V> val;
  std::exception_ptr error;
  bool shared = false;
};

template <class K, class V, class Hash = std::hash<K>, class Eq = std::equal_to<K>>
  requires std::is_copy_constructible_v<V>
class group {
 public:
  group() = default;
  group(const group&) = delete;
  group& operator=(const group&) = delete;

  /// Runs f() (which returns a V) unless a call for key is in flight, in
  /// which case it waits for that one and returns its result.
  template <class F>
    requires std::is_invocable_r_v<V, F&>
  result<V> call(const K& key, F&& f) {
    std::unique_lock lock(mu_);
    if (auto it = calls_.find(key); it != calls_.end()) {
      std::shared_ptr<flight> c = it->second;
      ++c->dups;
      lock.unlock();
      c->wg.wait();
      if (c->error) std::rethrow_exception(c->error);
      return {*c->val, true};
    }
    auto c = std::make_shared<flight>();
    c->wg.add(1);
    calls_.emplace(key, c);
    lock.unlock();
    run(c, key, f);
    if (c->error) std::rethrow_exception(c->error);
    return {*c->val, c->dups > 0};
  }

  /// Like call(), but runs f in a new goroutine (if no call is in flight)
  /// and returns a channel that delivers the result once.
  template <class F>
    requires std::is_invocable_r_v<V, std::decay_t<F>&>
  recv_chan<chan_result<V>> call_chan(const K& key, F&& f) {
    auto ch = make_chan<chan_result<V>>(1);
    std::unique_lock lock(mu_);
    if (auto it = calls_.find(key); it != calls_.end()) {
      ++it->second->dups;
      it->second->chans.push_back(ch);
      return ch;
    }
    auto c = std::make_shared<flight>();
    c->wg.add(1);
    c->chans.push_back(ch);
    calls_.emplace(key, c);
    lock.unlock();
    // f (and what it holds by value) goes before the result is delivered:
    // whoever receives it may then destroy what f's captures refer to.
    using G = std::decay_t<F>;
    goro::go([this, c, key, fn = std::optional<G>(std::in_place, std::forward<F>(f))]() mutable {
      auto call_then_drop = [&fn]() -> V {
        struct drop {
          std::optional<G>& f;
          ~drop() { f.reset(); }
        } d{fn};
        return (*fn)();
      };
      run(c, key, call_then_drop);
    });
    return ch;
  }

  /// Forgets key: the next call for it runs f even if one is in flight.
  void forget(const K& key) {
    std::lock_guard lock(mu_);
    if (auto it = calls_.find(key); it != calls_.end()) {
      it->second->forgotten = true;
      calls_.erase(it);
    }
  }

 private:
  struct flight {
    wait_group wg;
    std::optional<V> val;               // written before wg.done()
    std::exception_ptr error;           // likewise
    int dups = 0;                       // guarded by mu_
    bool forgotten = false;             // guarded by mu_
    std::vector<chan<chan_result<V>>> chans;  // guarded by mu_
  };

  template <class F>
  void run(const std::shared_ptr<flight>& c, const K& key, F& f) {
    try {
      c->val.emplace(f());
    } catch (...) {
      c->error = std::current_exception();
    }
    // Unregister before done(): a caller waiting in call() may destroy the
    // group as soon as done() lets it go, so from done() on run touches only
    // c (kept alive by the shared_ptr) and locals. (Go calls Done under the
    // lock; its GC keeps the group alive.) A call arriving after the erase
    // starts a new flight, as one arriving after Go's delete would.
    std::vector<chan<chan_result<V>>> chans;
    bool shared;
    {
      std::lock_guard lock(mu_);
      if (!c->forgotten) calls_.erase(key);
      chans = std::move(c->chans);  // no chan joins c once it is unregistered
      shared = c->dups > 0;
    }
    c->wg.done();
    // Buffered (capacity 1) and sent once each: never blocks.
    for (auto& ch : chans) ch.send(chan_result<V>{c->val, c->error, shared});
  }

  mutex mu_;  // guards calls_ and every flight's dups, forgotten and chans
  std::unordered_map<K, std::shared_ptr<flight>, Hash, Eq> calls_;
};

}  // namespace goro::singleflight
