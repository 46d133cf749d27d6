#include "tcmu/device.h"

#include "lunkit/handler.h"

#include <fcntl.h>
#include <poll.h>
#include <spdlog/spdlog.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace lunkit::tcmu {
namespace {

// Zeros a command's data blocks from byte `offset` on.
void zero_from(std::span<const iovec> iov, size_t offset) {
  for (const iovec& v : iov) {
    if (offset >= v.iov_len) {
      offset -= v.iov_len;
      continue;
    }
    std::memset(static_cast<uint8_t*>(v.iov_base) + offset, 0, v.iov_len - offset);
    offset = 0;
  }
}

constexpr uint64_t kTagDoorbell = 1;
constexpr uint64_t kTagWake = 2;
constexpr uint8_t kStatusCheckCondition = 0x02;

const char* tmr_name(uint8_t type) {
  switch (type) {
    case kTmrAbortTask:
      return "ABORT TASK";
    case kTmrAbortTaskSet:
      return "ABORT TASK SET";
    case kTmrClearAca:
      return "CLEAR ACA";
    case kTmrClearTaskSet:
      return "CLEAR TASK SET";
    case kTmrLunReset:
      return "LUN RESET";
    case kTmrTargetWarmReset:
      return "TARGET WARM RESET";
    case kTmrTargetColdReset:
      return "TARGET COLD RESET";
    case kTmrLunResetPr:
      return "LUN RESET (PR)";
    default:
      return "unknown TMR";
  }
}

}  // namespace

Result<std::unique_ptr<Device>> Device::attach(int doorbell_fd, int map_fd, size_t map_size,
                                               BlockDevice& block_device, DeviceOptions options) {
  UniqueFd doorbell(fcntl(doorbell_fd, F_DUPFD_CLOEXEC, 3));
  if (!doorbell) return Error{std::string("dup doorbell fd: ") + std::strerror(errno)};
  void* base = mmap(nullptr, map_size, PROT_READ | PROT_WRITE, MAP_SHARED, map_fd, 0);
  if (base == MAP_FAILED)
    return Error{"mmap " + std::to_string(map_size) + " bytes: " + std::strerror(errno)};
  Mapping map(base, map_size);
  if (auto why = Ring::check_mailbox(base, map_size)) return Error{*why};
  std::unique_ptr<Device> dev(
      new Device(std::move(doorbell), std::move(map), block_device, std::move(options)));
  if (!dev->wake_) return Error{std::string("eventfd: ") + std::strerror(errno)};
  // Completions' task work runs when the loop next enters the kernel (it always waits there)
  // rather than interrupting it: cheaper, as long as nothing but io_uring_enter waits on this
  // ring. An owner's loop sleeps in its own poll() on the ring's fd instead, and cooperative task
  // work would not wake it: a completion of handler I/O (or a doorbell) would wait for the next
  // unrelated wakeup. Those rings take the default, which interrupts the sleeping owner.
  io_uring_params p{};
  p.flags = dev->options_.caller_loop ? 0 : IORING_SETUP_COOP_TASKRUN;
  int rc = io_uring_queue_init_params(256, &dev->uring_, &p);
  if (rc == -EINVAL) rc = io_uring_queue_init(256, &dev->uring_, 0);  // before Linux 5.19
  if (rc < 0) return Error{std::string("io_uring_queue_init: ") + std::strerror(-rc)};
  dev->uring_ready_ = true;
  return dev;
}

Device::Device(UniqueFd doorbell, Mapping map, BlockDevice& block_device, DeviceOptions options)
    : doorbell_(std::move(doorbell)),
      map_(std::move(map)),
      ring_(map_.base(), map_.size()),
      options_(std::move(options)),
      lu_(std::make_unique<scsi::LogicalUnit>(block_device, &Device::on_scsi_complete, this,
                                              options_.lu)),
      wake_(eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) {
  handler_cqes_.reserve(256);
}

Device::~Device() {
  stop();
  if (uring_ready_) io_uring_queue_exit(&uring_);
}

Device::Slot& Device::slot(uint16_t cmd_id) {
  auto& chunk = chunks_[cmd_id / kSlotsPerChunk];
  if (!chunk) {  // first use of this range of ids: the only allocation on the command path
    chunk = std::make_unique<Slot[]>(kSlotsPerChunk);
    for (size_t i = 0; i < kSlotsPerChunk; ++i) {
      chunk[i].device = this;
      chunk[i].iov.reserve(16);
    }
  }
  return chunk[cmd_id % kSlotsPerChunk];
}

