#include "ublk/queue.h"

#include <fcntl.h>
#include <pthread.h>
#include <spdlog/spdlog.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <unistd.h>

#include <bit>
#include <cerrno>
#include <cstring>

#include "common/transient_error.h"

namespace lunkit::ublk {
namespace {

constexpr uint64_t kWakeTag = 1;  // user_data of the eventfd read (never a valid pointer)

void notify(int fd) {
  uint64_t one = 1;
  (void)!write(fd, &one, sizeof one);
}

}  // namespace

std::vector<TagId> spread_tags(uint16_t queues, uint16_t depth, uint16_t threads, uint16_t thread) {
  std::vector<TagId> tags;
  if (threads == 0 || thread >= threads) return tags;
  for (uint16_t q = 0; q < queues; ++q)
    for (uint32_t t = thread; t < depth; t += threads)
      tags.push_back({q, static_cast<uint16_t>(t)});
  return tags;
}

Result<std::unique_ptr<Queue>> Queue::create(const QueueConfig& config, BlockDevice& device) {
  if (config.depth == 0 || config.depth > kMaxQueueDepth)
    return Error{"queue depth must be 1 to " + std::to_string(kMaxQueueDepth)};
  std::vector<TagId> tags;
  if (config.tags)
    tags = *config.tags;
  else
    for (uint16_t t = 0; t < config.depth; ++t) tags.push_back({config.q_id, t});
  if (tags.empty()) return Error{config.name + ": a server thread with no tags to serve"};
  // One ring carries every tag's command and I/O (setup_ring()); a thread serves at most as many
  // tags as one queue can have.
  if (tags.size() > kMaxQueueDepth)
    return Error{config.name + ": " + std::to_string(tags.size()) +
                 " tags for one server thread; at most " + std::to_string(kMaxQueueDepth) +
                 " (use more threads)"};
  std::unique_ptr<Queue> q(new Queue(config, device));
  q->slots_ = static_cast<uint16_t>(tags.size());
  q->char_fd_.reset(fcntl(config.char_fd, F_DUPFD_CLOEXEC, 3));
  if (!q->char_fd_) return Error{std::string("dup ublk char device: ") + std::strerror(errno)};
  // The kernel's descriptor array of each queue served: read-only, one 24-byte entry per tag.
  std::vector<const uint8_t*> descriptors;  // by q_id
  for (const TagId& id : tags) {
    if (id.tag >= config.depth)
      return Error{config.name + ": tag " + std::to_string(id.tag) + " past the queue depth"};
    if (id.q_id < descriptors.size() && descriptors[id.q_id]) continue;
    off_t offset = static_cast<off_t>(descriptors_offset(id.q_id, page_size()));
    size_t length = descriptors_bytes(config.depth, page_size());
    void* d =
        mmap(nullptr, length, PROT_READ, MAP_SHARED | MAP_POPULATE, q->char_fd_.get(), offset);
    if (d == MAP_FAILED)
      return Error{"mmap the descriptors of queue " + std::to_string(id.q_id) + ": " +
                   std::strerror(errno)};
    q->descriptors_.emplace_back(d, length);
    if (descriptors.size() <= id.q_id) descriptors.resize(id.q_id + 1u, nullptr);
    descriptors[id.q_id] = static_cast<const uint8_t*>(d);
  }
  // Without zero copy the kernel copies each request's data to or from a buffer of the tag's.
  if (!config.zero_copy) {
    size_t buffers = size_t{q->slots_} * config.io_buf_bytes;
    void* b = mmap(nullptr, buffers, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (b == MAP_FAILED)
      return Error{"allocate " + std::to_string(buffers) +
                   " bytes of request buffers: " + std::strerror(errno)};
    q->buffers_ = Mapping(b, buffers);
  }
  const DeviceInfo& info = device.info();
  q->block_size_ = info.logical_block_size;
  q->set_device_bytes(info.num_blocks * info.logical_block_size);
  q->can_unmap_ = info.thin_provisioning;
  q->tags_ = std::make_unique<Tag[]>(q->slots_);
  for (uint16_t i = 0; i < q->slots_; ++i) {
    Tag& t = q->tags_[i];
    t.completion.uring.done = &Queue::on_tag_cqe;
    t.completion.tag = &t;
    t.retry.uring.done = &Queue::on_retry_cqe;
    t.retry.tag = &t;
    t.queue = q.get();
    t.q_id = tags[i].q_id;
    t.tag = tags[i].tag;
    t.slot = i;
    t.descriptor = descriptors[t.q_id] + size_t{t.tag} * sizeof(IoDesc);
    if (!config.zero_copy)
      t.buffer = static_cast<uint8_t*>(q->buffers_.base()) + size_t{i} * config.io_buf_bytes;
  }
  q->wake_.reset(eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  if (!q->wake_) return Error{std::string("eventfd: ") + std::strerror(errno)};
  return q;
}

Queue::~Queue() {
  stop();
  join();
}

void Queue::start(int exit_fd) {
  exit_fd_ = exit_fd;
  thread_ = std::thread([this] { run(); });
}

Result<bool> Queue::wait_ready() {
  std::unique_lock lock(ready_mu_);
  ready_cv_.wait(lock, [&] { return ready_; });
  if (!ready_error_.empty()) return Error{ready_error_};
  return true;
}

void Queue::set_ready(std::string error) {
  std::lock_guard lock(ready_mu_);
  ready_ = true;
  ready_error_ = std::move(error);
  ready_cv_.notify_all();
}

void Queue::stop() {
  stop_.store(true, std::memory_order_release);
  notify(wake_.get());
}

void Queue::join() {
  if (thread_.joinable()) thread_.join();
}

Result<bool> Queue::setup_ring() {
  // Room for one command per tag, one handler I/O per tag and the eventfd read: after a submit
  // there is always a free SQE, and the CQ (twice as large) cannot overflow.
  unsigned entries = std::bit_ceil(2u * slots_ + 16u);
  io_uring_params p{};
  // One submitter, and completions run only when the thread waits for them: the queue thread is
  // the only one that touches the ring (the kernel requires it for ublk commands anyway).
  p.flags = IORING_SETUP_COOP_TASKRUN | IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN |
            IORING_SETUP_CQSIZE;
  p.cq_entries = 2 * entries;
  int rc = io_uring_queue_init_params(entries, &ring_, &p);
  if (rc == -EINVAL) {  // a kernel older than 6.1: plain ring
    p = io_uring_params{};
    p.flags = IORING_SETUP_CQSIZE;
    p.cq_entries = 2 * entries;
    rc = io_uring_queue_init_params(entries, &ring_, &p);
  }
  if (rc < 0) return Error{std::string("io_uring_queue_init: ") + std::strerror(-rc)};
  ring_ready_ = true;
  int fd = char_fd_.get();
  rc = io_uring_register_files(&ring_, &fd, 1);
  if (rc < 0) return Error{std::string("io_uring_register_files: ") + std::strerror(-rc)};
  if (config_.zero_copy) {  // one empty slot per tag, for the kernel to lend requests' pages in
    rc = io_uring_register_buffers_sparse(&ring_, slots_);
    if (rc < 0)
      return Error{std::string("io_uring_register_buffers_sparse: ") + std::strerror(-rc)};
  }
  cqes_.reserve(p.cq_entries);
  return true;
}

io_uring_sqe* Queue::next_sqe() {
  io_uring_sqe* sqe = io_uring_get_sqe(&ring_);
  if (!sqe) {  // hand what is queued to the kernel: that frees the SQ
    io_uring_submit(&ring_);
    sqe = io_uring_get_sqe(&ring_);
  }
  return sqe;
}

io_uring_sqe* Queue::get_sqe(lunkit_uring_completion* completion) {
  io_uring_sqe* sqe = next_sqe();
  if (sqe) io_uring_sqe_set_data64(sqe, reinterpret_cast<uint64_t>(completion));
  return sqe;
}

void prep_io_cmd(io_uring_sqe* sqe, uint32_t op, const IoCmd& cmd, int buffer) {
  std::memset(sqe, 0, sizeof *sqe);
  sqe->opcode = IORING_OP_URING_CMD;
  sqe->fd = 0;  // the registered /dev/ublkcN
  sqe->flags = IOSQE_FIXED_FILE;
  sqe->cmd_op = op;
  // Zero copy: the kernel registers the request's pages as buffer `buffer` of this ring; without
  // the fallback flag, a slot that cannot take them fails the request (it cannot happen here:
  // every commit comes on this ring, so the kernel has emptied the slot).
  if (buffer >= 0) sqe->addr = auto_buf_reg_sqe_addr(static_cast<uint16_t>(buffer));
  std::memcpy(reinterpret_cast<uint8_t*>(sqe) + 48, &cmd, sizeof cmd);  // the command area
}

void Queue::submit_io_cmd(Tag& t, uint32_t op, int32_t result) {
  if (config_.driver) return config_.driver->io_cmd(*this, t.slot, op, result);
  io_uring_sqe* sqe = next_sqe();
  if (!sqe) {  // cannot happen with the ring sized as in setup_ring(); never lose it silently
    spdlog::critical("{}: no SQE for tag {} of queue {}; the request is lost", config_.name, t.tag,
                     t.q_id);
    return;
  }
  // IoCmd::addr: the tag's buffer, for the kernel to copy through; 0 with zero copy.
  prep_io_cmd(sqe, op, IoCmd{t.q_id, t.tag, result, reinterpret_cast<uint64_t>(t.buffer)},
              config_.zero_copy ? t.slot : -1);
  io_uring_sqe_set_data64(sqe, reinterpret_cast<uint64_t>(&t.completion.uring));
}

int Queue::lend_buffer(uint16_t index, void* base, size_t length) {
  iovec iov{base, length};
  int rc = io_uring_register_buffers_update_tag(&ring_, index, &iov, nullptr, 1);
  if (rc < 0) return rc;
  // Memory registered from user space is addressed by its own addresses, pages the kernel lends
  // from 0: the request's iovec starts where the buffer does.
  tags_[index].fixed_base = static_cast<uint8_t*>(base);
  return 0;
}

void Queue::arm_wake() {
  io_uring_sqe* sqe = next_sqe();
  if (!sqe) return;
  io_uring_prep_read(sqe, wake_.get(), &wake_value_, sizeof wake_value_, 0);
  io_uring_sqe_set_data64(sqe, kWakeTag);
  wake_armed_ = true;
}

void Queue::deliver(uint16_t slot, int32_t res) {
  on_tag_cqe(&tags_[slot].completion.uring, res);
}

void Queue::on_tag_cqe(lunkit_uring_completion* c, int32_t res) {
  Tag& t = *reinterpret_cast<TagCompletion*>(c)->tag;
  Queue& q = *t.queue;
  if (res == kIoResOk) return q.serve(t);
  // The tag is no longer the kernel's to hand out: aborted by STOP_DEV, or refused.
  ++q.aborted_;
  if (res != kIoResAbort)
    spdlog::error("{}: tag {} of queue {}: the kernel refused the command: {}", q.config_.name,
                  t.tag, t.q_id, std::strerror(-res));
}

void Queue::serve(Tag& t) {
  IoDesc desc;
  std::memcpy(&desc, t.descriptor, sizeof desc);
  ++stats_.requests;
  int rc = decode(desc, device_bytes_.load(std::memory_order_relaxed), block_size_,
                  config_.io_buf_bytes, can_unmap_, config_.read_only, &t.request);
  if (rc) {
    ++stats_.errors;
    return submit_io_cmd(t, kUIoCommitAndFetchReq, rc);
  }
  const Request& r = t.request;
  BlockRequest& b = t.block;
  b.offset = r.offset;
  b.length = r.length;
  b.flags = r.flags;
  // Zero copy: the start of registered buffer `slot` (address 0 of the pages the kernel lends).
  t.iov = iovec{config_.zero_copy ? t.fixed_base : t.buffer, static_cast<size_t>(r.length)};
  const bool moves_data = r.op == Op::kRead || r.op == Op::kWrite;
  b.iov = moves_data ? std::span<const iovec>(&t.iov, 1) : std::span<const iovec>();
  if (moves_data && config_.zero_copy) {
    b.flags |= block_fixed_buffer_flags(t.slot);
    ++stats_.zero_copy;
  }
  b.on_complete = &Queue::on_block_complete;
  b.context = &t;
  t.with_device = true;
  ++with_device_;
  t.retries = 0;
  issue(t);
}

// Hands the request to the device: the first time, and again after a transient error.
void Queue::issue(Tag& t) {
  BlockRequest& b = t.block;
  b.extents = {};
  b.extent_count = 0;
  b.miscompare_offset = 0;
  switch (t.request.op) {
    case Op::kRead:
      return device_.read(b);
    case Op::kWrite:
      return device_.write(b);
    case Op::kFlush:
      return device_.flush(b);
    case Op::kDiscard:
      return device_.unmap(b);
    case Op::kWriteZeroes:
      return device_.write_zeroes(b);
  }
}

void Queue::on_block_complete(BlockRequest& r, int status) {
  Tag& t = *static_cast<Tag*>(r.context);
  Queue& q = *t.queue;
  t.status = status;
  // On the queue's own thread the result goes straight into the ring.
  if (IoLoop::current() == &q) return q.complete(t);
  if (q.remote_done_.push(&t)) notify(q.wake_.get());
}

// On the queue's thread: commits the device's answer, or holds the request for another try.
void Queue::complete(Tag& t) {
  if (t.status < 0 && is_transient_error(t.status) && retry(t)) return;
  t.with_device = false;
  --with_device_;
  int32_t result = commit_result(t.request, t.status);
  if (result < 0) ++stats_.errors;
  submit_io_cmd(t, kUIoCommitAndFetchReq, result);
}

// A privileged ublk device has no timeout: the block layer would hand a transient error straight
// to the file system as an I/O error. Instead the request waits on a timer on this ring (no
// thread sleeps, nothing is allocated) and is issued again, until the retry timeout has passed
// since its first transient error; then it fails with -EIO (and the error is logged).
bool Queue::retry(Tag& t) {
  auto now = std::chrono::steady_clock::now();
  if (t.retries == 0) t.first_failure = now;
  const auto limit = std::chrono::milliseconds(config_.retry_timeout_ms);
  const auto waited = now - t.first_failure;
  if (limit.count() == 0) return false;  // retries are off: the handler's error as it is
  io_uring_sqe* sqe =
      waited < limit && !stop_.load(std::memory_order_acquire) ? next_sqe() : nullptr;
  if (!sqe) {
    ++stats_.gave_up;
    spdlog::error(
        "{}: tag {} of queue {}: the handler still fails the request ({}) after {} retries in {} "
        "ms; it fails with an I/O error",
        config_.name, t.tag, t.q_id, std::strerror(-t.status), t.retries,
        std::chrono::duration_cast<std::chrono::milliseconds>(waited).count());
    t.status = -EIO;
    return false;
  }
  // The last wait ends at the limit, so that the last try is made when it is reached.
  auto wait = std::min<std::chrono::steady_clock::duration>(
      std::chrono::milliseconds(retry_delay_ms(t.retries)), limit - waited);
  auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(wait).count();
  t.retry_wait.tv_sec = ns / 1000000000;
  t.retry_wait.tv_nsec = ns % 1000000000;
  io_uring_prep_timeout(sqe, &t.retry_wait, 0, 0);
  io_uring_sqe_set_data64(sqe, reinterpret_cast<uint64_t>(&t.retry.uring));
  if (t.retries == 0)
    spdlog::debug("{}: tag {} of queue {}: transient error ({}); retrying", config_.name, t.tag,
                  t.q_id, std::strerror(-t.status));
  ++t.retries;
  ++stats_.retries;
  return true;
}

void Queue::on_retry_cqe(lunkit_uring_completion* c, int32_t) {
  Tag& t = *reinterpret_cast<TagCompletion*>(c)->tag;
  t.queue->issue(t);  // -ETIME: the wait is over (a ring that is closing runs no completions)
}

void Queue::reap() {
  io_uring_cqe* cqe;
  unsigned head, seen = 0;
  io_uring_for_each_cqe(&ring_, head, cqe) {
    ++seen;
    cqes_.emplace_back(io_uring_cqe_get_data64(cqe), cqe->res);
  }
  io_uring_cq_advance(&ring_, seen);
  // Completions run after the CQ is advanced: they queue new commands and I/O.
  for (auto [data, res] : cqes_) {
    if (data == kWakeTag) {
      wake_armed_ = false;
      continue;
    }
    auto* c = reinterpret_cast<lunkit_uring_completion*>(data);
    c->done(c, res);
  }
  cqes_.clear();
  for (Tag* t = remote_done_.take_all(); t;) {
    Tag* next = t->next;
    ++stats_.remote_completions;
    complete(*t);
    t = next;
  }
  run_posted();
  if (!wake_armed_) arm_wake();
}

void Queue::post(std::function<void()> task) {
  if (IoLoop::current() == this) return task();
  {
    std::lock_guard lock(posted_mu_);
    if (!posts_closed_) {
      posted_.push_back(std::move(task));
      notify(wake_.get());
      return;
    }
  }
  task();
}

void Queue::run_posted() {
  std::vector<std::function<void()>> tasks;
  {
    std::lock_guard lock(posted_mu_);
    if (posted_.empty()) return;
    tasks.swap(posted_);
  }
  for (auto& task : tasks) task();
}

bool Queue::done() const {
  if (with_device_) return false;  // a request the kernel waits for is still with the device
  return aborted_ == slots_ || stop_.load(std::memory_order_acquire);
}

// Names the thread after the queue and pins it to the queue's CPUs. Neither is needed to serve,
// so a failure is logged and ignored.
void Queue::place_thread() {
  pthread_setname_np(pthread_self(), config_.name.substr(0, 15).c_str());
  if (!config_.pin || CPU_COUNT(&config_.cpus) == 0) return;
  if (int rc = pthread_setaffinity_np(pthread_self(), sizeof config_.cpus, &config_.cpus))
    spdlog::warn("{}: cannot run on the queue's CPUs: {}", config_.name, std::strerror(rc));
}

void Queue::run() {
  IoLoop::Scope scope(this);
  place_thread();
  if (auto ok = setup_ring(); !ok) {
    set_ready(ok.error());
  } else {
    arm_wake();
    for (uint16_t i = 0; i < slots_; ++i) submit_io_cmd(tags_[i], kUIoFetchReq, 0);
    int rc = io_uring_submit(&ring_);
    // A fetch the kernel refuses fails at once; START_DEV would wait for this queue forever.
    reap();
    if (rc < 0)
      set_ready("submit the fetch commands: " + std::string(std::strerror(-rc)));
    else if (aborted_)
      set_ready("the kernel refused the fetch commands of " + config_.name);
    else
      set_ready("");
    if (rc >= 0 && !aborted_) {
      while (!done()) {
        rc = io_uring_submit_and_wait(&ring_, 1);
        ++stats_.waits;
        if (rc < 0 && rc != -EINTR && rc != -EAGAIN && rc != -EBUSY) {
          spdlog::error("{}: io_uring wait failed: {}", config_.name, std::strerror(-rc));
          break;
        }
        reap();
      }
    }
  }
  // Commits queued by the last completions go to the kernel rather than being dropped with the
  // ring (a request committed here is not issued again by a recovering server).
  if (ring_ready_) io_uring_submit(&ring_);
  {
    std::lock_guard lock(posted_mu_);
    posts_closed_ = true;
  }
  run_posted();
  // Closing the ring cancels whatever the kernel still holds of this queue.
  if (ring_ready_) io_uring_queue_exit(&ring_);
  ring_ready_ = false;
  finished_.store(true, std::memory_order_release);
  if (exit_fd_ >= 0) notify(exit_fd_);
}

}  // namespace lunkit::ublk
