#include "ublk/control.h"

#include <fcntl.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <memory>

namespace lunkit::ublk {

Result<std::unique_ptr<Control>> Control::open() {
  const char* path = std::getenv("LUNKIT_UBLK_CONTROL");
  return open(path && *path ? path : kControlPath);
}

Result<std::unique_ptr<Control>> Control::open(const std::string& path) {
  std::unique_ptr<Control> c(new Control);
  c->fd_.reset(::open(path.c_str(), O_RDWR | O_CLOEXEC));
  if (!c->fd_) {
    int e = errno;
    std::string why = path + ": " + std::strerror(e);
    if (e == ENOENT) why += " (the ublk_drv kernel module is not loaded: modprobe ublk_drv)";
    if (e == EACCES || e == EPERM) why += " (ublk devices are created by root)";
    return Error{why};
  }
  io_uring_params p{};
  p.flags = IORING_SETUP_SQE128;
  int rc = io_uring_queue_init_params(4, &c->ring_, &p);
  if (rc < 0) return Error{std::string("io_uring with 128-byte SQEs: ") + std::strerror(-rc)};
  c->ring_ready_ = true;
  return c;
}

Control::~Control() {
  if (ring_ready_) io_uring_queue_exit(&ring_);
}

int Control::execute(uint32_t op, uint32_t dev_id, uint64_t addr, uint16_t len, uint64_t data,
                     uint16_t queue_id) {
  io_uring_sqe* sqe = io_uring_get_sqe(&ring_);
  if (!sqe) return -EBUSY;
  std::memset(sqe, 0, 2 * sizeof *sqe);  // the whole 128-byte SQE
  sqe->opcode = IORING_OP_URING_CMD;
  sqe->fd = fd_.get();
  sqe->cmd_op = op;
  CtrlCmd cmd{};
  cmd.dev_id = dev_id;
  cmd.queue_id = queue_id;
  cmd.addr = addr;
  cmd.len = len;
  cmd.data[0] = data;
  std::memcpy(reinterpret_cast<uint8_t*>(sqe) + 48, &cmd, sizeof cmd);  // the command area
  int rc = io_uring_submit(&ring_);
  if (rc < 0) return rc;
  io_uring_cqe* cqe = nullptr;
  do {
    rc = io_uring_wait_cqe(&ring_, &cqe);
  } while (rc == -EINTR);  // a signal does not cancel the command: keep waiting for its answer
  if (rc < 0) return rc;
  int res = cqe->res;
  io_uring_cqe_seen(&ring_, cqe);
  return res;
}

int Control::get_features(uint64_t* features) {
  return execute(kUCmdGetFeatures, 0, reinterpret_cast<uint64_t>(features), kFeaturesLen);
}

int Control::add_device(DevInfo* info) {
  return execute(kUCmdAddDev, info->dev_id, reinterpret_cast<uint64_t>(info), sizeof *info);
}

int Control::set_params(uint32_t dev_id, const Params& params) {
  return execute(kUCmdSetParams, dev_id, reinterpret_cast<uint64_t>(&params), sizeof params);
}

int Control::get_params(uint32_t dev_id, Params* params) {
  *params = Params{};
  params->len = sizeof *params;
  return execute(kUCmdGetParams, dev_id, reinterpret_cast<uint64_t>(params), sizeof *params);
}

int Control::get_info(uint32_t dev_id, DevInfo* info) {
  return execute(kUCmdGetDevInfo, dev_id, reinterpret_cast<uint64_t>(info), sizeof *info);
}

int Control::start(uint32_t dev_id, int32_t server_pid) {
  return execute(kUCmdStartDev, dev_id, 0, 0, static_cast<uint64_t>(server_pid));
}

int Control::stop(uint32_t dev_id) {
  return execute(kUCmdStopDev, dev_id, 0, 0);
}

int Control::remove(uint32_t dev_id) {
  return execute(kUCmdDelDev, dev_id, 0, 0);
}

int Control::start_recovery(uint32_t dev_id) {
  return execute(kUCmdStartUserRecovery, dev_id, 0, 0);
}

int Control::end_recovery(uint32_t dev_id, int32_t server_pid) {
  return execute(kUCmdEndUserRecovery, dev_id, 0, 0, static_cast<uint64_t>(server_pid));
}

int Control::get_queue_affinity(uint32_t dev_id, uint16_t q_id, cpu_set_t* cpus) {
  CPU_ZERO(cpus);
  // The kernel reads the queue from data[0] (queue_id is there for newer commands too).
  return execute(kUCmdGetQueueAffinity, dev_id, reinterpret_cast<uint64_t>(cpus), sizeof *cpus,
                 q_id, q_id);
}

int Control::update_size(uint32_t dev_id, uint64_t sectors) {
  return execute(kUCmdUpdateSize, dev_id, 0, 0, sectors);
}

int Control::quiesce(uint32_t dev_id, uint64_t timeout_ms) {
  return execute(kUCmdQuiesceDev, dev_id, 0, 0, timeout_ms);
}

}  // namespace lunkit::ublk