void Device::on_command(const RingCommand& rc) {
  Slot& s = slot(rc.cmd_id);
  if (s.busy) {
    // The kernel never reuses an id in flight; if it did, completions could no longer be matched.
    spdlog::error("{}: cmd_id {} arrived while still in flight; the ring is out of step",
                  options_.name, rc.cmd_id);
    return;
  }
  s.busy = true;
  s.cmd_id = rc.cmd_id;
  scsi::Command& cmd = s.cmd;
  size_t n = std::min(rc.cdb.size(), cmd.cdb.size());
  std::memcpy(cmd.cdb.data(), rc.cdb.data(), n);
  cmd.cdb_len = static_cast<uint8_t>(std::min<size_t>(rc.cdb.size(), 255));
  s.iov.assign(rc.data.begin(), rc.data.end());
  size_t total = 0;
  for (const iovec& v : s.iov) total += v.iov_len;
  cmd.iov = s.iov;
  cmd.data_len = total;
  cmd.transport_context = &s;
  ++stats_.commands;
  in_flight_.fetch_add(1, std::memory_order_relaxed);
  lu_->submit(cmd);
}

void Device::on_bad_command(uint16_t cmd_id, const char* reason) {
  spdlog::error("{}: command {} rejected: {}", options_.name, cmd_id, reason);
  ++stats_.bad_commands;
  complete_error(cmd_id);
}

void Device::on_tmr(uint8_t type, std::span<const uint16_t> cmd_ids) {
  ++stats_.tmrs;
  spdlog::info("{}: {} for {} command(s)", options_.name, tmr_name(type), cmd_ids.size());
  // The listed commands still complete through the ring; a reset also resets the unit.
  if (type == kTmrLunReset || type == kTmrTargetWarmReset || type == kTmrTargetColdReset)
    lu_->reset();
}

void Device::complete_error(uint16_t cmd_id) {
  std::array<uint8_t, scsi::kMaxSenseLength> sense{};
  size_t len =
      scsi::build_sense(sense, scsi::SenseFormat::kFixed, scsi::Condition::kInternalTargetFailure);
  if (!ring_.complete(cmd_id, kStatusCheckCondition, std::span(sense).first(len), 0u))
    spdlog::error("{}: no ring slot to complete command {}", options_.name, cmd_id);
  ++stats_.completions;
  need_kick_ = true;
}

void Device::on_scsi_complete(void* context, scsi::Command& cmd) {
  auto* self = static_cast<Device*>(context);
  auto* s = static_cast<Slot*>(cmd.transport_context);
  // On the loop's own thread a completion goes straight into the ring, not through the eventfd.
  if (IoLoop::current() == self) return self->complete(*s);
  // Another thread: queue it for the loop (lock-free), waking the loop on the first one.
  if (self->remote_done_.push(s)) {
    uint64_t one = 1;
    (void)!write(self->wake_.get(), &one, sizeof one);
  }
}

void Device::complete(Slot& s) {
  const scsi::Command& cmd = s.cmd;
  // The kernel copies the data area back to the initiator for every Data-In command (whatever
  // the CDB is: the initiator chose the direction) that completes GOOD, or carries READ_LEN: the
  // whole data length unless READ_LEN names a shorter, non-zero one. So a short answer is sent
  // with READ_LEN (the kernel reports the residual); a GOOD answer READ_LEN cannot express (an
  // empty one, or any short one on a kernel without READ_LEN) has the rest of its blocks zeroed
  // instead of leaving there what earlier commands wrote.
  std::optional<uint32_t> read_len;
  if (!cmd.data_out && cmd.data_in_len < cmd.data_len) {
    if (cmd.data_in_len > 0 && ring_.has_read_len())
      read_len = cmd.data_in_len;
    else if (cmd.status == scsi::Status::kGood)
      zero_from(s.iov, cmd.data_in_len);
  }
  if (!ring_.complete(s.cmd_id, static_cast<uint8_t>(cmd.status),
                      std::span(cmd.sense.data(), cmd.sense_len), read_len))
    spdlog::error("{}: no ring slot to complete command {}", options_.name, s.cmd_id);
  s.busy = false;
  ++stats_.completions;
  in_flight_.fetch_sub(1, std::memory_order_relaxed);
  need_kick_ = true;
}

