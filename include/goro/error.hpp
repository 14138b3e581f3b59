// goro/error.hpp: errors that carry what the book's chapter 5 ("Error
// Propagation") asks of them, as values that cross channels.
//
//   goro::error e = goro::make_error("disk {} is full", disk);   // a new error
//   return goro::wrap(e, "cannot save {}", name)                 // at a module boundary
//       .with("file", name)                                      // misc key/value
//       .with_user_message();                                    // fit to show a user
//   if (err) log << err.with_log_id("42").format();              // the full story
//
// A goro::error is what Go's MyError is in the book: a message (what
// happened), an inner error (what it wraps), when (UTC) and where (goroutine,
// thread, file/line/function, stack trace) it was made, misc key/values, and
// optionally a short message for users and a log id. A default-constructed
// error is empty and means success, like Go's nil error: `if (err)` tests
// for failure.
//
// The chain. Each error wraps at most one inner goro::error (inner()); the
// innermost may in turn hold a raw cause from outside goro::error's world: a
// std::error_code or a std::exception (as a std::exception_ptr). wrap()
// takes either kind: an inner goro::error extends the chain, a code or an
// exception ends it. code() and exception() find the raw cause through the
// chain. An exception_ptr that holds a goro::error_exception is unwrapped to
// its goro::error, and one that holds a std::system_error gives its code too.
//
// Cost. An error is one shared_ptr to immutable state: copies are cheap,
// moves are noexcept, and copies may be read from any number of goroutines
// and threads at once. Making one costs a few allocations, a clock read and
// a backtrace() of up to 64 raw return addresses; the frames are symbolized
// (demangled) only when stack_trace() or format() is called. The
// with_*() members return a new error and leave this one unchanged.
//
// Messages. make_error and wrap take a format string and arguments: each
// `{}` is replaced by the next argument, written with operator<<; `{{` and
// `}}` are literal braces; a `{}` with no argument left stays as written and
// arguments left over are appended, each after a space. Without arguments
// the text is taken as is (a message read at run time needs no escaping).
// This is the `{}` subset of std::format (g++ 12 has no <format>), so calls
// will keep working if std::format takes over. The call site is recorded from
// the format argument, so it must be the literal (or string) at the call.
//
// Stack traces. Frames come from glibc's backtrace(); names from the module's
// dynamic symbols (dladdr), else from its symbol table, read from its file
// once, at the first lookup in it. A frame of a stripped module shows its
// module and offset: `addr2line -Cfe module +offset` names it. Symbolization
// takes the dynamic loader's lock and a lock of goro's; it does not park.
#pragma once

#include <chrono>
#include <cstdint>
#include <exception>
#include <memory>
#include <ostream>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <system_error>
#include <thread>
#include <type_traits>
#include <utility>
#include <vector>

#include "goro/detail/config.hpp"

namespace goro {

class error;

namespace detail {
struct error_state;
struct error_access;
}  // namespace detail

/// The format argument of make_error and wrap: any string, plus the place
/// it was written (recorded implicitly, as std::source_location would be).
struct message_at {
  std::string_view text;
  source_location where;

  template <class S>
    requires std::is_convertible_v<const S&, std::string_view>
  message_at(const S& s, source_location w = source_location::current())  // NOLINT: implicit on purpose
      : text(s), where(w) {}
};

/// What an error wraps: another goro::error, a std::error_code (or an enum
/// that converts to one) or a std::exception_ptr. Empty ones wrap nothing.
/// Converts implicitly; only a parameter of wrap(): it may refer to the
/// goro::error it was made from, so it must not outlive the call.
class error_cause {
 public:
  error_cause(const error& e) noexcept : inner_(&e) {}  // NOLINT
  error_cause(std::error_code c) noexcept : code_(c) {}  // NOLINT
  template <class E>
    requires std::is_error_code_enum_v<E>
  error_cause(E e) noexcept : code_(make_error_code(e)) {}  // NOLINT
  error_cause(std::exception_ptr p) noexcept : exception_(std::move(p)) {}  // NOLINT

