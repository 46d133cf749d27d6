// The public C++ API (lunkit/tcmu.hpp over lunkit/tcmu.h, lunkit/handler.hpp): a C++ handler
// class served through lunkit::TcmuServer, with a fake sysfs/configfs tree and the ring emulator
// in the kernel's place. Only the public headers drive the library.
#include <gtest/gtest.h>
#include <poll.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "lunkit/handler.hpp"
#include "lunkit/tcmu.hpp"
#include "tests/unit/tcmu_api_rig.h"  // the kernel's side

namespace {

using lunkit::tcmu::RingEmulator;

int opened = 0;
int closed = 0;

// Memory of the LU's size; cfgstring "fail" cannot be opened.
class RamDevice : public lunkit::HandlerDevice {
 public:
  explicit RamDevice(uint64_t size) : bytes_(size) {}
  ~RamDevice() override { ++closed; }
  static bool check_config(const std::string&, std::string*) { return true; }
  static std::unique_ptr<RamDevice> open(lunkit_device*, const std::string& cfg,
                                         lunkit_device_info* info, std::string* reason) {
    if (cfg == "fail") {
      *reason = "no storage for " + cfg;
      return nullptr;
    }
    ++opened;
    return std::make_unique<RamDevice>(info->size);
  }
  void read(lunkit_io* io, std::span<const iovec> iov, uint64_t offset, uint64_t) override {
    for (const iovec& v : iov) {
      std::memcpy(v.iov_base, bytes_.data() + offset, v.iov_len);
      offset += v.iov_len;
    }
    lunkit_io_complete(io, 0);
  }
  void write(lunkit_io* io, std::span<const iovec> iov, uint64_t offset, uint64_t,
             uint32_t) override {
    for (const iovec& v : iov) {
      std::memcpy(bytes_.data() + offset, v.iov_base, v.iov_len);
      offset += v.iov_len;
    }
    lunkit_io_complete(io, 0);
  }

 private:
  std::vector<uint8_t> bytes_;
};

using Completion = lunkit::test::RingAnswer;

// The call failed and its message contains `text`.
template <typename T>
void expect_failure(const lunkit::Result<T>& r, const std::string& text) {
  ASSERT_FALSE(r.ok()) << "expected a failure naming '" << text << "'";
  EXPECT_NE(r.error().find(text), std::string::npos) << r.error();
}

class CxxApiTest : public ::testing::Test {
 protected:
  CxxApiTest() { opened = closed = 0; }

  RingEmulator& add(uint32_t minor, const std::string& device, const std::string& dev_config) {
    return kernel.add(minor, device, dev_config);
  }
  Completion command(RingEmulator& emu, std::vector<uint8_t> cdb, size_t data_in,
                     std::vector<uint8_t> data_out = {}) {
    return kernel.command(emu, std::move(cdb), data_in, std::move(data_out));
  }
  static std::vector<uint8_t> rw10(uint8_t op, uint32_t lba, uint16_t blocks) {
    return lunkit::test::EmulatedKernel::rw10(op, lba, blocks);
  }

