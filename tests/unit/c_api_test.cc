// The public C API (lunkit/tcmu.h) end to end: a fake sysfs/configfs tree and the ring emulator
// stand in for the kernel; the LU is served through C handler callbacks. Only the C header is
// used to drive the library.
#include <gtest/gtest.h>
#include <poll.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "lunkit/tcmu.h"
#include "tests/unit/tcmu_api_rig.h"  // the kernel's side

extern "C" int lunkit_c_api_header_check(void);  // c_api_header_test.c, compiled as C

namespace {

using lunkit::tcmu::RingEmulator;

// Runs completions on a thread of its own, as a handler with a library's callback thread does.
class Completer {
 public:
  Completer() : thread_([this] { run(); }) {}
  ~Completer() {
    {
      std::lock_guard lock(mu_);
      stop_ = true;
    }
    cv_.notify_all();
    thread_.join();
  }
  void post(std::function<void()> job) {
    {
      std::lock_guard lock(mu_);
      jobs_.push_back(std::move(job));
    }
    cv_.notify_all();
  }
  std::thread::id id() const { return thread_.get_id(); }
  // While held, jobs wait: a test decides when a completion happens.
  void hold() {
    std::lock_guard lock(mu_);
    held_ = true;
  }
  void release() {
    {
      std::lock_guard lock(mu_);
      held_ = false;
    }
    cv_.notify_all();
  }

 private:
  void run() {
    std::unique_lock lock(mu_);
    for (;;) {
      cv_.wait(lock, [this] { return stop_ || (!held_ && !jobs_.empty()); });
      if (jobs_.empty()) return;
      auto job = std::move(jobs_.front());
      jobs_.pop_front();
      lock.unlock();
      job();
      lock.lock();
    }
  }
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::function<void()>> jobs_;
  bool stop_ = false;
  bool held_ = false;
  std::thread thread_;
};

// What the test handler's callbacks record (they have no context pointer but the handle).
struct Observed {
  std::atomic<int> opens{0}, closes{0}, raw_seen{0};
  std::atomic<int> completed_elsewhere{0};  // I/O completed on the Completer's thread
  std::atomic<uint8_t> last_raw_opcode{0};
  std::mutex mu;  // with cv: open() was called
  std::condition_variable cv;
  std::string last_cfgstring;  // what the last open() got (mu)
};
Observed* observed = nullptr;
Completer* completer = nullptr;

// A memory-backed LU. cfgstring: "sync" completes on the loop, "async" on the Completer thread,
// "vendor" answers opcode 0xC0 itself through handle_cmd, "fail" cannot be opened.
struct Ram {
  std::vector<uint8_t> bytes;
  bool async = false;
  bool vendor = false;
};

void* ram_open(lunkit_device*, const char* cfg, lunkit_device_info* info, char* reason,
               size_t len) {
  if (std::strcmp(cfg, "fail") == 0) {
    snprintf(reason, len, "no storage");
    return nullptr;
  }
  {
    std::lock_guard lock(observed->mu);
    observed->last_cfgstring = cfg;
  }
  auto* r = new Ram;
  r->bytes.resize(info->size);
  r->async = std::strcmp(cfg, "async") == 0;
  r->vendor = std::strcmp(cfg, "vendor") == 0;
  info->capabilities = LUNKIT_CAP_WRITE_CACHE;
  {
    std::lock_guard lock(observed->mu);
    ++observed->opens;
  }
  observed->cv.notify_all();
  return r;
}
void ram_close(void* h) {
  delete static_cast<Ram*>(h);
  ++observed->closes;
}
void finish(Ram* r, lunkit_io* io, std::function<void()> work) {
  if (!r->async) {
    work();
    lunkit_io_complete(io, 0);
    return;
  }
  completer->post([io, work = std::move(work)] {
    work();
    ++observed->completed_elsewhere;
    lunkit_io_complete(io, 0);
  });
}
void ram_read(void* h, lunkit_io* io, const iovec* iov, int iovcnt, uint64_t off, uint64_t) {
  auto* r = static_cast<Ram*>(h);
  finish(r, io, [r, iov, iovcnt, off] {
    uint64_t at = off;
    for (int i = 0; i < iovcnt; ++i) {
      std::memcpy(iov[i].iov_base, r->bytes.data() + at, iov[i].iov_len);
      at += iov[i].iov_len;
    }
  });
}
void ram_write(void* h, lunkit_io* io, const iovec* iov, int iovcnt, uint64_t off, uint64_t,
               uint32_t) {
  auto* r = static_cast<Ram*>(h);
  finish(r, io, [r, iov, iovcnt, off] {
    uint64_t at = off;
    for (int i = 0; i < iovcnt; ++i) {
      std::memcpy(r->bytes.data() + at, iov[i].iov_base, iov[i].iov_len);
      at += iov[i].iov_len;
    }
  });
}
void ram_flush(void* h, lunkit_io* io) {
  finish(static_cast<Ram*>(h), io, [] {});
}
int ram_cmd(void* h, lunkit_cmd* cmd) {
  auto* r = static_cast<Ram*>(h);
  size_t cdb_len = 0;
  const uint8_t* cdb = lunkit_cmd_cdb(cmd, &cdb_len);
  ++observed->raw_seen;
  observed->last_raw_opcode = cdb[0];
  if (!r->vendor || cdb[0] != 0xC0) return LUNKIT_CMD_DECLINED;
  int iovcnt = 0;
  size_t length = 0;
  const iovec* iov = lunkit_cmd_data(cmd, &iovcnt, &length);
  static const char kAnswer[] = "vendor!";
  size_t n = std::min(length, sizeof kAnswer - 1);
  if (iovcnt > 0 && iov[0].iov_len >= n) std::memcpy(iov[0].iov_base, kAnswer, n);
  lunkit_cmd_complete(cmd, 0, nullptr, 0, n);
  return LUNKIT_CMD_ACCEPTED;
}

lunkit_handler make_handler(const char* subtype) {
  lunkit_handler h{};
  h.abi_version = LUNKIT_HANDLER_ABI_VERSION;
  h.struct_size = sizeof h;
  h.subtype = subtype;
  h.thread_model = LUNKIT_THREAD_NONBLOCKING;
  h.open = ram_open;
  h.close = ram_close;
  h.read = ram_read;
  h.write = ram_write;
  h.flush = ram_flush;
  h.handle_cmd = ram_cmd;
  return h;
}

using Result_ = lunkit::test::RingAnswer;

class CApiTest : public ::testing::Test {
 protected:
  CApiTest() {
    observed = &seen;
    completer = &completer_;
    lunkit_tcmu_options o = kernel.options();
    EXPECT_EQ(lunkit_tcmu_new(&o, &t), 0) << lunkit_tcmu_last_error();
    EXPECT_EQ(lunkit_tcmu_add_handler(t, &handler), 0) << lunkit_tcmu_last_error();
  }
  ~CApiTest() override {
    lunkit_tcmu_free(t);
    observed = nullptr;
    completer = nullptr;
  }

