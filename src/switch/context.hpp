// src/switch/context.hpp: the machine-level context switch.
//
// A machine_context is the saved state of a stopped execution context: with
// the assembly switch, only its stack pointer (the callee-saved registers and
// the floating-point control words are pushed on its own stack); with the
// ucontext fallback, a ucontext_t.
//
// Invariants:
//  - context_switch(from, to) saves the running context into *from and resumes
//    *to; it returns when some later switch resumes *from.
//  - A context made by context_make starts by calling entry(arg) on its stack;
//    entry must never return (it switches away for the last time instead).
//  - Nothing here knows about goroutines, schedulers or sanitizers: the
//    runtime wraps every switch with the sanitizer annotations.
#pragma once

#include <cstddef>

#if defined(GORO_SWITCH_UCONTEXT)
#include <ucontext.h>
#endif

namespace goro::detail {

struct machine_context {
#if defined(GORO_SWITCH_UCONTEXT)
  ucontext_t uc;
#else
  void* sp = nullptr;
#endif
};

using context_entry = void (*)(void* arg);

/// Prepares ctx to run entry(arg) on the stack [lo, hi) at its first resume.
void context_make(machine_context* ctx, void* lo, void* hi, context_entry entry, void* arg) noexcept;

#if defined(GORO_SWITCH_UCONTEXT)
/// Saves the running context into from and resumes to.
void context_switch(machine_context* from, machine_context* to) noexcept;
#else
extern "C" void goro_context_switch(void** from_sp, void* to_sp) noexcept;
/// Saves the running context into from and resumes to.
inline void context_switch(machine_context* from, machine_context* to) noexcept {
  goro_context_switch(&from->sp, to->sp);
}
#endif

}  // namespace goro::detail
