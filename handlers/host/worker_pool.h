// A bounded pool of threads for handlers that may block. Requests queue intrusively (through
// their device_scratch), so queueing allocates nothing.
#pragma once

#include <condition_variable>
#include <mutex>
#include <thread>
#include <vector>

#include "lunkit/block_device.h"

namespace lunkit::plugins {

class WorkerPool {
 public:
  using Job = void (*)(BlockRequest& request);
  // Counts one owner's (one device's) jobs that are queued or running; guarded by the pool's
  // lock, so counting costs no lock of its own.
  struct Tally {
    unsigned jobs = 0;
  };
  explicit WorkerPool(unsigned threads);
  ~WorkerPool();
  // Runs job(request) on a worker; the job must eventually complete the request. `tally`
  // (optional) counts the job until the worker has returned from it.
  void run(BlockRequest& request, Job job, Tally* tally = nullptr);
  unsigned size() const { return static_cast<unsigned>(threads_.size()); }
  // Waits until nothing is queued and no worker is inside a job: a job may still be returning
  // through a handler's code after it completed its request, so a handler is closed (and its
  // code unloaded) only after this.
  void wait_idle();
  // Waits until none of `tally`'s jobs is queued or running: another owner's work may go on
  // (removing one LUN does not wait for the others).
  void wait_idle(const Tally& tally);

 private:
  void work();
  std::mutex mu_;
  std::condition_variable cv_;
  BlockRequest* head_ = nullptr;
  BlockRequest* tail_ = nullptr;
  bool stop_ = false;
  unsigned busy_ = 0;
  std::condition_variable idle_cv_;
  std::vector<std::thread> threads_;
};

}  // namespace lunkit::plugins