  RingEmulator& add(uint32_t minor, const std::string& device, const std::string& dev_config,
                    uint64_t size = 4 << 20) {
    return kernel.add(minor, device, dev_config, size);
  }
  static std::string uio_name(uint32_t hba, const std::string& device, const std::string& cfg) {
    return lunkit::test::EmulatedKernel::uio_name(hba, device, cfg);
  }
  Result_ command(RingEmulator& emu, std::vector<uint8_t> cdb, size_t data_in,
                  std::vector<uint8_t> data_out = {}) {
    return kernel.command(emu, std::move(cdb), data_in, std::move(data_out));
  }
  static std::vector<uint8_t> rw10(uint8_t op, uint32_t lba, uint16_t blocks) {
    return lunkit::test::EmulatedKernel::rw10(op, lba, blocks);
  }
  // Clears the power-on unit attention.
  void settle(RingEmulator& emu) { EXPECT_EQ(command(emu, {0, 0, 0, 0, 0, 0}, 0).status, 0x02); }

  void write_read_round_trip(RingEmulator& emu) { kernel.write_read_round_trip(emu); }

  lunkit::test::EmulatedKernel kernel;
  Observed seen;
  Completer completer_;
  lunkit_handler handler = make_handler("ram");
  lunkit_handler extra{};    // a second handler some tests add
  lunkit_tcmu* t = nullptr;  // freed first: its devices use the emulators and the completer
};

TEST(CApiHeader, CompilesAndLinksAsC) {
  EXPECT_EQ(lunkit_c_api_header_check(), 0) << lunkit_tcmu_last_error();
}

TEST_F(CApiTest, FindsTheDevicesOfASubtype) {
  add(0, "disk0", "ram/sync");
  add(1, "disk1", "file//tmp/x.img");
  add(2, "disk2", "ram/async");
  lunkit_tcmu_uio found[4] = {};
  EXPECT_EQ(lunkit_tcmu_find(t, "ram", found, 4), 2);
  EXPECT_EQ(found[0].minor, 0u);
  EXPECT_STREQ(found[0].device, "disk0");
  EXPECT_STREQ(found[0].subtype, "ram");
  EXPECT_STREQ(found[0].cfgstring, "sync");
  EXPECT_EQ(found[1].minor, 2u);
  EXPECT_EQ(found[1].hba, 2u);
  EXPECT_STREQ(found[1].cfgstring, "async");
  EXPECT_GT(found[1].map_size, 0u);
  EXPECT_EQ(lunkit_tcmu_find(t, nullptr, nullptr, 0), 3) << "counts without a buffer";
  EXPECT_EQ(lunkit_tcmu_find(t, "file", found, 1), 1);
  EXPECT_STREQ(found[0].cfgstring, "/tmp/x.img");
  EXPECT_EQ(lunkit_tcmu_count(t), 0) << "finding attaches nothing";
}

TEST_F(CApiTest, ServesReadCapacityWriteAndReadThroughTheCallbacks) {
  RingEmulator& emu = add(0, "disk0", "ram/sync", 8 << 20);
  ASSERT_EQ(lunkit_tcmu_attach(t, 0, LUNKIT_TCMU_ATTACH_RESET), 0) << lunkit_tcmu_last_error();
  EXPECT_EQ(lunkit_tcmu_attached(t, 0), 1);
  EXPECT_EQ(seen.opens, 1);
  settle(emu);
  Result_ cap = command(emu, {0x25, 0, 0, 0, 0, 0, 0, 0, 0, 0}, 8);
  ASSERT_EQ(cap.status, 0x00);
  ASSERT_EQ(cap.data.size(), 8u);
  uint32_t last_lba =
      uint32_t(cap.data[0]) << 24 | cap.data[1] << 16 | cap.data[2] << 8 | cap.data[3];
  uint32_t block = uint32_t(cap.data[4]) << 24 | cap.data[5] << 16 | cap.data[6] << 8 | cap.data[7];
  EXPECT_EQ(last_lba, (8u << 20) / 512 - 1);
  EXPECT_EQ(block, 512u);
  write_read_round_trip(emu);
  EXPECT_EQ(lunkit_tcmu_detach(t, 0, LUNKIT_TCMU_DETACH_BLOCK), 0);
  EXPECT_EQ(seen.closes, 1);
  EXPECT_EQ(lunkit_tcmu_attached(t, 0), 0);
}

TEST_F(CApiTest, CompletionsFromAnotherThreadReachTheInitiator) {
  RingEmulator& emu = add(0, "disk0", "ram/async");
  ASSERT_EQ(lunkit_tcmu_attach(t, 0, 0), 0) << lunkit_tcmu_last_error();
  settle(emu);
  write_read_round_trip(emu);
  EXPECT_GE(seen.completed_elsewhere, 3) << "the writes and reads completed on the Completer";
  EXPECT_EQ(command(emu, {0x35, 0, 0, 0, 0, 0, 0, 0, 0, 0}, 0).status, 0x00) << "SYNC CACHE";
}

TEST_F(CApiTest, RawCdbGoesToTheHandlerFirst) {
  RingEmulator& vendor = add(0, "disk0", "ram/vendor");
  RingEmulator& plain = add(1, "disk1", "ram/sync");
  ASSERT_EQ(lunkit_tcmu_attach(t, 0, 0), 0) << lunkit_tcmu_last_error();
  ASSERT_EQ(lunkit_tcmu_attach(t, 1, 0), 0) << lunkit_tcmu_last_error();
  settle(vendor);
  settle(plain);
  Result_ r = command(vendor, {0xC0, 0, 0, 0, 0, 0}, 16);
  EXPECT_EQ(r.status, 0x00);
  EXPECT_EQ(std::string(r.data.begin(), r.data.end()), "vendor!");
  EXPECT_EQ(seen.last_raw_opcode, 0xC0);
  // A command the handler declines is lunkit's: READ CAPACITY still answers.
  EXPECT_EQ(command(vendor, {0x25, 0, 0, 0, 0, 0, 0, 0, 0, 0}, 8).status, 0x00);
  EXPECT_EQ(seen.last_raw_opcode, 0x25) << "the handler saw it first";
  // Without the handler's answer the vendor opcode is an invalid command.
  Result_ refused = command(plain, {0xC0, 0, 0, 0, 0, 0}, 16);
  EXPECT_EQ(refused.status, 0x02);
  ASSERT_GE(refused.sense.size(), 13u);
  EXPECT_EQ(refused.sense[2] & 0x0f, 0x05) << "ILLEGAL REQUEST";
  EXPECT_EQ(refused.sense[12], 0x20) << "INVALID COMMAND OPERATION CODE";
}

struct EventLog {
  std::vector<std::pair<uint32_t, int>> events;  // cmd, status
};

TEST_F(CApiTest, NetlinkEventsAttachReconfigureAndDetach) {
  EventLog log;
  ASSERT_EQ(lunkit_tcmu_on_event(
                t,
                [](void* ctx, const lunkit_tcmu_event* e, int status) {
                  static_cast<EventLog*>(ctx)->events.push_back({e->cmd, status});
                },
                &log),
            0);
  RingEmulator& emu = add(0, "disk0", "ram/sync");
  std::string name = uio_name(0, "disk0", "ram/sync");
  lunkit_tcmu_event e{};
  e.size = sizeof e;
  e.cmd = LUNKIT_TCMU_ADDED_DEVICE;
  e.minor = 0;
  e.device_id = 7;
  e.device = name.c_str();
  e.write_cache = -1;
  EXPECT_EQ(lunkit_tcmu_handle_event(t, &e), 0) << lunkit_tcmu_last_error();
  EXPECT_EQ(lunkit_tcmu_attached(t, 0), 1);
  settle(emu);

  // MODE SENSE(6) of the caching page, without block descriptors: WCE is bit 2 of its byte 2.
  auto wce = [&] {
    Result_ r = command(emu, {0x1A, 0x08, 0x08, 0, 64, 0}, 64);
    if (r.status == 0x02 && r.sense.size() > 2 && (r.sense[2] & 0x0f) == 0x06)
      r = command(emu, {0x1A, 0x08, 0x08, 0, 64, 0}, 64);  // after a unit attention
    EXPECT_EQ(r.status, 0x00);
    return r.data.size() > 6 && (r.data[4 + 2] & 0x04) != 0;
  };
  EXPECT_TRUE(wce()) << "the handler has a write cache";
  e.cmd = LUNKIT_TCMU_RECONFIG_DEVICE;
  e.write_cache = 0;
  EXPECT_EQ(lunkit_tcmu_handle_event(t, &e), 0) << lunkit_tcmu_last_error();
  EXPECT_FALSE(wce()) << "WCE off after the RECONFIG";

  e.cmd = LUNKIT_TCMU_REMOVED_DEVICE;
  e.write_cache = -1;
  EXPECT_EQ(lunkit_tcmu_handle_event(t, &e), 0);
  EXPECT_EQ(lunkit_tcmu_attached(t, 0), 0) << "REMOVED detaches";
  EXPECT_EQ(seen.closes, 1) << "and closes the handler's device";
  EXPECT_EQ(lunkit_tcmu_handle_event(t, &e), 0) << "a device that is not ours: still 0";

  e.cmd = LUNKIT_TCMU_RECONFIG_DEVICE;
  EXPECT_EQ(lunkit_tcmu_handle_event(t, &e), -ENODEV) << "not attached any more";
  EXPECT_EQ((log.events),
            (std::vector<std::pair<uint32_t, int>>{{1, 0}, {3, 0}, {2, 0}, {2, 0}, {3, -ENODEV}}));
}

TEST_F(CApiTest, ErrorsAreNegativeErrnoWithAReason) {
  add(0, "disk0", "ram/sync");
  add(1, "disk1", "file//tmp/x.img");
  add(2, "disk2", "ram/fail");
  EXPECT_EQ(lunkit_tcmu_attach(t, 9, 0), -ENODEV);
  EXPECT_EQ(lunkit_tcmu_attach(t, 1, 0), -ENOENT);
  EXPECT_NE(std::string(lunkit_tcmu_last_error()).find("file"), std::string::npos)
      << lunkit_tcmu_last_error();
  EXPECT_EQ(lunkit_tcmu_attach(t, 2, 0), -EIO);
  EXPECT_NE(std::string(lunkit_tcmu_last_error()).find("no storage"), std::string::npos)
      << lunkit_tcmu_last_error();
  EXPECT_EQ(lunkit_tcmu_detach(t, 0, 0), -ENOENT);
  ASSERT_EQ(lunkit_tcmu_attach(t, 0, 0), 0);
  EXPECT_STREQ(lunkit_tcmu_last_error(), "") << "success clears it";
  EXPECT_EQ(lunkit_tcmu_attach(t, 0, 0), -EEXIST);

  lunkit_handler& again = extra;  // outlives the context, as lunkit_tcmu_add_handler() asks
  again = make_handler("other");
  EXPECT_EQ(lunkit_tcmu_add_handler(t, &again), -EBUSY) << "devices are attached";
  EXPECT_EQ(lunkit_tcmu_detach(t, 0, 0), 0);
  EXPECT_EQ(lunkit_tcmu_add_handler(t, &handler), -EEXIST);
  lunkit_handler no_read = make_handler("noread");
  no_read.read = nullptr;
  EXPECT_EQ(lunkit_tcmu_add_handler(t, &no_read), -EINVAL);
  EXPECT_NE(std::string(lunkit_tcmu_last_error()).find("read"), std::string::npos);
  lunkit_handler bad_name = make_handler("no/slash");
  EXPECT_EQ(lunkit_tcmu_add_handler(t, &bad_name), -EINVAL);
  EXPECT_EQ(lunkit_tcmu_add_handler(t, &again), 0);

  lunkit_tcmu_event e{};
  e.size = sizeof e;
  e.cmd = 42;
  EXPECT_EQ(lunkit_tcmu_handle_event(t, &e), -EINVAL);
  e.cmd = LUNKIT_TCMU_ADDED_DEVICE;  // no device name
  EXPECT_EQ(lunkit_tcmu_handle_event(t, &e), -EINVAL);
  lunkit_tcmu* none = nullptr;
  lunkit_tcmu_options small{};
  EXPECT_EQ(lunkit_tcmu_new(&small, &none), -EINVAL) << "options.size unset";
  EXPECT_EQ(none, nullptr);
}

TEST_F(CApiTest, AttachAllInTheCallersLoopRetriesStorageThatFailed) {
  RingEmulator& emu = add(0, "disk0", "ram/sync");
  add(1, "disk1", "file//tmp/x.img");
  add(2, "disk2", "ram/fail");
  EXPECT_EQ(lunkit_tcmu_attach_all(t), 1);
  EXPECT_EQ(lunkit_tcmu_attached(t, 0), 1);
  EXPECT_EQ(lunkit_tcmu_attached(t, 1), 0) << "no handler: left alone";
  EXPECT_EQ(lunkit_tcmu_attached(t, 2), 0);
  settle(emu);
  write_read_round_trip(emu);
  EXPECT_GE(lunkit_tcmu_fd(t), 0);
  int timeout = lunkit_tcmu_timeout(t);
  EXPECT_GE(timeout, 0) << "the failed storage is retried";
  EXPECT_LE(timeout, 1000);
  EXPECT_EQ(lunkit_tcmu_process(t), 0) << "no events without netlink";
  EXPECT_EQ(lunkit_tcmu_attach_all(t), 1) << "a second call attaches nothing more";
}

}  // namespace

