#include "tcmu/control_loop.h"

#include <poll.h>
#include <spdlog/spdlog.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace lunkit::tcmu {

ControlLoop::ControlLoop(Manager& manager, NetlinkChannel* channel)
    : manager_(manager), channel_(channel), stop_fd_(eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) {}

ControlLoop::~ControlLoop() {
  if (!thread_.joinable()) return;
  uint64_t one = 1;
  (void)!write(stop_fd_.get(), &one, sizeof one);
  thread_.join();
}

void ControlLoop::start() {
  thread_ = std::thread([this] { run(); });
}

bool ControlLoop::stop(std::chrono::milliseconds grace) {
  if (!thread_.joinable()) return true;
  uint64_t one = 1;
  (void)!write(stop_fd_.get(), &one, sizeof one);
  std::unique_lock lock(mu_);
  if (!ended_cv_.wait_for(lock, grace, [this] { return ended_; })) return false;
  lock.unlock();
  thread_.join();
  return true;
}

bool ControlLoop::started_up() const {
  std::lock_guard lock(mu_);
  return started_up_;
}

void ControlLoop::run() {
  manager_.attach_existing();
  if (channel_) {
    // From here on the kernel waits for our answer to each device event, so a failure to open a
    // device reaches targetcli instead of a dead LUN. Undone at exit (and by --release-netlink).
    if (auto r = NetlinkChannel::set_kernel_waits_for_replies(true); !r)
      spdlog::warn("{}", r.error());
  }
  spdlog::info("serving {} device(s)", manager_.size());
  {
    std::lock_guard lock(mu_);
    started_up_ = true;
  }

  const std::function<void(const ParsedEvent&)> on_event = [this](const ParsedEvent& ev) {
    manager_.handle_message(ev, [this](uint8_t cmd, int32_t status, uint32_t id) {
      auto sent = channel_->send(build_reply(channel_->family(), cmd, status, id));
      if (!sent) spdlog::error("{}", sent.error());
    });
  };
  for (;;) {
    pollfd fds[3] = {{stop_fd_.get(), POLLIN, 0},
                     {channel_ ? channel_->fd() : -1, POLLIN, 0},
                     {manager_.repair_fd(), POLLIN, 0}};
    // Wakes for the next retry of a device whose storage could not be opened yet.
    int timeout = -1;
    if (auto next = manager_.next_retry(Manager::Clock::now()))
      timeout = static_cast<int>(std::chrono::ceil<std::chrono::milliseconds>(*next).count());
    if (poll(fds, 3, timeout) < 0 && errno != EINTR) {
      spdlog::critical("poll: {}", std::strerror(errno));
      break;
    }
    if (fds[0].revents & POLLIN) break;
    if (fds[1].revents & POLLIN) channel_->receive(on_event);
    if (fds[2].revents & POLLIN) manager_.repair_broken();
    manager_.retry_due(Manager::Clock::now());
  }
  std::lock_guard lock(mu_);
  ended_ = true;
  ended_cv_.notify_all();
}

}  // namespace lunkit::tcmu
