// Fatal errors: a stack overflow and an uncaught exception end the program
// with a message naming the goroutine and where it was started.
#include <cstdlib>
#include <stdexcept>

#include "support/test_support.hpp"

namespace {

GORO_NOINLINE int overflow(int depth) {
  volatile char frame[1024];
  frame[0] = static_cast<char>(depth);
  return overflow(depth + 1) + frame[0];  // not a tail call
}

void overflow_in_a_goroutine() {
  goro::run([] {
    auto done = goro::make_chan<int>();
    goro::go([done] { done.send(overflow(0)); });
    done.recv();
  });
}

}  // namespace

TEST(DeathTest, StackOverflowNamesTheGoroutineAndItsSpawnSite) {
  EXPECT_DEATH(overflow_in_a_goroutine(), "stack overflow in goroutine [0-9]+.*started at .*death_test\\.cpp");
}

TEST(DeathTest, StackOverflowIsCaughtWithMprotectGuards) {
  EXPECT_DEATH(
      {
        setenv("GORO_STACK_GUARD", "mprotect", 1);
        overflow_in_a_goroutine();
      },
      "stack overflow in goroutine [0-9]+");
}

TEST(DeathTest, UncaughtExceptionNamesWhatGoroutineAndSpawnSite) {
  EXPECT_DEATH(goro::run([] {
                 auto done = goro::make_chan<int>();
                 goro::go([] { throw std::runtime_error("boom in a goroutine"); });
                 done.recv();
               }),
               "uncaught exception in goroutine [0-9]+ \\(started at .*death_test\\.cpp.*boom in a goroutine");
}

#if defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define GORO_TEST_TSAN 1
#endif
#endif

#if defined(GORO_TEST_TSAN)
// Disabled until the scheduler's own atomics stop synchronizing the goroutines
// that share a worker (see docs/design.md, "ThreadSanitizer").
// goro's switches do not synchronize goroutines: a race between two
// goroutines that share one worker is still a race, and TSan reports it.
TEST(DeathTest, DISABLED_TsanReportsARaceBetweenGoroutinesOnOneWorker) {
  EXPECT_EXIT(
      {
        setenv("GOMAXPROCS", "1", 1);
        setenv("TSAN_OPTIONS", "halt_on_error=1:exitcode=66", 1);
        static int shared = 0;
        goro::run([] {
          auto done = goro::make_chan<int>(2);
          for (int i = 0; i < 2; ++i) {
            goro::go([done] {
              for (int k = 0; k < 100; ++k) {
                shared = shared + 1;  // unsynchronized read-modify-write
                goro::yield();
              }
              done.send(1);
            });
          }
          done.recv();
          done.recv();
        });
        std::exit(0);
      },
      ::testing::ExitedWithCode(66), "data race");
}
#endif