  lunkit::test::EmulatedKernel kernel;
  lunkit_tcmu_options options = kernel.options();
  lunkit_handler handler =
      lunkit::make_handler<RamDevice>("ram", "anything", LUNKIT_THREAD_NONBLOCKING);
};

TEST_F(CxxApiTest, MakeHandlerGivesAHandlerTheCApiAccepts) {
  EXPECT_EQ(handler.abi_version, uint32_t(LUNKIT_HANDLER_ABI_VERSION));
  EXPECT_EQ(handler.struct_size, sizeof(lunkit_handler));
  auto server = lunkit::TcmuServer::create(&options);
  ASSERT_TRUE(server) << server.error();
  auto r = server->add_handler(handler);
  EXPECT_TRUE(r) << r.error();
  auto again = server->add_handler(handler);
  expect_failure(again, "File exists");
}

TEST_F(CxxApiTest, ABadOptionsSizeIsAnError) {
  options.size = 3;
  auto server = lunkit::TcmuServer::create(&options);
  expect_failure(server, "Invalid argument");
}

TEST_F(CxxApiTest, FindReturnsEveryDeviceHoweverManyThereAre) {
  for (uint32_t m = 0; m < 5; ++m) add(m, "disk" + std::to_string(m), m == 3 ? "file//x" : "ram/");
  auto server = lunkit::TcmuServer::create(&options);
  ASSERT_TRUE(server) << server.error();
  auto ram = server->find("ram");
  ASSERT_TRUE(ram) << ram.error();
  ASSERT_EQ(ram->size(), 4u);
  EXPECT_EQ((*ram)[3].minor, 4u);
  EXPECT_EQ((*ram)[3].device, "disk4");
  EXPECT_EQ((*ram)[3].subtype, "ram");
  auto all = server->find();
  ASSERT_TRUE(all);
  EXPECT_EQ(all->size(), 5u);
  EXPECT_EQ((*all)[3].cfgstring, "/x");
}

TEST_F(CxxApiTest, ServesAClassThroughTheCallersLoop) {
  RingEmulator& emu = add(0, "disk0", "ram/");
  {
    auto server = lunkit::TcmuServer::create(&options);
    ASSERT_TRUE(server) << server.error();
    ASSERT_TRUE(server->add_handler(handler));
    std::vector<std::pair<uint32_t, int>> events;
    ASSERT_TRUE(server->on_event([&](const lunkit_tcmu_event& e, int status) {
      events.push_back({e.cmd, status});
    }));
    auto attached = server->attach_all();
    ASSERT_TRUE(attached) << attached.error();
    EXPECT_EQ(*attached, 1);
    EXPECT_TRUE(server->attached(0));
    EXPECT_EQ(opened, 1);
    EXPECT_GE(server->fd(), 0) << "an fd to poll";
    auto processed = server->process();
    ASSERT_TRUE(processed) << processed.error();
    EXPECT_EQ(*processed, 0) << "no event is pending";

    EXPECT_EQ(command(emu, {0, 0, 0, 0, 0, 0}, 0).status, 0x02) << "the power-on unit attention";
    kernel.write_read_round_trip(emu);

    // REMOVED from a netlink socket of the caller's: detached, the class destroyed, reported.
    std::string name = lunkit::test::EmulatedKernel::uio_name(0, "disk0", "ram/");
    lunkit_tcmu_event e{};
    e.size = sizeof e;
    e.cmd = LUNKIT_TCMU_REMOVED_DEVICE;
    e.device = name.c_str();
    e.write_cache = -1;
    EXPECT_EQ(server->handle_event(e), 0);
    EXPECT_FALSE(server->attached(0));
    EXPECT_EQ(closed, 1);
    EXPECT_EQ(events, (std::vector<std::pair<uint32_t, int>>{{LUNKIT_TCMU_REMOVED_DEVICE, 0}}));
  }
  EXPECT_EQ(closed, 1) << "closed once";
}

TEST_F(CxxApiTest, ErrorsCarryTheLibrarysReasonAndTheErrno) {
  add(0, "disk0", "ram/fail");
  auto server = lunkit::TcmuServer::create(&options);
  ASSERT_TRUE(server);
  ASSERT_TRUE(server->add_handler(handler));
  auto r = server->attach(0);
  expect_failure(r, "no storage for fail");
  expect_failure(r, "Input/output error");
  auto missing = server->attach(9);
  expect_failure(missing, "No such device");
  auto detach = server->detach(0);
  expect_failure(detach, "No such file or directory");
}

TEST_F(CxxApiTest, OneThreadRunsEverythingWithCallerLoops) {
  RingEmulator& emu = add(3, "disk3", "ram/");
  auto server = lunkit::TcmuServer::create(&options);
  ASSERT_TRUE(server);
  ASSERT_TRUE(server->add_handler(handler));
  auto mode = server->caller_loops();
  ASSERT_TRUE(mode) << mode.error();
  ASSERT_TRUE(server->attach(3));
  EXPECT_EQ(server->devices(), std::vector<uint32_t>{3});
  auto fd = server->device_fd(3);
  ASSERT_TRUE(fd) << fd.error();
  auto serve = [&] {
    pollfd p{*fd, POLLIN, 0};
    if (poll(&p, 1, 50) > 0) {
      auto taken = server->device_process(3);
      EXPECT_TRUE(taken) << taken.error();
    }
  };
  EXPECT_EQ(kernel.command(emu, {0, 0, 0, 0, 0, 0}, 0, {}, serve).status, 0x02);
  EXPECT_EQ(kernel.command(emu, {0, 0, 0, 0, 0, 0}, 0, {}, serve).status, 0x00);
  auto started = server->start();
  // no control thread beside caller loops
  expect_failure(started, "Invalid argument");
  auto missing = server->device_fd(4);
  expect_failure(missing, "uio4 is not attached");
}

TEST_F(CxxApiTest, AMovedServerKeepsServing) {
  RingEmulator& emu = add(0, "disk0", "ram/");
  auto created = lunkit::TcmuServer::create(&options);
  ASSERT_TRUE(created);
  lunkit::TcmuServer server = std::move(*created);
  EXPECT_EQ(created->get(), nullptr) << "the moved-from one owns nothing";
  ASSERT_TRUE(server.add_handler(handler));
  ASSERT_TRUE(server.attach(0));
  lunkit::TcmuServer other = std::move(server);
  EXPECT_EQ(other.count(), 1);
  EXPECT_EQ(command(emu, {0, 0, 0, 0, 0, 0}, 0).status, 0x02);
  EXPECT_EQ(command(emu, {0, 0, 0, 0, 0, 0}, 0).status, 0x00);
}

}  // namespace
