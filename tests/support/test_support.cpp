#include "support/test_support.hpp"

#include <cstdlib>

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

}  // namespace goro_test
