// goro/patterns.hpp: the concurrency patterns of "Concurrency in Go"
// (ch. 4 and 5) built on goro's public API, and all of goro with them.
// Every pattern takes a goro::stop_signal (a done channel or a context)
// first and stops when it closes (stop.hpp).
#pragma once

#include "goro/goro.hpp"

#include "goro/error.hpp"      // error, wrap: error propagation
#include "goro/heartbeat.hpp"  // heartbeat, heartbeat_per_unit
#include "goro/pipeline.hpp"   // generators, stages, or-channel, or-done, tee, bridge, fan-out/in
#include "goro/rate.hpp"       // rate::limiter, rate::multi_limiter
#include "goro/replicate.hpp"  // first_of
#include "goro/result.hpp"     // result<T>
#include "goro/steward.hpp"    // steward
#include "goro/stop.hpp"       // stop_signal, make_done
