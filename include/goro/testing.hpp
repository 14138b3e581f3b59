// goro/testing.hpp: checks for tests, in any test framework.
//
//   auto before = goro::testing::snapshot();
//   ... the test ...
//   std::string leaks = goro::testing::check_leaks(before);   // "" if none
//
// A goroutine leaks when it exists at the end of a test and did not at the
// start. Goroutines may still be finishing when the test body returns (a
// closed channel was the signal to stop), so check_leaks waits up to `grace`
// for them before it reports; it returns as soon as none is left (and no
// goroutine is waiting for its first run, which might be one that leaks).
// Goroutines of a deadlock run() already reported are not counted.
//
// GoogleTest: goro/gtest.hpp installs this check around every test.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "goro/debug.hpp"

namespace goro::testing {

/// The goroutines that exist at one moment (their ids, ascending).
struct goroutine_set {
  std::vector<std::uint64_t> ids;
};

/// The goroutines that exist now.
GORO_API goroutine_set snapshot();

/// The goroutines that exist now, did not exist at `before` and are not part
/// of a reported deadlock; waits up to `grace` for them to finish first.
GORO_API std::vector<goroutine_info> leaked_since(const goroutine_set& before,
                                                  std::chrono::milliseconds grace = std::chrono::seconds(5));

/// leaked_since, formatted: empty if none leaked, else
/// "3 goroutines leaked:" and each one in the dump format. Goroutines that
/// have still not run when the grace period ends are counted as leaked
/// ("(and 2 not yet started)"): they outlived the test.
GORO_API std::string check_leaks(const goroutine_set& before,
                                 std::chrono::milliseconds grace = std::chrono::seconds(5));

}  // namespace goro::testing
