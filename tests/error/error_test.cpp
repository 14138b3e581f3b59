// tests/error/error_test.cpp: goro::error, wrap and error_exception (the
// book's chapter 5, "Error Propagation").
//
// Every wait is bounded; every goroutine a test starts returns before the
// test ends (the leak check in test_main.cpp). The test binary is linked
// with ENABLE_EXPORTS, so the functions below that are not in an anonymous
// namespace have names in a stack trace.
#include <goro/error.hpp>
#include <goro/result.hpp>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <sstream>
#include <stdexcept>
#include <string>
#include <system_error>
#include <thread>
#include <type_traits>
#include <utility>
#include <vector>

#include "sync/sync_helpers.hpp"

static_assert(std::is_nothrow_default_constructible_v<goro::error>);
static_assert(std::is_nothrow_move_constructible_v<goro::error>);
static_assert(std::is_nothrow_move_assignable_v<goro::error>);
static_assert(std::is_copy_constructible_v<goro::error> && std::is_copy_assignable_v<goro::error>);
static_assert(!std::is_convertible_v<goro::error, bool>, "operator bool is explicit");
static_assert(sizeof(goro::error) == sizeof(std::shared_ptr<int>), "an error is one shared pointer");

// Exported, not inlined: shows up by name in a stack trace.
GORO_NOINLINE goro::error goro_error_test_make_here() { return goro::make_error("made in a helper"); }

namespace {
// Internal linkage: not in the dynamic symbol table even with ENABLE_EXPORTS,
// so only the executable's symbol table names it. Not a tail call (the
// error is used after the call).
GORO_NOINLINE goro::error goro_error_test_unexported_here() {
  goro::error e = goro::make_error("made in an unexported helper");
  return e.with_log_id("unexported");
}
}  // namespace

GORO_NOINLINE goro::error goro_error_test_wrap_here(const goro::error& inner) {
  return goro::wrap(inner, "wrapped in a helper");
}

