#include "support/test_support.hpp"

#include <signal.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>

namespace goro_test {

bool under_sanitizer() noexcept {
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
  return true;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
  return true;
#else
  return false;
#endif
#else
  return false;
#endif
}

std::int64_t stress_scale() noexcept {
  std::int64_t scale = 1;
  if (const char* env = std::getenv("GORO_STRESS_SCALE")) {
    scale = std::atoll(env);
    if (scale < 1) scale = 1;
  }
  return scale;
}

namespace {

const char* alarm_what = "";  // set before the alarm is armed

void on_alarm(int) {
  ssize_t r = ::write(2, alarm_what, std::strlen(alarm_what));  // async-signal-safe
  (void)r;
  _exit(3);
}

}  // namespace

alarm_bound::alarm_bound(const char* what, std::chrono::seconds limit) {
  alarm_what = what;
  struct sigaction sa {};
  sa.sa_handler = &on_alarm;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGALRM, &sa, nullptr);
  alarm(static_cast<unsigned>(limit.count()));
}

alarm_bound::~alarm_bound() { alarm(0); }

}  // namespace goro_test
