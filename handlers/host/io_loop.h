// What an event loop offers the handlers that run on it.
#pragma once

struct io_uring_sqe;
struct lunkit_uring_completion;

namespace lunkit {

class IoLoop {
 public:
  virtual ~IoLoop() = default;
  // An SQE on the loop's io_uring whose completion calls `completion->done`; null when full.
  virtual io_uring_sqe* get_sqe(lunkit_uring_completion* completion) = 0;

  // The loop running on the calling thread, if any. An io_uring has one submitter, so a handler's
  // SQE must come from the ring of the thread it runs on: with ublk, one device is served by
  // several queue loops at once.
  static IoLoop* current() { return current_; }

  // Makes `loop` the calling thread's loop while it lives.
  class Scope {
   public:
    explicit Scope(IoLoop* loop) : previous_(current_) { current_ = loop; }
    ~Scope() { current_ = previous_; }
    Scope(const Scope&) = delete;
    Scope& operator=(const Scope&) = delete;

   private:
    IoLoop* previous_;
  };

 private:
  // One variable for the process (an inline variable is merged across lunkit's shared libraries).
  static inline thread_local IoLoop* current_ = nullptr;
};

}  // namespace lunkit