namespace {

TEST_F(CApiTest, ControlThreadAttachesAndOwnsTheControlCalls) {
  // The control thread would tell a real target_core_user to wait for answers, module-wide.
  if (access("/sys/module/target_core_user", F_OK) == 0)
    GTEST_SKIP() << "target_core_user is loaded on this machine";
  RingEmulator& emu = add(0, "disk0", "ram/sync");
  ASSERT_EQ(lunkit_tcmu_start(t, LUNKIT_TCMU_REQUIRE_NETLINK), -ENOENT) << "no netlink family";
  ASSERT_EQ(lunkit_tcmu_start(t, 0), 0) << lunkit_tcmu_last_error();
  EXPECT_EQ(lunkit_tcmu_start(t, 0), -EALREADY);
  {
    std::unique_lock lock(seen.mu);
    ASSERT_TRUE(seen.cv.wait_for(lock, std::chrono::seconds(30), [&] { return seen.opens > 0; }))
        << "the control thread attaches the devices there are";
  }
  EXPECT_EQ(lunkit_tcmu_attach(t, 0, 0), -EBUSY) << "the control thread does the control work";
  EXPECT_EQ(lunkit_tcmu_process(t), -EBUSY);
  settle(emu);
  write_read_round_trip(emu);
  EXPECT_EQ(lunkit_tcmu_stop(t, 30000), 0);
  EXPECT_EQ(lunkit_tcmu_attached(t, 0), 1) << "stopping the control thread keeps the devices";
  EXPECT_EQ(lunkit_tcmu_detach(t, 0, 0), 0) << "control calls are the caller's again";
  EXPECT_EQ(seen.closes, 1);
}

}  // namespace

