// Which errors a device completes a request with mean "not now" rather than "never", in one
// place for every frontend.
#pragma once

#include <cerrno>

namespace lunkit {

// The storage is unreachable for a moment (a cluster's operation timeout, a reconnect in
// progress) or something ran short (a full io_uring, memory): the same request may well succeed
// if it is sent again. Every frontend gets it sent again instead of failing it: libscsi answers
// BUSY (TASK SET FULL for ENOMEM) and the initiator retries; the ublk server, whose block layer has
// no timeout to retry with, re-issues the request itself after a back-off, for up to its retry
// timeout (man lunkit). `err` may be positive or negative.
constexpr bool is_transient_error(int err) {
  switch (err < 0 ? -err : err) {
    case EAGAIN:  // also EWOULDBLOCK; what a handler completes with when lunkit_get_sqe() fails
    case EBUSY:
    case ETIMEDOUT:
    case ENOTCONN:
    case ECONNRESET:
    case ESHUTDOWN:
    case EINTR:
    case ENOMEM:
      return true;
    default:
      return false;
  }
}

}  // namespace lunkit
