// tests/sync/sync_helpers.hpp: the names the sync tests (and the rate and
// error tests) use, from tests/support/test_support.hpp.
#pragma once

#include <goro/sync.hpp>

#include "support/test_support.hpp"

namespace sync_test {

using namespace std::chrono_literals;
using goro_test::bounded_thread;
using goro_test::give_a_chance;
using goro_test::in_goroutine;
using goro_test::ready_now;
using goro_test::scaled;
using goro_test::wait_for;
using goro_test::wait_limit;

}  // namespace sync_test