namespace {

// Threads of this process now.
size_t thread_count() {
  size_t n = 0;
  for (const auto& e : std::filesystem::directory_iterator("/proc/self/task")) n += (void(e), 1);
  return n;
}

TEST_F(CApiTest, DeviceLoopsRunInTheCallersThread) {
  ASSERT_EQ(lunkit_tcmu_caller_loops(t, 1), 0) << lunkit_tcmu_last_error();
  RingEmulator& sync = add(0, "disk0", "ram/sync");
  RingEmulator& async = add(1, "disk1", "ram/async");
  size_t threads = thread_count();
  ASSERT_EQ(lunkit_tcmu_attach(t, 0, 0), 0) << lunkit_tcmu_last_error();
  ASSERT_EQ(lunkit_tcmu_attach(t, 1, 0), 0) << lunkit_tcmu_last_error();
  EXPECT_EQ(thread_count(), threads) << "no loop thread was started";
  uint32_t minors[4] = {};
  EXPECT_EQ(lunkit_tcmu_devices(t, minors, 4), 2);
  EXPECT_EQ(minors[0], 0u);
  EXPECT_EQ(minors[1], 1u);
  EXPECT_EQ(lunkit_tcmu_start(t, 0), -EINVAL) << "no control thread beside the caller's loops";

  // A command waits on the ring until the caller runs the device's loop, and its fd says when.
  int fd = lunkit_tcmu_device_fd(t, 0);
  ASSERT_GE(fd, 0) << lunkit_tcmu_last_error();
  uint64_t tag = kernel.submit(sync, {0, 0, 0, 0, 0, 0}, 0);
  pollfd p{fd, POLLIN, 0};
  ASSERT_EQ(poll(&p, 1, 5000), 1) << "the doorbell makes the device's fd readable";
  sync.wait_and_service(0);
  EXPECT_FALSE(kernel.answered(tag)) << "nothing ran it yet";
  EXPECT_EQ(lunkit_tcmu_device_process(t, 0), 1);
  sync.wait_and_service(0);
  EXPECT_TRUE(kernel.answered(tag)) << "answered in this thread's pass";

  // Completions from another thread (the Completer) come back through the fd.
  auto serve = [&](uint32_t minor) {
    return [this, minor] {
      pollfd q{lunkit_tcmu_device_fd(t, minor), POLLIN, 0};
      if (poll(&q, 1, 50) > 0) {
        EXPECT_GE(lunkit_tcmu_device_process(t, minor), 0);
      }
    };
  };
  EXPECT_EQ(kernel.command(async, {0, 0, 0, 0, 0, 0}, 0, {}, serve(1)).status, 0x02);
  std::vector<uint8_t> pattern(2 * 512, 0x5A);
  EXPECT_EQ(kernel.command(async, rw10(0x2A, 4, 2), 0, pattern, serve(1)).status, 0x00);
  EXPECT_EQ(kernel.command(async, rw10(0x28, 4, 2), pattern.size(), {}, serve(1)).data, pattern);
  EXPECT_GE(seen.completed_elsewhere, 2);

  // A completion from another thread (the Completer) wakes a poll() with no timeout's help:
  // the doorbell makes the fd readable, the pass takes the read, and the handler's completion
  // on the Completer's thread, let go only after that pass, makes it readable again.
  completer_.hold();
  uint64_t read = kernel.submit(async, rw10(0x28, 0, 1), 512);
  int afd = lunkit_tcmu_device_fd(t, 1);
  pollfd a{afd, POLLIN, 0};
  ASSERT_EQ(poll(&a, 1, 10000), 1) << "the doorbell";
  ASSERT_EQ(lunkit_tcmu_device_process(t, 1), 1);
  a.revents = 0;
  completer_.release();
  EXPECT_EQ(poll(&a, 1, 10000), 1) << "woken by the completion from the other thread";
  EXPECT_GE(lunkit_tcmu_device_process(t, 1), 0);
  async.wait_and_service(0);
  EXPECT_TRUE(kernel.answered(read));

  // Detaching finishes the loop here: a read taken from the ring, completed by the Completer
  // later, is answered before detach returns.
  uint64_t pending = kernel.submit(async, rw10(0x28, 4, 2), 1024);
  for (int i = 0; i < 100 && lunkit_tcmu_device_process(t, 1) == 0; ++i) {
    pollfd q{lunkit_tcmu_device_fd(t, 1), POLLIN, 0};
    poll(&q, 1, 50);
  }
  EXPECT_EQ(lunkit_tcmu_detach(t, 1, 0), 0) << lunkit_tcmu_last_error();
  async.wait_and_service(0);
  EXPECT_TRUE(kernel.answered(pending)) << "the command in flight completed before the detach";
  EXPECT_EQ(lunkit_tcmu_device_fd(t, 1), -ENOENT);
  EXPECT_EQ(lunkit_tcmu_devices(t, minors, 4), 1);
}

TEST_F(CApiTest, EventsInCallerLoopModeAreHandledOnTheCallersThread) {
  ASSERT_EQ(lunkit_tcmu_caller_loops(t, 1), 0);
  RingEmulator& emu = add(0, "disk0", "ram/sync");
  std::string name = uio_name(0, "disk0", "ram/sync");
  lunkit_tcmu_event e{};
  e.size = sizeof e;
  e.cmd = LUNKIT_TCMU_ADDED_DEVICE;
  e.device = name.c_str();
  e.write_cache = -1;
  ASSERT_EQ(lunkit_tcmu_handle_event(t, &e), 0) << lunkit_tcmu_last_error();
  auto serve = [this] {
    pollfd q{lunkit_tcmu_device_fd(t, 0), POLLIN, 0};
    if (poll(&q, 1, 50) > 0) {
      EXPECT_GE(lunkit_tcmu_device_process(t, 0), 0);
    }
  };
  auto wce = [&] {
    Result_ r = kernel.command(emu, {0x1A, 0x08, 0x08, 0, 64, 0}, 64, {}, serve);
    if (r.status == 0x02) r = kernel.command(emu, {0x1A, 0x08, 0x08, 0, 64, 0}, 64, {}, serve);
    EXPECT_EQ(r.status, 0x00);
    return r.data.size() > 6 && (r.data[4 + 2] & 0x04) != 0;
  };
  EXPECT_TRUE(wce());
  // The handler's reconfiguration and the LU's change run on this thread, the loop's owner (a
  // task posted to the loop and waited for would wait for this very thread).
  e.cmd = LUNKIT_TCMU_RECONFIG_DEVICE;
  e.write_cache = 0;
  EXPECT_EQ(lunkit_tcmu_handle_event(t, &e), 0) << lunkit_tcmu_last_error();
  EXPECT_FALSE(wce()) << "WCE off after the RECONFIG";
  e.cmd = LUNKIT_TCMU_REMOVED_DEVICE;
  EXPECT_EQ(lunkit_tcmu_handle_event(t, &e), 0);
  EXPECT_EQ(lunkit_tcmu_count(t), 0);
}

TEST_F(CApiTest, CallerLoopsAreChosenBeforeAnythingIsAttached) {
  add(0, "disk0", "ram/sync");
  EXPECT_EQ(lunkit_tcmu_device_fd(t, 0), -EINVAL) << "devices run their own loops";
  EXPECT_NE(std::string(lunkit_tcmu_last_error()).find("lunkit_tcmu_caller_loops"),
            std::string::npos);
  ASSERT_EQ(lunkit_tcmu_attach(t, 0, 0), 0);
  EXPECT_EQ(lunkit_tcmu_caller_loops(t, 1), -EBUSY);
  EXPECT_EQ(lunkit_tcmu_device_process(t, 0), -EINVAL);
}

TEST_F(CApiTest, BlockingHandlersRunOnTheWorkerPool) {
  static std::atomic<int> off_loop{0};
  static std::thread::id loop_thread;
  lunkit_handler& blocking = extra;  // outlives the context, as lunkit_tcmu_add_handler() asks
  blocking = make_handler("blk");
  blocking.thread_model = LUNKIT_THREAD_BLOCKING;
  blocking.read = [](void* h, lunkit_io* io, const iovec* iov, int n, uint64_t off, uint64_t len) {
    if (std::this_thread::get_id() != loop_thread) ++off_loop;
    ram_read(h, io, iov, n, off, len);
  };
  // The loop thread is where handle_cmd runs: remember it there.
  blocking.handle_cmd = [](void* h, lunkit_cmd* cmd) {
    loop_thread = std::this_thread::get_id();
    return ram_cmd(h, cmd);
  };
  ASSERT_EQ(lunkit_tcmu_add_handler(t, &blocking), 0) << lunkit_tcmu_last_error();
  RingEmulator& emu = add(0, "disk0", "blk/sync");
  ASSERT_EQ(lunkit_tcmu_attach(t, 0, 0), 0) << lunkit_tcmu_last_error();
  settle(emu);
  write_read_round_trip(emu);
  EXPECT_GE(off_loop, 2) << "BLOCKING reads ran on workers, not on the device's loop";
}

}  // namespace

