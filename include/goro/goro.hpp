// goro/goro.hpp: all of goro.
#pragma once

#include "goro/chan.hpp"
#include "goro/context.hpp"
#include "goro/errgroup.hpp"
#include "goro/errors.hpp"
#include "goro/runtime.hpp"
#include "goro/select.hpp"
#include "goro/singleflight.hpp"
#include "goro/sync.hpp"
#include "goro/time.hpp"
