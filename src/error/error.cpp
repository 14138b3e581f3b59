// src/error/error.cpp: goro::error (goro/error.hpp).
//
// Invariants: an error_state is written only before the shared_ptr that
// owns it is first handed out (in make and the with_*() copies) and never
// after, so any number of goroutines and threads may read it without a
// lock; the shared_ptr's count is the only shared mutable thing. A node
// wraps at most one of: an inner goro::error (non-empty), or a raw cause
// (code and/or exception, with cause_text describing it); a node with a raw
// cause has no inner, so the chain ends there.
//
// Rejected designs: a mutable error (set_misc(...) on a shared value) would
// need a lock or would race once the error crossed a channel; copying the
// state on each with_*() costs an allocation on the error path only.
// Symbolizing at creation (backtrace_symbols) would cost every error that
// is handled and never logged a dladdr per frame and several allocations;
// only the raw frames are kept. A cached symbolization would need a once
// flag per error; format() is called once or twice per error at most.
#include "goro/error.hpp"

#include <cxxabi.h>
#include <dlfcn.h>
#include <execinfo.h>
#include <time.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <sstream>
#include <typeinfo>

#include "goro/runtime.hpp"
#include "error/symbolize.hpp"

namespace goro {

namespace detail {

struct error_state {
  std::string message;
  error inner;                   // the wrapped goro::error, or empty
  std::error_code code;          // raw cause: a code (or a system_error's)
  std::exception_ptr exception;  // raw cause: an exception
  std::string cause_text;        // the raw cause described, for format()
  error::clock::time_point when;
  source_location where;
  std::uint64_t goroutine = 0;
  std::thread::id thread;
  std::vector<void*> frames;  // innermost first, starting at the caller
  error::misc_list misc;
  std::string user_message;
  std::string log_id;
};

}  // namespace detail

namespace {

constexpr int max_frames = 64;

/// The return addresses of the caller's caller and up: skips itself, any
/// frames between it and backtrace() (a sanitizer's interceptor adds one)
/// and the goro entry point that called it. Must not be inlined (nor
/// tail-called: its callers use the result), or the skip would be wrong.
GORO_NOINLINE std::vector<void*> capture_frames() {
  constexpr int extra = 4;
  void* buf[max_frames + extra];
  int n = ::backtrace(buf, max_frames + extra);
  // The entry point's frame holds our return address; its caller's is next.
  int first = detail::first_frame_after(buf, n, __builtin_return_address(0), extra, 2);
  if (n <= first) return {};
  n = std::min(n, first + max_frames);
  return std::vector<void*>(buf + first, buf + n);
}

std::string demangle(const char* name) {
  int status = 0;
  char* d = abi::__cxa_demangle(name, nullptr, nullptr, &status);
  if (d == nullptr) return name;
  std::string out(d);
  std::free(d);
  return out;
}

std::string hex(std::uintptr_t v) {
  char buf[2 + 2 * sizeof v + 1];
  std::snprintf(buf, sizeof buf, "0x%jx", static_cast<std::uintmax_t>(v));
  return buf;
}

std::string utc(error::clock::time_point t) {
  auto since = t.time_since_epoch();
  auto secs = std::chrono::floor<std::chrono::seconds>(since);
  auto micros = std::chrono::duration_cast<std::chrono::microseconds>(since - secs).count();
  std::time_t tt = static_cast<std::time_t>(secs.count());
  std::tm tm{};
  ::gmtime_r(&tt, &tm);
  char date[32];
  std::strftime(date, sizeof date, "%Y-%m-%dT%H:%M:%S", &tm);
  char out[64];
  std::snprintf(out, sizeof out, "%s.%06lldZ", date, static_cast<long long>(micros));
  return out;
}

std::string describe(const std::error_code& c) {
  return "std::error_code " + std::string(c.category().name()) + ":" + std::to_string(c.value()) + " (" +
         c.message() + ")";
}

/// What a raw exception cause contributes to a node.
struct exception_facts {
  error inner;  // set if p holds a goro::error_exception
  std::error_code code;
  std::string what;
  std::string text;
};

exception_facts examine(const std::exception_ptr& p) {
  exception_facts f;
  try {
    std::rethrow_exception(p);
  } catch (const error_exception& e) {
    f.inner = e.err();
  } catch (const std::system_error& e) {
    f.code = e.code();
    f.what = e.what();
    f.text = "exception " + demangle(typeid(e).name()) + ": " + f.what + " [" + describe(f.code) + "]";
  } catch (const std::exception& e) {
    f.what = e.what();
    f.text = "exception " + demangle(typeid(e).name()) + ": " + f.what;
  } catch (...) {
    f.what = "unknown exception";
    f.text = "exception of a type not derived from std::exception";
  }
  return f;
}

void append_indented(std::string& out, const std::string& text, const char* indent) {
  std::size_t start = 0;
  while (start < text.size()) {
    std::size_t end = text.find('\n', start);
    if (end == std::string::npos) end = text.size();
    out += indent;
    out.append(text, start, end - start);
    out += '\n';
    start = end + 1;
  }
}

}  // namespace

// ---- construction ------------------------------------------------------------------

namespace {

using detail::error_access;
using detail::error_state;

/// Fills a new node's inner error or raw cause from c; returns the message
/// the cause itself carries ("" if none).
std::string adopt_cause(error_state& s, const error_cause& c) {
  const error* inner = error_access::inner(c);
  if (inner != nullptr && *inner) {
    s.inner = *inner;
    return inner->message();
  }
  if (const std::error_code& code = error_access::code(c)) {
    s.code = code;
    s.cause_text = describe(code);
    return code.message();
  }
  if (const std::exception_ptr& exc = error_access::exception(c)) {
    exception_facts f = examine(exc);
    if (f.inner) {
      s.inner = std::move(f.inner);
      return s.inner.message();
    }
    s.exception = exc;
    s.code = f.code;
    s.cause_text = std::move(f.text);
    return f.what;
  }
  return {};
}

/// A node for a goro entry point that has captured its caller's frames.
/// message_from_cause: take the cause's own message, and give an empty
/// error if there is no cause.
error build(const error_cause& c, std::string message, source_location where, std::vector<void*> frames,
            bool message_from_cause) {
  auto s = std::make_shared<error_state>();
  std::string from_cause = adopt_cause(*s, c);
  if (message_from_cause) {
    if (!s->inner && !s->code && !s->exception) return error();
    message = std::move(from_cause);
  }
  s->message = std::move(message);
  s->when = error::clock::now();
  s->where = where;
  s->goroutine = this_goroutine::id();
  s->thread = std::this_thread::get_id();
  s->frames = std::move(frames);
  return error_access::adopt(std::move(s));
}

/// A copy of e's state, edited (e must not be empty).
template <class Edit>
error edited(const error& e, Edit edit) {
  auto s = std::make_shared<error_state>(*error_access::state(e));
  edit(*s);
  return error_access::adopt(std::move(s));
}

}  // namespace

int detail::first_frame_after(void* const* frames, int n, const void* marker, int within,
                              int otherwise) noexcept {
  for (int i = 0; i < n && i < within; ++i) {
    if (frames[i] == marker) return i + 1;
  }
  return otherwise;
}

/// One line per frame: "#i address function+offset (module)", or
/// "#i address (module+offset)" for a function neither the module's dynamic
/// symbols nor its symbol table (stripped) name.
std::string detail::symbolize_frames(std::span<void* const> frames) {
  std::string out;
  int i = 0;
  for (void* pc : frames) {
    auto addr = reinterpret_cast<std::uintptr_t>(pc);
    out += '#' + std::to_string(i++) + ' ' + hex(addr) + ' ';
    Dl_info info{};
    // A return address may lie just past its function (a call to a
    // [[noreturn]] function ends it): look up the call instruction instead.
    if (::dladdr(reinterpret_cast<void*>(addr - 1), &info) != 0 && info.dli_fname != nullptr) {
      std::string name;
      std::uintptr_t offset = 0;
      if (info.dli_sname != nullptr && info.dli_saddr != nullptr) {
        out += demangle(info.dli_sname) + '+' + hex(addr - reinterpret_cast<std::uintptr_t>(info.dli_saddr)) +
               " (" + info.dli_fname + ')';
      } else if (elf_symbol(addr - 1, name, offset)) {  // not exported: the file's symbol table
        out += demangle(name.c_str()) + '+' + hex(offset + 1) + " (" + info.dli_fname + ')';
      } else {
        out += std::string("(") + info.dli_fname + '+' +
               hex(addr - reinterpret_cast<std::uintptr_t>(info.dli_fbase)) + ')';
      }
    } else {
      out += "(unknown module)";
    }
    out += '\n';
  }
  return out;
}

namespace {

std::string symbolize(std::span<void* const> frames) { return detail::symbolize_frames(frames); }

const std::string empty_string;

}  // namespace

// Each entry point captures the frames itself (capture_frames skips its own
// frame and the entry point's), before doing anything else.

error detail::error_access::make(error_cause c, std::string message, source_location where) {
  std::vector<void*> frames = capture_frames();
  return build(c, std::move(message), where, std::move(frames), false);
}

error wrap(error_cause inner, source_location where) {
  std::vector<void*> frames = capture_frames();
  return build(inner, {}, where, std::move(frames), true);
}

error error::from_current_exception(source_location where) {
  std::exception_ptr p = std::current_exception();
  if (!p) return {};
  try {
    std::rethrow_exception(p);
  } catch (const error_exception& e) {
    return e.err();
  } catch (...) {
  }
  std::vector<void*> frames = capture_frames();
  return build(error_cause(p), {}, where, std::move(frames), true);
}

// ---- accessors ------------------------------------------------------------------

const std::string& error::message() const noexcept { return state_ ? state_->message : empty_string; }

const error& error::inner() const noexcept {
  static const error none;
  return state_ ? state_->inner : none;
}

std::error_code error::code() const noexcept {
  for (const error_state* s = state_.get(); s != nullptr; s = error_access::state(s->inner)) {
    if (s->code) return s->code;
  }
  return {};
}

std::exception_ptr error::exception() const noexcept {
  for (const error_state* s = state_.get(); s != nullptr; s = error_access::state(s->inner)) {
    if (s->exception) return s->exception;
  }
  return nullptr;
}

error::clock::time_point error::when() const noexcept { return state_ ? state_->when : clock::time_point(); }
source_location error::where() const noexcept { return state_ ? state_->where : source_location(); }
std::uint64_t error::goroutine_id() const noexcept { return state_ ? state_->goroutine : 0; }
std::thread::id error::thread_id() const noexcept { return state_ ? state_->thread : std::thread::id(); }

std::span<void* const> error::frames() const noexcept {
  if (!state_) return {};
  return {state_->frames.data(), state_->frames.size()};
}

std::string error::stack_trace() const { return symbolize(frames()); }

const error::misc_list& error::misc() const noexcept {
  static const misc_list none;
  return state_ ? state_->misc : none;
}

const std::string* error::misc(std::string_view key) const noexcept {
  for (const auto& [k, v] : misc()) {
    if (k == key) return &v;
  }
  return nullptr;
}

error error::with(std::string key, std::string value) const {
  if (!state_) return {};
  return edited(*this, [&](error_state& s) {
    for (auto& [k, v] : s.misc) {
      if (k == key) {
        v = std::move(value);
        return;
      }
    }
    s.misc.emplace_back(std::move(key), std::move(value));
  });
}

error error::with_user_message(std::string msg) const {
  if (!state_) return {};
  return edited(*this, [&](error_state& s) { s.user_message = msg.empty() ? s.message : std::move(msg); });
}

const std::string& error::user_message() const noexcept { return state_ ? state_->user_message : empty_string; }

error error::with_log_id(std::string id) const {
  if (!state_) return {};
  return edited(*this, [&](error_state& s) { s.log_id = std::move(id); });
}

const std::string& error::log_id() const noexcept { return state_ ? state_->log_id : empty_string; }

// ---- text ------------------------------------------------------------------------

std::string error::format(bool with_stacks) const {
  std::string out;
  bool first = true;
  for (const error_state* s = state_.get(); s != nullptr; s = error_access::state(s->inner)) {
    out += first ? "error: " : "caused by: ";
    first = false;
    append_indented(out, s->message, "");
    if (!s->log_id.empty()) out += "  log id: " + s->log_id + '\n';
    if (!s->user_message.empty()) out += "  user message: " + s->user_message + '\n';
    out += "  when: " + utc(s->when) + '\n';
    std::ostringstream where;
    where << "  where: " << s->where.file << ':' << s->where.line;
    if (*s->where.function != '\0') where << " in " << s->where.function;
    if (s->goroutine != 0) {
      where << ", goroutine " << s->goroutine;
    } else {
      where << ", not in a goroutine";
    }
    where << ", thread " << s->thread << '\n';
    out += where.str();
    for (const auto& [k, v] : s->misc) out += "  misc: " + k + " = " + v + '\n';
    if (with_stacks && !s->frames.empty()) {
      out += "  stack:\n";
      append_indented(out, symbolize(s->frames), "    ");
    }
    if (!s->cause_text.empty()) out += "caused by: " + s->cause_text + '\n';
  }
  return out;
}

std::string detail::format_message(std::string_view fmt, std::span<const format_arg> args) {
  std::ostringstream os;
  std::size_t next = 0;
  for (std::size_t i = 0; i < fmt.size(); ++i) {
    char ch = fmt[i];
    char following = i + 1 < fmt.size() ? fmt[i + 1] : '\0';
    if (ch == '{' && following == '{') {
      os << '{';
      ++i;
    } else if (ch == '}' && following == '}') {
      os << '}';
      ++i;
    } else if (ch == '{' && following == '}') {
      if (next < args.size()) {
        args[next].write(os, args[next].value);
        ++next;
      } else {
        os << "{}";
      }
      ++i;
    } else {
      os << ch;
    }
  }
  for (; next < args.size(); ++next) {
    os << ' ';
    args[next].write(os, args[next].value);
  }
  return std::move(os).str();
}

std::string to_string(const error& err) { return err ? err.message() : std::string("<nil>"); }

std::ostream& operator<<(std::ostream& os, const error& err) { return os << to_string(err); }

// ---- error_exception ----------------------------------------------------------------

error_exception::error_exception(error err) : err_(std::move(err)) {
  if (!err_) {
    err_ = detail::error_access::make(std::error_code(), "goro::error_exception made from an empty error",
                                      source_location::current());
  }
}

const char* error_exception::what() const noexcept { return err_.message().c_str(); }

}  // namespace goro
