// goro/chan.hpp: channels (Go's chan T).
//
//   goro::chan<int> ch = goro::make_chan<int>();     // unbuffered
//   goro::chan<int> bq = goro::make_chan<int>(16);   // buffered, capacity 16
//   ch.send(1);                  // blocks until received (or buffered)
//   std::optional<int> v = ch.recv();  // empty once closed and drained
//   ch.close();
//   for (int x : ch) { ... }     // until closed and drained
//
// A chan<T> is a shared handle: copies name the same channel, which lives
// until the last handle goes. A default-constructed chan<T> is the nil
// channel: sending or receiving blocks forever and select never picks it.
// send_chan<T> and recv_chan<T> are the directional views (Go's chan<- T and
// <-chan T); a chan<T> converts to either implicitly.
//
// Guarantees: every value sent is received exactly once, or the send throws;
// values arrive in the order sent; blocked senders and receivers are served
// in the order they arrived. A receiver waiting when a value is sent takes it
// straight from the sender. Everything a goroutine did before a send
// happens-before the receive of that value returns (as in Go's memory model),
// and closing happens-before a receive that observes the close.
//
// Errors: send on a closed channel throws goro::closed_channel_error;
// closing a closed or nil channel throws goro::panic_error. A sender blocked
// when the channel is closed gets closed_channel_error.
//
// Every operation works from a goroutine (which parks) and from a plain
// thread (which blocks).
#pragma once

#include <cstddef>
#include <iterator>
#include <optional>
#include <type_traits>
#include <utility>

#include "goro/detail/chan_core.hpp"
#include "goro/detail/select_cases.hpp"
#include "goro/errors.hpp"

namespace goro {

template <class T>
class chan;
template <class T>
class send_chan;
template <class T>
class recv_chan;

namespace detail {

/// The counted reference every channel handle holds.
template <class T>
class chan_ref {
 public:
  static_assert(std::is_nothrow_move_constructible_v<T>,
                "goro::chan<T>: T must be nothrow move-constructible");
  static_assert(!std::is_reference_v<T> && !std::is_const_v<T>, "goro::chan<T>: T must be an object type");

  chan_ref() noexcept = default;
  explicit chan_ref(chan_core* c) noexcept : c_(c) {}
  chan_ref(const chan_ref& o) noexcept : c_(o.c_) {
    if (c_ != nullptr) chan_retain(c_);
  }
  chan_ref(chan_ref&& o) noexcept : c_(std::exchange(o.c_, nullptr)) {}
  chan_ref& operator=(chan_ref o) noexcept {
    std::swap(c_, o.c_);
    return *this;
  }
  ~chan_ref() {
    if (c_ != nullptr) chan_release(c_);
  }

  chan_core* core() const noexcept { return c_; }

  void send(const T& v) const
    requires std::is_copy_constructible_v<T>
  {
    T copy(v);
    chan_send(c_, &copy);
  }
  void send(T&& v) const { chan_send(c_, &v); }

  std::optional<T> recv() const {
    alignas(T) unsigned char buf[sizeof(T)];
    if (!chan_recv(c_, buf)) return std::nullopt;
    return take(buf);
  }

  bool try_send(T&& v) const { return chan_try_send(c_, &v); }
  bool try_send(const T& v) const
    requires std::is_copy_constructible_v<T>
  {
    T copy(v);
    return chan_try_send(c_, &copy);
  }

  std::optional<T> try_recv(bool* closed) const {
    alignas(T) unsigned char buf[sizeof(T)];
    bool dummy = false;
    if (!chan_try_recv(c_, buf, closed != nullptr ? closed : &dummy)) return std::nullopt;
    return take(buf);
  }

  std::size_t size() const noexcept { return chan_size(c_); }
  std::size_t capacity() const noexcept { return chan_capacity(c_); }