void Device::drain_remote_completions() {
  for (Slot* s = remote_done_.take_all(); s;) {
    Slot* next = s->next;
    ++stats_.remote_completions;
    complete(*s);
    s = next;
  }
}

void Device::post(std::function<void()> task) {
  // Without a loop (tests, benchmarks) the caller is the loop. The owner's loop takes tasks
  // from other threads as a thread of the device's does; on the owner's own thread, between
  // passes, a task runs at once: nothing else runs the loop then, and a caller that waits for
  // its task (a reconfiguration) would wait for itself.
  if (IoLoop::current() == this || (!thread_.joinable() && !options_.caller_loop) ||
      (options_.caller_loop && owner_thread_.load() == std::this_thread::get_id()))
    return task();
  {
    std::lock_guard lock(tasks_mu_);
    tasks_.push_back(std::move(task));
  }
  tasks_pending_.store(true, std::memory_order_release);
  uint64_t one = 1;
  (void)!write(wake_.get(), &one, sizeof one);
}

void Device::run_tasks() {
  if (!tasks_pending_.exchange(false, std::memory_order_acquire)) return;
  std::vector<std::function<void()>> tasks;
  {
    std::lock_guard lock(tasks_mu_);
    tasks.swap(tasks_);
  }
  for (auto& t : tasks) t();
}

void Device::kick_if_needed() {
  if (!need_kick_) return;
  need_kick_ = false;
  uint32_t zero = 0;
  ++stats_.kicks;
  if (write(doorbell_.get(), &zero, sizeof zero) != sizeof zero)
    spdlog::error("{}: doorbell write failed: {}", options_.name, std::strerror(errno));
}

size_t Device::process() {
  IoLoop::Scope scope(this);
  size_t n = take_commands();
  settle();
  return n;
}

size_t Device::take_commands() {
  // The doorbell is not read: the kernel wakes pollers for every command it queues and the
  // multishot poll posts a completion per wakeup, so reading (a system call per batch, only to
  // clear UIO's event count) is not needed to see the next one. The ring is walked to its head.
  ++stats_.doorbell_events;
  // Posted changes (a resize, the write cache) apply before commands that arrived after them.
  run_tasks();
  if (stopping_.load(std::memory_order_relaxed)) return 0;
  size_t n = ring_.consume(*this);
  // A corrupt ring stays corrupt (consume() returns nothing): say so once and hand the device
  // back to its owner, instead of a log line for every later doorbell.
  if (ring_.broken() && !broken_reported_) {
    broken_reported_ = true;
    spdlog::error("{}: command ring is broken: {}", options_.name, ring_.broken_reason());
    if (options_.on_broken) options_.on_broken(options_.broken_context);
  }
  return n;
}

void Device::settle() {
  // Handler I/O queued by the commands: submit it and run what has completed, until nothing
  // more is ready; then hand completions back to the kernel with one kick.
  for (;;) {
    if (io_uring_sq_ready(&uring_)) io_uring_submit(&uring_);
    harvest();
    if (handler_cqes_.empty()) break;
    dispatch_cqes();
  }
  drain_remote_completions();
  kick_if_needed();
}

io_uring_sqe* Device::get_sqe(lunkit_uring_completion* completion) {
  io_uring_sqe* sqe = io_uring_get_sqe(&uring_);
  if (!sqe) {  // full: hand what is queued to the kernel and try once more
    io_uring_submit(&uring_);
    sqe = io_uring_get_sqe(&uring_);
    if (!sqe) return nullptr;
  }
  io_uring_sqe_set_data64(sqe, reinterpret_cast<uint64_t>(completion));
  return sqe;
}

void Device::harvest() {
  io_uring_cqe* cqe;
  unsigned head, seen = 0;
  io_uring_for_each_cqe(&uring_, head, cqe) {
    ++seen;
    uint64_t tag = io_uring_cqe_get_data64(cqe);
    if (tag == kTagDoorbell) {
      doorbell_event_ = true;
      if (!(cqe->flags & IORING_CQE_F_MORE)) doorbell_armed_ = false;
    } else if (tag == kTagWake) {
      wake_event_ = true;
    } else {
      handler_cqes_.emplace_back(tag, cqe->res);
    }
  }
  io_uring_cq_advance(&uring_, seen);
}

