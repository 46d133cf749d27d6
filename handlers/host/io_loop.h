// What a device's event loop offers the handlers that run on it.
#pragma once

struct io_uring_sqe;
struct lunkit_uring_completion;

namespace lunkit {

class IoLoop {
 public:
  virtual ~IoLoop() = default;
  // An SQE on the loop's io_uring whose completion calls `completion->done`; null when full.
  virtual io_uring_sqe* get_sqe(lunkit_uring_completion* completion) = 0;
};

}  // namespace lunkit