 private:
  static std::optional<T> take(unsigned char* buf) {
    T* p = std::launder(reinterpret_cast<T*>(buf));
    std::optional<T> out(std::move(*p));
    p->~T();
    return out;
  }

  chan_core* c_ = nullptr;
};

/// Lets goro's own templates reach a handle's counted reference.
struct chan_access {
  template <class H>
  static const auto& ref(const H& h) noexcept {
    return h.ref_;
  }
  /// A handle that takes over one counted reference to c.
  template <class T>
  static chan<T> adopt(chan_core* c) noexcept {
    return chan<T>(c);
  }
};

/// Receiving side shared by chan<T> and recv_chan<T>.
template <class T, class Self>
class recv_ops {
 public:
  /// Receives a value; empty once the channel is closed and drained.
  /// Blocks (forever on the nil channel).
  std::optional<T> recv() const { return ref().recv(); }
  /// Receives without blocking: empty if no value is ready (or closed; pass
  /// `closed` to tell which).
  std::optional<T> try_recv(bool* closed = nullptr) const { return ref().try_recv(closed); }

  /// Select cases: receive and drop, receive into `out`, or receive and call
  /// f (with std::optional<T>, with T, or with nothing).
  [[nodiscard]] recv_case<T> on_recv() const { return {ref().core(), nullptr, {}}; }
  [[nodiscard]] recv_case<T> on_recv(std::optional<T>& out) const { return {ref().core(), &out, {}}; }
  template <class F>
    requires std::is_invocable_v<F&, std::optional<T>&&> || std::is_invocable_v<F&, T&&> ||
             std::is_invocable_v<F&>
  [[nodiscard]] recv_case<T, std::decay_t<F>> on_recv(F&& f) const {
    return {ref().core(), nullptr, std::forward<F>(f)};
  }

  /// Range-for: receives until the channel is closed and drained.
  class iterator {
   public:
    using iterator_category = std::input_iterator_tag;
    using value_type = T;
    using difference_type = std::ptrdiff_t;
    using reference = T&;
    using pointer = T*;

    iterator() = default;
    explicit iterator(const chan_ref<T>* c) : c_(c) { ++*this; }
    T& operator*() noexcept { return *value_; }
    T* operator->() noexcept { return &*value_; }
    iterator& operator++() {
      value_ = c_->recv();
      if (!value_) c_ = nullptr;
      return *this;
    }
    void operator++(int) { ++*this; }
    friend bool operator==(const iterator& a, const iterator& b) noexcept { return a.c_ == b.c_; }

   private:
    const chan_ref<T>* c_ = nullptr;
    std::optional<T> value_;
  };
  iterator begin() const { return iterator(&ref()); }
  iterator end() const noexcept { return iterator(); }

 private:
  const chan_ref<T>& ref() const noexcept { return static_cast<const Self&>(*this).ref_; }
};

/// Sending side shared by chan<T> and send_chan<T>.
template <class T, class Self>
class send_ops {
 public:
  /// Sends v; blocks until it is received or buffered. Throws
  /// closed_channel_error if the channel is or gets closed.
  void send(T&& v) const { ref().send(std::move(v)); }
  void send(const T& v) const
    requires std::is_copy_constructible_v<T>
  {
    ref().send(v);
  }
  /// Sends only if that can happen now (a receiver waits, or there is room).
  /// An rvalue is moved from only when sent.
  bool try_send(T&& v) const { return ref().try_send(std::move(v)); }
  bool try_send(const T& v) const
    requires std::is_copy_constructible_v<T>
  {
    return ref().try_send(v);
  }
  /// Closes the channel: receivers drain what is buffered, then get an empty
  /// optional. Throws panic_error if closed already or nil.
  void close() const { chan_close(ref().core()); }