namespace {

using goro_test::recv_within;
using goro_test::wait_limit;
using sync_test::bounded_thread;

std::vector<std::string> chain_messages(const goro::error& err) {
  std::vector<std::string> out;
  for (const goro::error* e = &err; *e; e = &e->inner()) out.push_back(e->message());
  return out;
}

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

bool ends_with(const std::string& text, const std::string& tail) {
  return text.size() >= tail.size() && text.compare(text.size() - tail.size(), tail.size(), tail) == 0;
}

// ---- construction --------------------------------------------------------------

TEST(Error, DefaultConstructedIsEmptyAndMeansSuccess) {
  goro::error e;
  EXPECT_FALSE(e);
  EXPECT_EQ(e.message(), "");
  EXPECT_FALSE(e.inner());
  EXPECT_FALSE(e.code());
  EXPECT_EQ(e.exception(), nullptr);
  EXPECT_TRUE(e.frames().empty());
  EXPECT_TRUE(e.misc().empty());
  EXPECT_EQ(e.format(), "");
  EXPECT_EQ(goro::to_string(e), "<nil>");
  EXPECT_FALSE(e.with("k", "v"));
  EXPECT_FALSE(e.with_user_message("hi"));
  EXPECT_FALSE(goro::is_user_facing(e));
}

TEST(Error, MakeErrorSubstitutesArgumentsForBraces) {
  std::string disk = "sda";
  EXPECT_EQ(goro::make_error("disk {} is {}% full", disk, 93).message(), "disk sda is 93% full");
  EXPECT_EQ(goro::make_error("{{}} {}", 1.5).message(), "{} 1.5");
  EXPECT_EQ(goro::make_error("{} and {}", 'a').message(), "a and {}");
  EXPECT_EQ(goro::make_error("took", 3, "tries").message(), "took 3 tries");
  // Without arguments the text is taken as is.
  EXPECT_EQ(goro::make_error("{{literal}} {}").message(), "{{literal}} {}");
  std::string runtime_text = "read at run time {}";
  EXPECT_EQ(goro::make_error(runtime_text).message(), runtime_text);
}

TEST(Error, CopiesShareOneImmutableState) {
  goro::error a = goro::make_error("a");
  goro::error b = a;
  EXPECT_EQ(&a.message(), &b.message());
  goro::error c = b.with("k", "v");
  EXPECT_EQ(a.misc().size(), 0u) << "with() must not change the original";
  EXPECT_EQ(c.misc().size(), 1u);
  EXPECT_EQ(c.message(), "a");
  EXPECT_EQ(c.when(), a.when()) << "with() keeps when, where and the stack";
  EXPECT_TRUE(std::equal(c.frames().begin(), c.frames().end(), a.frames().begin(), a.frames().end()));
  goro::error moved = std::move(b);
  EXPECT_FALSE(b);  // NOLINT(bugprone-use-after-move): moved-from is empty
  EXPECT_EQ(moved.message(), "a");
}

// ---- the chain --------------------------------------------------------------------

TEST(Error, WrapChainsInnerErrorsOutermostFirst) {
  goro::error low = goro::make_error("low");
  goro::error mid = goro::wrap(low, "mid");
  goro::error top = goro::wrap(mid, "top {}", 1);
  EXPECT_EQ(chain_messages(top), (std::vector<std::string>{"top 1", "mid", "low"}));
  EXPECT_EQ(&top.inner().inner().message(), &low.message()) << "the chain shares the inner errors";
  EXPECT_FALSE(low.inner());
  EXPECT_FALSE(top.code());
  std::string full = top.format();
  auto at_top = full.find("error: top 1");
  auto at_mid = full.find("caused by: mid");
  auto at_low = full.find("caused by: low");
  ASSERT_NE(at_top, std::string::npos) << full;
  ASSERT_NE(at_mid, std::string::npos) << full;
  ASSERT_NE(at_low, std::string::npos) << full;
  EXPECT_LT(at_top, at_mid);
  EXPECT_LT(at_mid, at_low);
}

TEST(Error, WrapOfAnErrorCodeEndsTheChainWithIt) {
  auto code = std::make_error_code(std::errc::no_such_file_or_directory);
  goro::error low = goro::wrap(code, "stat {}", "/bad/job/binary");
  goro::error top = goro::wrap(low, "cannot run job");
  EXPECT_FALSE(low.inner());
  EXPECT_EQ(low.code(), code);
  EXPECT_EQ(top.code(), code) << "code() looks through the chain";
  EXPECT_TRUE(top.code() == std::errc::no_such_file_or_directory);
  EXPECT_EQ(top.exception(), nullptr);
  EXPECT_TRUE(contains(top.format(), "caused by: std::error_code generic:" + std::to_string(code.value())))
      << top.format();
  // An enum that converts to an error code is accepted too.
  goro::error canceled = goro::wrap(std::io_errc::stream, "io");
  EXPECT_TRUE(canceled.code() == std::io_errc::stream);
}

TEST(Error, WrapWithoutMessageTakesTheCausesMessage) {
  auto code = std::make_error_code(std::errc::permission_denied);
  goro::error e = goro::wrap(code);
  EXPECT_EQ(e.message(), code.message());
  EXPECT_EQ(goro::wrap(e).message(), code.message());
  EXPECT_EQ(goro::wrap(e).inner().message(), e.message());
  // Wrapping nothing that way gives nothing: success stays success.
  EXPECT_FALSE(goro::wrap(goro::error()));
  EXPECT_FALSE(goro::wrap(std::error_code()));
  EXPECT_FALSE(goro::wrap(std::exception_ptr()));
  // With a message, wrapping nothing makes a fresh error (the book's
  // wrapError(nil, "job binary is not executable")).
  goro::error fresh = goro::wrap(goro::error(), "job binary is not executable");
  EXPECT_TRUE(fresh);
  EXPECT_FALSE(fresh.inner());
}

TEST(Error, WrapOfAnExceptionKeepsItAndItsCode) {
  auto p = std::make_exception_ptr(std::runtime_error("boom"));
  goro::error e = goro::wrap(p, "while parsing");
  EXPECT_EQ(e.exception(), p);
  EXPECT_FALSE(e.code());
  EXPECT_THROW(std::rethrow_exception(goro::wrap(e, "outer").exception()), std::runtime_error);
  EXPECT_TRUE(contains(e.format(), "caused by: exception std::runtime_error: boom")) << e.format();
  EXPECT_EQ(goro::wrap(p).message(), "boom");

  auto sys = std::make_exception_ptr(std::system_error(std::make_error_code(std::errc::timed_out), "dial"));
  goro::error s = goro::wrap(sys, "connect");
  EXPECT_TRUE(s.code() == std::errc::timed_out);
  EXPECT_EQ(s.exception(), sys);
}

TEST(Error, WrapOfAnErrorExceptionContinuesTheChain) {
  goro::error low = goro::make_error("low");
  auto p = std::make_exception_ptr(goro::error_exception(low));
  goro::error top = goro::wrap(p, "top");
  EXPECT_EQ(chain_messages(top), (std::vector<std::string>{"top", "low"}));
  EXPECT_EQ(top.exception(), nullptr);
  EXPECT_EQ(top.inner().where().line_number(), low.where().line_number());
}

// ---- when and where ------------------------------------------------------------------

TEST(Error, WhenIsTheTimeOfMaking) {
  auto before = std::chrono::system_clock::now();
  goro::error e = goro::make_error("x");
  auto after = std::chrono::system_clock::now();
  EXPECT_LE(before, e.when());
  EXPECT_LE(e.when(), after);
  EXPECT_TRUE(contains(e.format(), "  when: ")) << e.format();
  // ISO 8601 in UTC, to the microsecond: "when: 2024-05-01T12:34:56.123456Z".
  std::string full = e.format();
  auto at = full.find("  when: ");
  auto line_end = full.find('\n', at);
  std::string when = full.substr(at + 8, line_end - at - 8);
  EXPECT_EQ(when.size(), 27u) << when;
  EXPECT_EQ(when.back(), 'Z') << when;
  EXPECT_EQ(when[10], 'T') << when;
}

TEST(Error, WhereIsTheCallSite) {
  // clang-format off
  goro::error made = goro::make_error("x"); const std::uint32_t made_line = __LINE__;
  goro::error wrapped = goro::wrap(made, "y"); const std::uint32_t wrapped_line = __LINE__;
  goro::error bare = goro::wrap(std::make_error_code(std::errc::io_error)); const std::uint32_t bare_line = __LINE__;
  // clang-format on
  EXPECT_EQ(made.where().line_number(), made_line);
  EXPECT_EQ(wrapped.where().line_number(), wrapped_line);
  EXPECT_EQ(bare.where().line_number(), bare_line);
  EXPECT_TRUE(ends_with(made.where().file_name(), "error_test.cpp")) << made.where().file_name();
  EXPECT_TRUE(contains(goro_error_test_make_here().where().function_name(), "goro_error_test_make_here"));
  std::string full = made.format();
  EXPECT_TRUE(contains(full, "error_test.cpp:" + std::to_string(made_line))) << full;
}

TEST(Error, GoroutineIdIsTheMakers) {
  goro::run([] {
    EXPECT_EQ(goro::make_error("main").goroutine_id(), goro::this_goroutine::id());
    constexpr int n = 8;
    auto results = goro::make_chan<std::pair<std::uint64_t, goro::error>>(n);
    for (int i = 0; i < n; ++i) {
      goro::go([results, i] {
        goro::yield();  // maybe move to another worker
        results.send({goro::this_goroutine::id(), goro::make_error("from goroutine {}", i)});
      });
    }
    std::vector<std::uint64_t> ids;
    for (int i = 0; i < n; ++i) {
      auto r = recv_within(goro::recv_chan<std::pair<std::uint64_t, goro::error>>(results));
      ASSERT_TRUE(r);
      EXPECT_NE(r->first, 0u);
      EXPECT_EQ(r->second.goroutine_id(), r->first);
      EXPECT_TRUE(contains(r->second.format(), "goroutine " + std::to_string(r->first)));
      ids.push_back(r->first);
    }
    std::sort(ids.begin(), ids.end());
    EXPECT_EQ(std::unique(ids.begin(), ids.end()), ids.end()) << "each goroutine has its own id";
  });
}

TEST(Error, OnAPlainThreadGoroutineIdIsZero) {
  goro::error e = goro::make_error("thread");
  EXPECT_EQ(e.goroutine_id(), 0u);
  EXPECT_EQ(e.thread_id(), std::this_thread::get_id());
  EXPECT_TRUE(contains(e.format(), "not in a goroutine")) << e.format();
}

// ---- stack traces --------------------------------------------------------------------

TEST(Error, StackTraceStartsAtTheCallerAndIsSymbolized) {
  goro::error e = goro_error_test_make_here();
  ASSERT_FALSE(e.frames().empty());
  EXPECT_LE(e.frames().size(), 64u);
  std::string trace = e.stack_trace();
  auto first_line = trace.substr(0, trace.find('\n'));
  EXPECT_TRUE(contains(first_line, "goro_error_test_make_here")) << trace;
  EXPECT_EQ(static_cast<std::size_t>(std::count(trace.begin(), trace.end(), '\n')), e.frames().size()) << trace;
  EXPECT_TRUE(contains(e.format(), "  stack:\n    #0 ")) << e.format();
  EXPECT_FALSE(contains(e.format(false), "stack:")) << e.format(false);
}

TEST(Error, StackTraceNamesFunctionsTheExecutableDoesNotExport) {
  goro::error e = goro_error_test_unexported_here();
  std::string trace = e.stack_trace();
  EXPECT_TRUE(contains(trace.substr(0, trace.find('\n')), "goro_error_test_unexported_here")) << trace;
}

TEST(Error, EachWrapHasItsOwnStack) {
  goro::error inner = goro::make_error("inner");
  goro::error outer = goro_error_test_wrap_here(inner);
  ASSERT_FALSE(outer.frames().empty());
  std::string trace = outer.stack_trace();
  EXPECT_TRUE(contains(trace.substr(0, trace.find('\n')), "goro_error_test_wrap_here")) << trace;
  EXPECT_FALSE(contains(inner.stack_trace(), "goro_error_test_wrap_here"));
  EXPECT_NE(outer.frames()[0], inner.frames()[0]);
}

TEST(Error, StackTraceInAGoroutineEndsAtItsBottomFrame) {
  goro::run([] {
    auto out = goro::make_chan<goro::error>(1);
    goro::go([out] { out.send(goro_error_test_make_here()); });
    auto e = recv_within(goro::recv_chan<goro::error>(out));
    ASSERT_TRUE(e);
    ASSERT_FALSE(e->frames().empty());
    EXPECT_LT(e->frames().size(), 64u) << "the unwinder should stop at the goroutine's first frame";
    EXPECT_TRUE(contains(e->stack_trace(), "goro_error_test_make_here")) << e->stack_trace();
  });
}

// ---- decoration ------------------------------------------------------------------------

TEST(Error, MiscKeyValuesKeepOrderAndReplace) {
  goro::error e = goro::make_error("x").with("path", "/a").with("attempt", 3).with("path", std::string("/b"));
  ASSERT_EQ(e.misc().size(), 2u);
  EXPECT_EQ(e.misc()[0].first, "path");
  EXPECT_EQ(e.misc()[1].first, "attempt");
  ASSERT_NE(e.misc("path"), nullptr);
  EXPECT_EQ(*e.misc("path"), "/b");
  ASSERT_NE(e.misc("attempt"), nullptr);
  EXPECT_EQ(*e.misc("attempt"), "3");
  EXPECT_EQ(e.misc("absent"), nullptr);
  EXPECT_TRUE(contains(e.format(), "  misc: path = /b\n  misc: attempt = 3\n")) << e.format();
  EXPECT_TRUE(goro::wrap(e, "outer").misc().empty()) << "misc belongs to one link of the chain";
}

TEST(Error, UserMessageIsSeparateFromTheFullLog) {
  goro::error low = goro::wrap(std::make_error_code(std::errc::no_such_file_or_directory), "stat /bad");
  goro::error mid = goro::wrap(low, "cannot run job {}", "\"1\"").with_user_message();
  EXPECT_TRUE(goro::is_user_facing(mid));
  EXPECT_FALSE(goro::is_user_facing(low));
  EXPECT_EQ(mid.user_message(), "cannot run job \"1\"");
  EXPECT_FALSE(goro::is_user_facing(goro::wrap(mid, "top"))) << "a wrapper decides anew";
  goro::error friendly = mid.with_user_message("Job 1 cannot run; its binary is missing.");
  EXPECT_EQ(friendly.user_message(), "Job 1 cannot run; its binary is missing.");
  EXPECT_EQ(friendly.message(), mid.message());

  goro::error logged = friendly.with_log_id("42");
  EXPECT_EQ(logged.log_id(), "42");
  EXPECT_EQ(friendly.log_id(), "");
  std::string full = logged.format();
  EXPECT_TRUE(contains(full, "error: cannot run job \"1\"\n  log id: 42\n  user message: Job 1")) << full;
  EXPECT_TRUE(contains(full, "caused by: stat /bad\n")) << full;
  EXPECT_TRUE(contains(full, "caused by: std::error_code generic:")) << full;
  EXPECT_EQ(logged.what_full(), full);
  EXPECT_GT(std::count(full.begin(), full.end(), '\n'), 8);

  // to_string and operator<< give only the message, as Go's Error() does.
  EXPECT_EQ(goro::to_string(logged), "cannot run job \"1\"");
  std::ostringstream os;
  os << logged;
  EXPECT_EQ(os.str(), "cannot run job \"1\"");
  EXPECT_EQ(goro::make_error("n={}", logged).message(), "n=cannot run job \"1\"");
}

// ---- across channels ------------------------------------------------------------------

TEST(Error, CrossesChannelsBetweenGoroutinesAndThreads) {
  goro::run([] {
    auto to_thread = goro::make_chan<goro::error>();
    auto from_thread = goro::make_chan<goro::error>();
    // A plain thread wraps what a goroutine made and sends it back.
    bounded_thread t([to_thread, from_thread] {
      for (goro::error e : to_thread) from_thread.send(goro::wrap(e, "seen by a thread").with("hop", "thread"));
      from_thread.close();
    });
    auto maker = goro::make_chan<std::uint64_t>(1);
    goro::go([to_thread, maker] {
      maker.send(goro::this_goroutine::id());
      to_thread.send(goro::make_error("made in a goroutine"));
      to_thread.close();
    });
    auto id = recv_within(goro::recv_chan<std::uint64_t>(maker));
    auto e = recv_within(goro::recv_chan<goro::error>(from_thread));
    ASSERT_TRUE(id);
    ASSERT_TRUE(e);
    EXPECT_EQ(chain_messages(*e), (std::vector<std::string>{"seen by a thread", "made in a goroutine"}));
    EXPECT_EQ(e->goroutine_id(), 0u) << "wrapped on a plain thread";
    EXPECT_EQ(e->inner().goroutine_id(), *id);
    EXPECT_NE(e->thread_id(), e->inner().thread_id());
    ASSERT_NE(e->misc("hop"), nullptr);
    EXPECT_EQ(*e->misc("hop"), "thread");
    EXPECT_FALSE(recv_within(goro::recv_chan<goro::error>(from_thread))) << "closed after one";
    t.join();
  });
}

TEST(Error, OneErrorIsReadByManyGoroutinesAndThreadsAtOnce) {
  goro::run([] {
    const goro::error shared = goro::wrap(goro::make_error("root"), "shared").with("k", "v");
    const std::string expected = shared.format();
    constexpr int n = 6;
    auto done = goro::make_chan<int>(2 * n);
    std::vector<std::unique_ptr<bounded_thread>> threads;
    for (int i = 0; i < n; ++i) {
      auto reader = [shared, expected, done] {
        goro::error copy = shared;
        bool same = copy.format() == expected && copy.with("k", "w").format() != expected;
        done.send(same ? 1 : 0);
      };
      goro::go(reader);
      threads.push_back(std::make_unique<bounded_thread>(reader));
    }
    int ok = 0;
    for (int i = 0; i < 2 * n; ++i) {
      auto v = recv_within(goro::recv_chan<int>(done));
      ASSERT_TRUE(v);
      ok += *v;
    }
    EXPECT_EQ(ok, 2 * n);
    for (auto& t : threads) t->join();
  });
}

// ---- exceptions ---------------------------------------------------------------------------

TEST(ErrorException, WhatIsTheMessageAndTheErrorComesBack) {
  goro::error e = goro::make_error("cannot {}", "frobnicate").with("k", "v");
  try {
    throw goro::error_exception(e);
  } catch (const std::exception& ex) {
    EXPECT_STREQ(ex.what(), "cannot frobnicate");
    goro::error back = goro::error::from_current_exception();
    EXPECT_EQ(&back.message(), &e.message()) << "the same error, not a copy of its state";
  }
  goro::error_exception from_empty{goro::error()};
  EXPECT_TRUE(from_empty.err());
}

TEST(ErrorException, FromCurrentExceptionWrapsOtherExceptionsAtTheCatchSite) {
  EXPECT_FALSE(goro::error::from_current_exception()) << "no exception is being handled";
  std::uint32_t line = 0;
  goro::error e;
  try {
    throw std::out_of_range("index 7");
  } catch (...) {
    // clang-format off
    e = goro::error::from_current_exception(); line = __LINE__;
    // clang-format on
  }
  ASSERT_TRUE(e);
  EXPECT_EQ(e.message(), "index 7");
  EXPECT_EQ(e.where().line_number(), line);
  EXPECT_THROW(std::rethrow_exception(e.exception()), std::out_of_range);
  EXPECT_FALSE(e.frames().empty());

  try {
    throw 42;
  } catch (...) {
    e = goro::error::from_current_exception();
  }
  EXPECT_EQ(e.message(), "unknown exception");
  EXPECT_TRUE(contains(e.format(), "not derived from std::exception")) << e.format();
}

TEST(ErrorException, ThrownInAGoroutineArrivesAsAnErrorOnAChannel) {
  goro::run([] {
    auto errs = goro::make_chan<goro::error>(1);
    goro::go([errs] {
      try {
        throw goro::error_exception(goro::wrap(std::make_error_code(std::errc::broken_pipe), "write"));
      } catch (...) {
        errs.send(goro::wrap(std::current_exception(), "in worker"));
      }
    });
    auto e = recv_within(goro::recv_chan<goro::error>(errs));
    ASSERT_TRUE(e);
    EXPECT_EQ(chain_messages(*e), (std::vector<std::string>{"in worker", "write"}));
    EXPECT_TRUE(e->code() == std::errc::broken_pipe);
  });
}

TEST(Error, TravelsInAResultThroughAChannel) {
  using res = goro::result<int, goro::error>;
  static_assert(std::is_nothrow_move_constructible_v<res>);
  goro::run([] {
    auto out = goro::make_chan<res>(2);
    goro::go([out] {
      out.send(res::ok(7));
      out.send(res::fail(goro::make_error("no value for {}", 8)));
    });
    auto good = recv_within(goro::recv_chan<res>(out));
    auto bad = recv_within(goro::recv_chan<res>(out));
    ASSERT_TRUE(good && bad);
    EXPECT_TRUE(*good);
    EXPECT_FALSE(good->error());
    EXPECT_EQ(**good, 7);
    EXPECT_FALSE(*bad);
    EXPECT_EQ(bad->error().message(), "no value for 8");
  });
}

TEST(Error, LowLevelFileSystemErrorWrapsItsCode) {
  std::error_code ec;
  (void)std::filesystem::status("/nonexistent/goro/error_test", ec);
  ASSERT_TRUE(ec);
  goro::error e = goro::wrap(ec, "stat {}", "/nonexistent/goro/error_test");
  EXPECT_TRUE(e.code() == std::errc::no_such_file_or_directory);
}

}  // namespace
