// tests/support/test_main.cpp: main() for every goro test binary. Adds the
// leak check: a test that leaves goroutines behind fails (after a bounded
// grace period for goroutines that are finishing).
#include <gtest/gtest.h>

#include <chrono>
#include <cstdlib>
#include <thread>

#include "support/test_support.hpp"

namespace {

class goroutine_leak_check : public ::testing::EmptyTestEventListener {
  void OnTestStart(const ::testing::TestInfo&) override { baseline_ = goro::num_goroutine(); }
  void OnTestEnd(const ::testing::TestInfo& info) override {
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (goro::num_goroutine() > baseline_ && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    std::int64_t now = goro::num_goroutine();
    if (now > baseline_) {
      ADD_FAILURE() << info.test_suite_name() << "." << info.name() << " left " << (now - baseline_)
                    << " goroutine(s) running";
    }
  }
  std::int64_t baseline_ = 0;
};

}  // namespace

int main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  ::testing::UnitTest::GetInstance()->listeners().Append(new goroutine_leak_check);
  return RUN_ALL_TESTS();
}
