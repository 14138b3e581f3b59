// src/runtime/netpoll.hpp: the netpoller (Go's netpoll_epoll.go and the
// pollDesc of netpoll.go): goroutines and threads wait for a socket to be
// ready through park/ready; one idle worker at a time waits in epoll instead
// of on its futex, and busy workers poll without blocking now and then.
//
// Each registered fd has a poll_desc. Descriptors are never freed (an epoll
// event may still name one after its fd was closed); a recycled descriptor
// gets a new generation, and events carry (generation, index), so a stale
// event is recognised and dropped.
//
// Readiness is edge-triggered. Per direction a descriptor has a `ready` flag
// (an edge came while nobody waited) and at most one waiter (conn serialises
// readers and writers). The I/O protocol, as in Go:
//   for (;;) {
//     if (auto r = netpoll_prepare(pd, mode); r != ready) return error(r);
//     n = syscall(fd, ...);
//     if (n >= 0 || errno != EAGAIN) return n;
//     if (auto r = netpoll_wait(pd, mode); r != ready) return error(r);
//   }
// An edge that comes between the EAGAIN and the wait sets `ready`, which
// the wait consumes: no edge is lost.
#pragma once

#include <atomic>
#include <cstdint>

namespace goro::detail {

struct poll_desc;

enum class poll_result : int { ready = 0, closed, timeout };
enum class poll_mode : int { read = 1, write = 2, both = 3 };

/// Registers fd (non-blocking) with the poller; null with errno set on failure.
poll_desc* netpoll_open(int fd) noexcept;
/// Marks pd closing and wakes its waiters with `closed`; later waits and
/// prepares return `closed` at once.
void netpoll_evict(poll_desc* pd) noexcept;
/// Deregisters pd's fd (call after netpoll_evict, once no goroutine or
/// thread is inside an I/O call on it, and before closing the fd). pd stays
/// closing: late calls on it (a deadline set by a context callback) are
/// harmless until netpoll_free.
void netpoll_close(poll_desc* pd) noexcept;
/// Recycles a closed pd: only once nobody can call anything on it any more.
void netpoll_free(poll_desc* pd) noexcept;
/// Whether an I/O call may go ahead: ready, or closed / timeout (a deadline passed).
poll_result netpoll_prepare(poll_desc* pd, poll_mode mode) noexcept;
/// Waits (parks the goroutine or blocks the thread) until fd is ready in
/// mode (read or write), pd is closed, or the deadline passes.
poll_result netpoll_wait(poll_desc* pd, poll_mode mode) noexcept;
/// Sets the deadline of mode (read, write or both): nanotime() value, 0 for
/// none; a deadline that has passed wakes the waiter with timeout.
void netpoll_set_deadline(poll_desc* pd, std::int64_t when, poll_mode mode) noexcept;

// ---- the scheduler's side ----------------------------------------------------

/// Whether anybody waits on the poller (so polling could ready someone).
bool netpoll_has_waiters() noexcept;
/// Whether a worker is blocked in epoll right now.
bool netpoll_worker_blocked() noexcept;
/// Polls: timeout_ns 0 returns at once, < 0 waits without limit; readies the
/// waiters of every ready descriptor (onto the calling worker's run queue).
/// As soon as the wait returns, clears `bit` in *word if word is given (the
/// worker's wake_in_poll). Returns how many waiters it readied. Only one
/// caller at a time may block (timeout != 0): see netpoll_try_block.
int netpoll_poll(std::int64_t timeout_ns, std::atomic<std::uint32_t>* word, std::uint32_t bit) noexcept;
/// Claims the right to block in netpoll_poll; netpoll_unblock gives it back.
bool netpoll_try_block() noexcept;
void netpoll_unblock() noexcept;
/// Makes a blocked netpoll_poll return (from wakep, for the polling worker).
void netpoll_break() noexcept;
/// Whether a blocking poll keeps a timeout to the nanosecond (epoll_pwait2),
/// not only to the millisecond.
bool netpoll_precise() noexcept;
/// Non-blocking poll if none ran for a while; for busy workers (next_local).
void netpoll_poll_if_stale(std::int64_t now) noexcept;

}  // namespace goro::detail