void Device::dispatch_cqes() {
  // Handler completions run after the CQ is advanced: they may queue more I/O.
  for (auto [tag, res] : handler_cqes_) {
    auto* c = reinterpret_cast<lunkit_uring_completion*>(tag);
    c->done(c, res);
  }
  handler_cqes_.clear();
}

void Device::arm_doorbell() {
  // Multishot: stays armed across wakeups (if it ends, it is armed again).
  io_uring_sqe* sqe = io_uring_get_sqe(&uring_);
  io_uring_prep_poll_multishot(sqe, doorbell_.get(), POLLIN);
  io_uring_sqe_set_data64(sqe, kTagDoorbell);
  doorbell_armed_ = true;
}

void Device::arm_wake() {
  io_uring_sqe* sqe = io_uring_get_sqe(&uring_);
  io_uring_prep_read(sqe, wake_.get(), &wake_value_, sizeof wake_value_, 0);
  io_uring_sqe_set_data64(sqe, kTagWake);
}

void Device::begin_loop() {
  if (loop_begun_) return;
  loop_begun_ = true;
  arm_doorbell();
  arm_wake();
  take_commands();  // anything queued before the loop started
  settle();
}

bool Device::iterate(bool wait) {
  // Sequentially consistent with begin_foreign_work(): either it sees stopping_ and backs out,
  // or this sees its count and waits for end_foreign_work()'s wake.
  if (stopping_.load() && in_flight_.load() == 0 && foreign_work_.load() == 0) return false;
  if (!doorbell_event_ && !wake_event_) {  // settle() may have seen events already
    int rc = wait ? io_uring_submit_and_wait(&uring_, 1) : io_uring_submit(&uring_);
    if (wait) ++stats_.waits;
    if (rc < 0 && rc != -EINTR) {
      spdlog::error("{}: io_uring wait failed: {}", options_.name, std::strerror(-rc));
      return false;
    }
  }
  harvest();
  dispatch_cqes();
  if (wake_event_) {
    wake_event_ = false;
    arm_wake();
    run_tasks();
  }
  if (doorbell_event_) {
    doorbell_event_ = false;
    take_commands();
  }
  if (!doorbell_armed_ && !stopping_.load(std::memory_order_relaxed)) arm_doorbell();
  settle();
  return true;
}

void Device::loop() {
  IoLoop::Scope scope(this);
  begin_loop();
  while (iterate(true)) {
  }
  run_tasks();
  settle();
}

void Device::begin_caller_loop() {
  owner_thread_.store(std::this_thread::get_id());
  IoLoop::Scope scope(this);
  begin_loop();
}

size_t Device::run_once() {
  owner_thread_.store(std::this_thread::get_id());
  IoLoop::Scope scope(this);
  uint64_t before = stats_.commands;
  begin_loop();
  // A pass ends with settle(), which may harvest a doorbell or wake CQE: its event is then held
  // in doorbell_event_ or wake_event_, and the ring fd is no longer readable for it. The owner
  // would sleep in poll() over commands already on the ring (the kernel aborts them after its
  // timeout), so the pass goes on until no event is held. (The thread's loop goes straight on.)
  while (iterate(false) && (doorbell_event_ || wake_event_)) {
  }
  return stats_.commands - before;
}

void Device::start() {
  if (thread_.joinable()) return;
  thread_ = std::thread([this] { loop(); });
}

bool Device::begin_foreign_work() {
  foreign_work_.fetch_add(1);
  if (!stopping_.load()) return true;
  end_foreign_work();
  return false;
}

void Device::end_foreign_work() {
  // The count drops and the wake is written under foreign_mu_, and stop() takes it after the
  // loop ended: the device cannot be destroyed between the two.
  std::lock_guard lock(foreign_mu_);
  foreign_work_.fetch_sub(1);
  uint64_t one = 1;  // a stopping loop re-checks whether it may end
  (void)!write(wake_.get(), &one, sizeof one);
}

void Device::stop() {
  stopping_.store(true);
  if (thread_.joinable()) {
    uint64_t one = 1;
    (void)!write(wake_.get(), &one, sizeof one);
    thread_.join();
  } else if (options_.caller_loop && loop_begun_) {
    loop();  // the owner's thread is the loop thread: it finishes here
  }
  std::lock_guard lock(foreign_mu_);  // an end_foreign_work() still writing its wake is done
}

}  // namespace lunkit::tcmu
