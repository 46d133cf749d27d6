#include "handlers/host/worker_pool.h"

namespace lunkit::plugins {
namespace {
// device_scratch[2]: the next queued request; [3]: the job.
BlockRequest* next_of(const BlockRequest& r) {
  return reinterpret_cast<BlockRequest*>(r.device_scratch[2]);
}
void set_next(BlockRequest& r, BlockRequest* next) {
  r.device_scratch[2] = reinterpret_cast<uint64_t>(next);
}
}  // namespace

WorkerPool::WorkerPool(unsigned threads) {
  for (unsigned i = 0; i < threads; ++i) threads_.emplace_back([this] { work(); });
}

WorkerPool::~WorkerPool() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  for (auto& t : threads_) t.join();
}

void WorkerPool::run(BlockRequest& request, Job job) {
  request.device_scratch[3] = reinterpret_cast<uint64_t>(job);
  set_next(request, nullptr);
  {
    std::lock_guard lock(mu_);
    if (tail_)
      set_next(*tail_, &request);
    else
      head_ = &request;
    tail_ = &request;
  }
  cv_.notify_one();
}

void WorkerPool::work() {
  bool finished_one = false;
  for (;;) {
    BlockRequest* r;
    {
      std::unique_lock lock(mu_);
      // The job just run is accounted for under the same lock that takes the next one.
      if (finished_one && --busy_ == 0 && !head_) idle_cv_.notify_all();
      cv_.wait(lock, [&] { return stop_ || head_; });
      if (!head_) return;  // stopping with nothing queued
      r = head_;
      head_ = next_of(*r);
      if (!head_) tail_ = nullptr;
      ++busy_;
    }
    reinterpret_cast<Job>(r->device_scratch[3])(*r);
    finished_one = true;
  }
}

void WorkerPool::wait_idle() {
  std::unique_lock lock(mu_);
  idle_cv_.wait(lock, [&] { return busy_ == 0 && !head_; });
}

}  // namespace lunkit::plugins
