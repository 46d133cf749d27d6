#include "handlers/host/worker_pool.h"

namespace lunkit::plugins {
namespace {
// device_scratch[2]: the next queued request; [3]: the job; [5]: its owner's tally.
BlockRequest* next_of(const BlockRequest& r) {
  return reinterpret_cast<BlockRequest*>(r.device_scratch[2]);
}
void set_next(BlockRequest& r, BlockRequest* next) {
  r.device_scratch[2] = reinterpret_cast<uint64_t>(next);
}
WorkerPool::Tally* tally_of(const BlockRequest& r) {
  return reinterpret_cast<WorkerPool::Tally*>(r.device_scratch[5]);
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

void WorkerPool::run(BlockRequest& request, Job job, Tally* tally) {
  request.device_scratch[3] = reinterpret_cast<uint64_t>(job);
  request.device_scratch[5] = reinterpret_cast<uint64_t>(tally);
  set_next(request, nullptr);
  {
    std::lock_guard lock(mu_);
    if (tally) ++tally->jobs;
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
  Tally* finished_tally = nullptr;  // read before the job ran: the request may be reused since
  for (;;) {
    BlockRequest* r;
    {
      std::unique_lock lock(mu_);
      // The job just run is accounted for under the same lock that takes the next one.
      bool notify = false;
      if (finished_tally && --finished_tally->jobs == 0) notify = true;
      if (finished_one && --busy_ == 0 && !head_) notify = true;
      if (notify) idle_cv_.notify_all();
      cv_.wait(lock, [&] { return stop_ || head_; });
      if (!head_) return;  // stopping with nothing queued
      r = head_;
      head_ = next_of(*r);
      if (!head_) tail_ = nullptr;
      ++busy_;
      finished_tally = tally_of(*r);
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

namespace lunkit::plugins {

void WorkerPool::wait_idle(const Tally& tally) {
  std::unique_lock lock(mu_);
  idle_cv_.wait(lock, [&] { return tally.jobs == 0; });
}

}  // namespace lunkit::plugins
