// goro/errors.hpp: the exceptions goro throws for misuse that Go panics on.
//
// Go panics on a send on a closed channel, on closing a closed or nil channel,
// on a negative WaitGroup counter. goro throws a goro::panic_error for each,
// so a C++ caller can catch it; left uncaught inside a goroutine it ends the
// program with the message, like an unrecovered Go panic.
#pragma once

#include <stdexcept>

namespace goro {

/// Base of every exception goro throws for a misuse Go would panic on.
class panic_error : public std::logic_error {
 public:
  using std::logic_error::logic_error;
};

/// send on a closed channel (Go: "send on closed channel").
class closed_channel_error : public panic_error {
 public:
  using panic_error::panic_error;
};

}  // namespace goro
