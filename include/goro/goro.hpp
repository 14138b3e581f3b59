// goro/goro.hpp: all of goro.
#pragma once

// The core: goroutines, channels, select, timers, sync, context.
#include "goro/chan.hpp"
#include "goro/context.hpp"
#include "goro/debug.hpp"
#include "goro/errgroup.hpp"
#include "goro/errors.hpp"
#include "goro/runtime.hpp"
#include "goro/select.hpp"
#include "goro/singleflight.hpp"
#include "goro/sync.hpp"
#include "goro/time.hpp"

// The patterns of "Concurrency in Go" (patterns.hpp names them).
#include "goro/error.hpp"
#include "goro/heartbeat.hpp"
#include "goro/net.hpp"
#include "goro/pipeline.hpp"
#include "goro/rate.hpp"
#include "goro/replicate.hpp"
#include "goro/result.hpp"
#include "goro/steward.hpp"
#include "goro/stop.hpp"
