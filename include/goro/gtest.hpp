// goro/gtest.hpp: goro's leak check for GoogleTest (include after gtest).
//
//   int main(int argc, char** argv) {
//     ::testing::InitGoogleTest(&argc, argv);
//     goro::testing::install_leak_check();
//     return RUN_ALL_TESTS();
//   }
//
// Every test that leaves goroutines behind (after a grace period for the
// ones finishing) then fails, listing them in the dump format.
#pragma once

#include <gtest/gtest.h>

#include <chrono>
#include <string>

#include "goro/testing.hpp"

namespace goro::testing {

/// A GoogleTest listener: a snapshot at each test's start, check_leaks at
/// its end (reported as a failure of that test).
class leak_check_listener : public ::testing::EmptyTestEventListener {
 public:
  explicit leak_check_listener(std::chrono::milliseconds grace = std::chrono::seconds(5)) : grace_(grace) {}

  void OnTestStart(const ::testing::TestInfo&) override { before_ = snapshot(); }
  void OnTestEnd(const ::testing::TestInfo&) override {
    std::string leaks = check_leaks(before_, grace_);
    if (!leaks.empty()) ADD_FAILURE() << leaks;
  }

 private:
  std::chrono::milliseconds grace_;
  goroutine_set before_;
};

/// Appends a leak_check_listener to GoogleTest's listeners (owned by GoogleTest).
inline void install_leak_check(std::chrono::milliseconds grace = std::chrono::seconds(5)) {
  ::testing::UnitTest::GetInstance()->listeners().Append(new leak_check_listener(grace));
}

}  // namespace goro::testing
