// The control thread of a TCMU daemon: attaches the devices found at start, then follows the
// kernel's netlink events, reattaches broken rings and retries storage that could not be opened.
//
// It is not the thread that answers signals: a backend that takes long to open its storage (a
// Ceph cluster that is down) holds up only this thread, and the daemon still stops on SIGTERM
// (stop() with a grace period, then Manager::shutdown() on the signal thread).
#pragma once

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <thread>

#include "common/fd.h"
#include "tcmu/manager.h"
#include "tcmu/netlink.h"

namespace lunkit::tcmu {

class ControlLoop {
 public:
  // `channel` may be null (no TCM-USER netlink family): only start-up attach, repairs and retries
  // then. With one, the kernel is told to wait for lunkit's answers once the devices are attached.
  ControlLoop(Manager& manager, NetlinkChannel* channel);
  // Joins the thread (after stop()): it may wait for a backend's open that is still running.
  ~ControlLoop();
  ControlLoop(const ControlLoop&) = delete;
  ControlLoop& operator=(const ControlLoop&) = delete;

  void start();
  // Tells the thread to stop after what it is doing and waits up to `grace` for it. True when it
  // has ended; false when it is still busy (inside a backend's open, usually): it then ends on
  // its own, and Manager::shutdown() releases everything else meanwhile.
  bool stop(std::chrono::milliseconds grace);
  // True once the start-up attach is done (tests, logging).
  bool started_up() const;

 private:
  void run();

  Manager& manager_;
  NetlinkChannel* channel_;
  UniqueFd stop_fd_;  // eventfd
  mutable std::mutex mu_;
  std::condition_variable ended_cv_;
  bool started_up_ = false;
  bool ended_ = false;
  std::thread thread_;
};

}  // namespace lunkit::tcmu