 private:
  friend struct detail::error_access;
  const error* inner_ = nullptr;
  std::error_code code_;
  std::exception_ptr exception_;
};

/// An error value (see the top of this file). Empty means success.
class GORO_API error {
 public:
  using clock = std::chrono::system_clock;
  using misc_list = std::vector<std::pair<std::string, std::string>>;

  /// The empty error: success.
  error() noexcept = default;

  /// True if this is an error (not success).
  explicit operator bool() const noexcept { return state_ != nullptr; }

  // ---- what happened -----------------------------------------------------------

  /// The message given where this error was made or wrapped; "" if empty.
  const std::string& message() const noexcept;
  /// The goro::error this one wraps; an empty error if none (or if the
  /// cause is a code or an exception). Walk the chain with
  /// `for (const goro::error* e = &err; *e; e = &e->inner())`.
  const error& inner() const noexcept;
  /// The std::error_code this error or an inner one wraps (the innermost
  /// one, which is the only one: a code ends the chain); empty if none.
  std::error_code code() const noexcept;
  /// The exception this error or an inner one wraps; null if none.
  std::exception_ptr exception() const noexcept;

  // ---- when and where ------------------------------------------------------------

  /// When it was made (system clock; format() shows it in UTC).
  clock::time_point when() const noexcept;
  /// Where it was made: the make_error / wrap call.
  source_location where() const noexcept;
  /// The goroutine that made it (goro::this_goroutine::id()), 0 if a plain thread.
  std::uint64_t goroutine_id() const noexcept;
  /// The thread that made it.
  std::thread::id thread_id() const noexcept;
  /// The raw return addresses captured when it was made, innermost first
  /// (the make_error/wrap caller is first).
  std::span<void* const> frames() const noexcept;
  /// The frames symbolized, one per line ("#0 function+0x1f (module) [0x...]").
  /// Computed on each call.
  std::string stack_trace() const;

  // ---- decoration ----------------------------------------------------------------

  /// Misc key/values, in the order first added.
  const misc_list& misc() const noexcept;
  /// The value for key, or null.
  const std::string* misc(std::string_view key) const noexcept;
  /// A copy with key set to value (replacing an earlier value for key).
  /// Any value operator<< can write. On an empty error, returns it empty.
  error with(std::string key, std::string value) const;
  template <class T>
    requires(!std::is_convertible_v<const T&, std::string>)
  error with(std::string key, const T& value) const {
    return with(std::move(key), detail_stringify(value));
  }

  /// A copy marked user-facing: its user_message() is `msg`, or message()
  /// when msg is empty. This is the book's IntermediateErr: a module says
  /// "this error is fit to show to a user" at its boundary. Wrapping a
  /// user-facing error gives one that is not (the wrapper decides anew).
  error with_user_message(std::string msg = {}) const;
  /// The message for users if marked user-facing, else "".
  const std::string& user_message() const noexcept;
  /// A copy with a log id, by which a user's report finds the logged format().
  error with_log_id(std::string id) const;
  /// The log id, or "".
  const std::string& log_id() const noexcept;

  // ---- text ------------------------------------------------------------------------

  /// The full report for a log, over several lines: for this error and each
  /// inner one, its message, when (UTC), where, misc and symbolized stack;
  /// then the raw cause. Starts with the log id and user message if set.
  /// "" for an empty error.
  std::string format(bool with_stacks = true) const;
  /// format(), for those who know it as what_full().
  std::string what_full() const { return format(); }

  // ---- from exceptions ---------------------------------------------------------------

  /// In a catch block: the goro::error of a goro::error_exception being
  /// handled, else a new error whose cause is the current exception and
  /// whose message is its what() ("unknown exception" if not a
  /// std::exception), made here: its where and stack are the catch site's.
  /// Empty if no exception is being handled.
  static error from_current_exception(source_location where = source_location::current());

