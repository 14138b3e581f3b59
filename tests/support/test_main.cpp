// tests/support/test_main.cpp: main() for every goro test binary. Adds
// goro's leak check (goro/gtest.hpp): a test that leaves goroutines behind
// fails, listing them, after a grace period for goroutines that are
// finishing (10 s: the sanitizer builds are slow).
#include <gtest/gtest.h>

#include <chrono>

#include "goro/gtest.hpp"

int main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  goro::testing::install_leak_check(std::chrono::seconds(10));
  return RUN_ALL_TESTS();
}
