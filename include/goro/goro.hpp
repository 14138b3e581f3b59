// goro/goro.hpp: all of goro.
#pragma once

#include "goro/chan.hpp"
#include "goro/errors.hpp"
#include "goro/runtime.hpp"
#include "goro/select.hpp"
#include "goro/time.hpp"