 private:
  friend struct detail::error_access;

  explicit error(std::shared_ptr<const detail::error_state> s) noexcept : state_(std::move(s)) {}

  template <class T>
  static std::string detail_stringify(const T& v);

  std::shared_ptr<const detail::error_state> state_;
};

static_assert(std::is_nothrow_move_constructible_v<error> && std::is_nothrow_move_assignable_v<error>,
              "goro::error must move without throwing to travel through channels");

namespace detail {

/// What make_error and wrap call; src/error/error.cpp.
struct error_access {
  /// A new error wrapping c, with when and where and the stack of the
  /// caller's caller (make_error and wrap are always inlined, so that is
  /// the code that called them).
  GORO_API static error make(error_cause c, std::string message, source_location where);

  // The rest is for src/error/error.cpp.
  static const error_state* state(const error& e) noexcept { return e.state_.get(); }
  static error adopt(std::shared_ptr<const error_state> s) noexcept { return error(std::move(s)); }
  static const error* inner(const error_cause& c) noexcept { return c.inner_; }
  static const std::error_code& code(const error_cause& c) noexcept { return c.code_; }
  static const std::exception_ptr& exception(const error_cause& c) noexcept { return c.exception_; }
};

/// One format argument, type-erased: how to write it to a stream.
struct format_arg {
  const void* value;
  void (*write)(std::ostream&, const void*);
};

/// Substitutes args into fmt (see "Messages" above).
GORO_API std::string format_message(std::string_view fmt, std::span<const format_arg> args);

template <class T>
format_arg make_format_arg(const T& v) noexcept {
  return {&v, [](std::ostream& os, const void* p) { os << *static_cast<const T*>(p); }};
}

template <class... A>
std::string format_message(std::string_view fmt, const A&... args) {
  if constexpr (sizeof...(A) == 0) {
    return std::string(fmt);
  } else {
    const format_arg list[] = {make_format_arg(args)...};
    return format_message(fmt, std::span<const format_arg>(list));
  }
}

}  // namespace detail

template <class T>
std::string error::detail_stringify(const T& v) {
  return detail::format_message("{}", v);
}

/// A new error with the formatted message and no inner error (Go's
/// errors.New / fmt.Errorf). Records when, where and the stack here.
template <class... A>
[[gnu::always_inline]] inline error make_error(message_at fmt, const A&... args) {
  return detail::error_access::make(std::error_code(), detail::format_message(fmt.text, args...), fmt.where);
}

/// The book's wrapError: a new error with the formatted message, wrapping
/// inner (a goro::error, std::error_code or std::exception_ptr), with its
/// own when, where and stack. Wrapping an empty inner makes a fresh error.
template <class... A>
[[gnu::always_inline]] inline error wrap(error_cause inner, message_at fmt, const A&... args) {
  return detail::error_access::make(std::move(inner), detail::format_message(fmt.text, args...), fmt.where);
}

/// wrap with the inner error's own message (the book's low-level module:
/// wrapError(err, err.Error())); an empty inner gives an empty error.
GORO_API error wrap(error_cause inner, source_location where = source_location::current());

/// True if err was marked user-facing (with_user_message()).
inline bool is_user_facing(const error& err) noexcept { return !err.user_message().empty(); }

/// The message, as Go's Error() returns it; "<nil>" for an empty error.
GORO_API std::string to_string(const error& err);
/// Writes to_string(err).
GORO_API std::ostream& operator<<(std::ostream& os, const error& err);

/// An exception carrying a goro::error, for code that prefers throwing.
/// what() is the error's message. error::from_current_exception() and wrap()
/// of its exception_ptr give the goro::error back.
class GORO_API error_exception : public std::exception {
 public:
  /// err must not be empty (an empty one is replaced by an error saying so).
  explicit error_exception(error err);
  const char* what() const noexcept override;
  /// The error carried.
  const error& err() const noexcept { return err_; }

 private:
  error err_;
};

}  // namespace goro