  /// Select cases: send v (an rvalue is moved from only if this case is
  /// chosen; an lvalue is copied), then call f if given.
  [[nodiscard]] send_case<T> on_send(T&& v) const { return {ref().core(), &v, {}}; }
  [[nodiscard]] send_case<T> on_send(const T& v) const
    requires std::is_copy_constructible_v<T>
  {
    return {ref().core(), v, {}};
  }
  template <class F>
    requires std::is_invocable_v<F&>
  [[nodiscard]] send_case<T, std::decay_t<F>> on_send(T&& v, F&& f) const {
    return {ref().core(), &v, std::forward<F>(f)};
  }
  template <class F>
    requires std::is_invocable_v<F&> && std::is_copy_constructible_v<T>
  [[nodiscard]] send_case<T, std::decay_t<F>> on_send(const T& v, F&& f) const {
    return {ref().core(), v, std::forward<F>(f)};
  }

 private:
  const chan_ref<T>& ref() const noexcept { return static_cast<const Self&>(*this).ref_; }
};

}  // namespace detail

/// A bidirectional channel handle. See the top of this file.
template <class T>
class chan : public detail::recv_ops<T, chan<T>>, public detail::send_ops<T, chan<T>> {
 public:
  using value_type = T;

  /// The nil channel.
  chan() noexcept = default;

  std::size_t size() const noexcept { return ref_.size(); }
  std::size_t capacity() const noexcept { return ref_.capacity(); }
  /// False for the nil channel.
  explicit operator bool() const noexcept { return ref_.core() != nullptr; }
  friend bool operator==(const chan& a, const chan& b) noexcept { return a.ref_.core() == b.ref_.core(); }

  operator send_chan<T>() const noexcept { return send_chan<T>(ref_); }
  operator recv_chan<T>() const noexcept { return recv_chan<T>(ref_); }

 private:
  friend class detail::recv_ops<T, chan<T>>;
  friend class detail::send_ops<T, chan<T>>;
  friend struct detail::chan_access;
  template <class U>
  friend chan<U> make_chan(std::size_t);
  explicit chan(detail::chan_core* c) noexcept : ref_(c) {}
  detail::chan_ref<T> ref_;
};

/// The send-only view of a channel (Go's chan<- T).
template <class T>
class send_chan : public detail::send_ops<T, send_chan<T>> {
 public:
  using value_type = T;
  send_chan() noexcept = default;
  std::size_t size() const noexcept { return ref_.size(); }
  std::size_t capacity() const noexcept { return ref_.capacity(); }
  explicit operator bool() const noexcept { return ref_.core() != nullptr; }
  friend bool operator==(const send_chan& a, const send_chan& b) noexcept {
    return a.ref_.core() == b.ref_.core();
  }

 private:
  friend class chan<T>;
  friend class detail::send_ops<T, send_chan<T>>;
  friend struct detail::chan_access;
  explicit send_chan(const detail::chan_ref<T>& r) noexcept : ref_(r) {}
  detail::chan_ref<T> ref_;
};

/// The receive-only view of a channel (Go's <-chan T).
template <class T>
class recv_chan : public detail::recv_ops<T, recv_chan<T>> {
 public:
  using value_type = T;
  recv_chan() noexcept = default;
  std::size_t size() const noexcept { return ref_.size(); }
  std::size_t capacity() const noexcept { return ref_.capacity(); }
  explicit operator bool() const noexcept { return ref_.core() != nullptr; }
  friend bool operator==(const recv_chan& a, const recv_chan& b) noexcept {
    return a.ref_.core() == b.ref_.core();
  }

 private:
  friend class chan<T>;
  friend class detail::recv_ops<T, recv_chan<T>>;
  friend struct detail::chan_access;
  explicit recv_chan(const detail::chan_ref<T>& r) noexcept : ref_(r) {}
  detail::chan_ref<T> ref_;
};

/// Makes a channel: unbuffered when capacity is 0 (Go's make(chan T, capacity)).
template <class T>
chan<T> make_chan(std::size_t capacity = 0) {
  return chan<T>(detail::chan_make(&detail::elem_ops_for<T>, capacity));
}

}  // namespace goro