namespace {

TEST_F(CApiTest, HandlerDefaultsFollowTheDevicesOwnOptions) {
  add(0, "disk0", "ram/sync");
  EXPECT_EQ(lunkit_tcmu_handler_defaults(t, "nosuch", "x=1"), -ENOENT);
  EXPECT_NE(std::string(lunkit_tcmu_last_error()).find("nosuch"), std::string::npos);
  ASSERT_EQ(lunkit_tcmu_handler_defaults(t, "ram", "direct=1;size=8M"), 0)
      << lunkit_tcmu_last_error();
  ASSERT_EQ(lunkit_tcmu_attach(t, 0, 0), 0) << lunkit_tcmu_last_error();
  {
    std::lock_guard lock(seen.mu);
    EXPECT_EQ(seen.last_cfgstring, "sync;direct=1;size=8M");
  }
  EXPECT_EQ(lunkit_tcmu_handler_defaults(t, "ram", ""), -EBUSY) << "a device is attached";
  EXPECT_EQ(lunkit_tcmu_detach(t, 0, 0), 0);
  ASSERT_EQ(lunkit_tcmu_handler_defaults(t, "ram", nullptr), 0) << "NULL: none";
  ASSERT_EQ(lunkit_tcmu_attach(t, 0, 0), 0) << lunkit_tcmu_last_error();
  std::lock_guard lock(seen.mu);
  EXPECT_EQ(seen.last_cfgstring, "sync");
}

TEST_F(CApiTest, CopyGroupsAreCheckedAndComeBeforeDevices) {
  const char* two[] = {"disk0", "user_3/disk1"};
  const char* one[] = {"disk0"};
  const char* slash[] = {"disk0", "disk1/"};
  EXPECT_EQ(lunkit_tcmu_add_copy_group(t, "", two, 2), -EINVAL);
  EXPECT_NE(std::string(lunkit_tcmu_last_error()).find("needs a name"), std::string::npos)
      << lunkit_tcmu_last_error();
  EXPECT_EQ(lunkit_tcmu_add_copy_group(t, "g", one, 1), -EINVAL);
  EXPECT_NE(std::string(lunkit_tcmu_last_error()).find("two devices"), std::string::npos);
  EXPECT_EQ(lunkit_tcmu_add_copy_group(t, "g", slash, 2), -EINVAL);
  EXPECT_NE(std::string(lunkit_tcmu_last_error()).find("'disk1/' is not a device name"),
            std::string::npos)
      << lunkit_tcmu_last_error();
  EXPECT_EQ(lunkit_tcmu_add_copy_group(t, "g", nullptr, 2), -EINVAL);
  ASSERT_EQ(lunkit_tcmu_add_copy_group(t, "g", two, 2), 0) << lunkit_tcmu_last_error();
  EXPECT_EQ(lunkit_tcmu_add_copy_group(t, "g", two, 2), -EEXIST);
  RingEmulator& emu = add(0, "disk0", "ram/sync");
  ASSERT_EQ(lunkit_tcmu_attach(t, 0, 0), 0) << lunkit_tcmu_last_error();
  settle(emu);
  write_read_round_trip(emu);  // a member of a group serves I/O as any LU
  EXPECT_EQ(lunkit_tcmu_add_copy_group(t, "h", two, 2), -EBUSY) << "a device is attached";
}

TEST_F(CApiTest, ReleasingTheKernelsWaitsNeedsTheNetlinkFamily) {
  // A real target_core_user would stop waiting for a server that may be running here.
  if (access("/sys/module/target_core_user", F_OK) == 0)
    GTEST_SKIP() << "target_core_user is loaded on this machine";
  EXPECT_EQ(lunkit_tcmu_release_waits(t), -ENOENT) << "no TCM-USER family without the module";
  EXPECT_NE(std::string(lunkit_tcmu_last_error()).find("no TCM-USER family"), std::string::npos)
      << lunkit_tcmu_last_error();
}

TEST_F(CApiTest, ShutdownDetachesEveryDeviceAndAttachesNoMore) {
  RingEmulator& emu = add(0, "disk0", "ram/sync");
  add(1, "disk1", "ram/async");
  ASSERT_EQ(lunkit_tcmu_attach_all(t), 2);
  settle(emu);
  write_read_round_trip(emu);
  lunkit_tcmu_shutdown(t);
  EXPECT_EQ(lunkit_tcmu_count(t), 0);
  EXPECT_EQ(seen.closes, 2);
  EXPECT_EQ(lunkit_tcmu_attach(t, 0, 0), -EIO) << "nothing attaches after shutdown";
  EXPECT_EQ(seen.opens, 2) << "not even opened";
  EXPECT_EQ(kernel.sys.read(kernel.sys.paths.configfs_core + "/user_0/disk0/action/block_dev"), "0")
      << "left unblocked for the next server";
  lunkit_tcmu_shutdown(nullptr);
}

}  // namespace
