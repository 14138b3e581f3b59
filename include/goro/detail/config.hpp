// goro/detail/config.hpp: export macro and small portable pieces every header needs.
// Not API.
#pragma once

#include <cstdint>

#if defined(GORO_STATIC)
#define GORO_API
#elif defined(GORO_BUILDING_LIBRARY)
#define GORO_API __attribute__((visibility("default")))
#else
#define GORO_API __attribute__((visibility("default")))
#endif

#define GORO_NOINLINE __attribute__((noinline))

namespace goro {

/// Where a goroutine was started. std::source_location would do, but clang 14
/// cannot build libstdc++ 12's <source_location>; the builtins below are what
/// std::source_location::current() uses underneath, on both compilers.
struct source_location {
  const char* file = "";
  const char* function = "";
  std::uint32_t line = 0;

  static constexpr source_location current(const char* file = __builtin_FILE(),
                                           const char* function = __builtin_FUNCTION(),
                                           std::uint32_t line = __builtin_LINE()) noexcept {
    return source_location{file, function, line};
  }
  constexpr const char* file_name() const noexcept { return file; }
  constexpr const char* function_name() const noexcept { return function; }
  constexpr std::uint32_t line_number() const noexcept { return line; }
};

}  // namespace goro
