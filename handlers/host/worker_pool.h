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
  explicit WorkerPool(unsigned threads);
  ~WorkerPool();
  // Runs job(request) on a worker; the job must eventually complete the request.
  void run(BlockRequest& request, Job job);
  unsigned size() const { return static_cast<unsigned>(threads_.size()); }
  // Waits until nothing is queued and no worker is inside a job: a job may still be returning
  // through a handler's code after it completed its request, so a handler is closed (and its
  // code unloaded) only after this.
  void wait_idle();

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
