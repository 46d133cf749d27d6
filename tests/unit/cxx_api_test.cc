// The public C++ API (lunkit/tcmu.hpp over lunkit/tcmu.h, lunkit/handler.hpp): a C++ handler
// class served through lunkit::TcmuServer, with a fake sysfs/configfs tree and the ring emulator
// in the kernel's place. Only the public headers drive the library.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "lunkit/handler.hpp"
#include "lunkit/tcmu.hpp"
#include "tcmu/ring_emulator.h"  // the kernel's side of the ring
#include "tests/unit/fake_system.h"

namespace {

using lunkit::tcmu::EmulatedCompletion;
using lunkit::tcmu::RingEmulator;
using Dir = RingEmulator::Direction;

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

struct Completion {
  uint8_t status = 0xff;
  std::vector<uint8_t> data;
};

class CxxApiTest : public ::testing::Test {
 protected:
  CxxApiTest() {
    opened = closed = 0;
    options.size = sizeof options;
    options.sysfs_dir = sys.paths.sysfs.c_str();
    options.target_core_dir = sys.paths.configfs_core.c_str();
    options.module_params_dir = sys.paths.module_params.c_str();
    options.dev_dir = sys.paths.dev.c_str();
    options.open_uio = &CxxApiTest::open_uio;
    options.open_uio_context = this;
  }

  static int open_uio(void* context, uint32_t minor, int* doorbell, int* map) {
    auto* self = static_cast<CxxApiTest*>(context);
    auto it = self->emulators.find(minor);
    if (it == self->emulators.end()) return -ENOENT;
    *doorbell = dup(it->second->doorbell_fd());
    *map = dup(it->second->map_fd());
    return 0;
  }
  RingEmulator& add(uint32_t minor, const std::string& device, const std::string& dev_config) {
    RingEmulator::Options ro;
    ro.cmdr_size = (1u << 20) - lunkit::tcmu::kMailboxSize;
    ro.data_size = 4u << 20;
    auto emu = std::make_unique<RingEmulator>(ro, &CxxApiTest::on_done, this);
    sys.add_backstore(minor, device, 4 << 20);
    sys.add_uio(minor, uio_name(minor, device, dev_config), emu->map_size());
    return *(emulators[minor] = std::move(emu));
  }
  static std::string uio_name(uint32_t hba, const std::string& device, const std::string& cfg) {
    return "tcm-user/" + std::to_string(hba) + "/" + device + "/" + cfg;
  }
  static void on_done(void* ctx, const EmulatedCompletion& c) {
    static_cast<CxxApiTest*>(ctx)->results[c.tag] = {c.status, lunkit::tcmu::data_in_bytes(c)};
  }
  Completion command(RingEmulator& emu, std::vector<uint8_t> cdb, size_t data_in,
                     std::vector<uint8_t> data_out = {}) {
    uint64_t tag = ++next_tag;
    Dir dir = data_in ? Dir::kFromDevice : data_out.empty() ? Dir::kNone : Dir::kToDevice;
    EXPECT_TRUE(emu.submit(cdb, dir, data_out, data_in, tag));
    for (int i = 0; i < 200 && !results.count(tag); ++i) emu.wait_and_service(50);
    EXPECT_TRUE(results.count(tag)) << "command " << tag << " never completed";
    return results[tag];
  }
  static std::vector<uint8_t> rw10(uint8_t op, uint32_t lba, uint16_t blocks) {
    return {op,           0, uint8_t(lba >> 24),   uint8_t(lba >> 16), uint8_t(lba >> 8),
            uint8_t(lba), 0, uint8_t(blocks >> 8), uint8_t(blocks),    0};
  }

  lunkit::test::FakeSystem sys;
  lunkit_tcmu_options options{};
  lunkit_handler handler =
      lunkit::make_handler<RamDevice>("ram", "anything", LUNKIT_THREAD_NONBLOCKING);
  std::map<uint32_t, std::unique_ptr<RingEmulator>> emulators;
  std::map<uint64_t, Completion> results;
  uint64_t next_tag = 0;
};

TEST_F(CxxApiTest, MakeHandlerGivesAHandlerTheCApiAccepts) {
  EXPECT_EQ(handler.abi_version, uint32_t(LUNKIT_HANDLER_ABI_VERSION));
  EXPECT_EQ(handler.struct_size, sizeof(lunkit_handler));
  auto server = lunkit::TcmuServer::create(&options);
  ASSERT_TRUE(server) << server.error();
  auto r = server->add_handler(handler);
  EXPECT_TRUE(r) << r.error();
  auto again = server->add_handler(handler);
  ASSERT_FALSE(again);
  EXPECT_NE(again.error().find("File exists"), std::string::npos) << again.error();
}

TEST_F(CxxApiTest, ABadOptionsSizeIsAnError) {
  options.size = 3;
  auto server = lunkit::TcmuServer::create(&options);
  ASSERT_FALSE(server);
  EXPECT_NE(server.error().find("Invalid argument"), std::string::npos) << server.error();
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
    std::vector<uint8_t> pattern(2 * 512);
    for (size_t i = 0; i < pattern.size(); ++i) pattern[i] = uint8_t(i * 5 + 1);
    EXPECT_EQ(command(emu, rw10(0x2A, 16, 2), 0, pattern).status, 0x00);
    Completion r = command(emu, rw10(0x28, 16, 2), pattern.size());
    EXPECT_EQ(r.status, 0x00);
    EXPECT_EQ(r.data, pattern);

    // REMOVED from a netlink socket of the caller's: detached, the class destroyed, reported.
    std::string name = uio_name(0, "disk0", "ram/");
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
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().find("no storage for fail"), std::string::npos) << r.error();
  EXPECT_NE(r.error().find("Input/output error"), std::string::npos) << r.error();
  auto missing = server->attach(9);
  ASSERT_FALSE(missing);
  EXPECT_NE(missing.error().find("No such device"), std::string::npos) << missing.error();
  auto detach = server->detach(0);
  ASSERT_FALSE(detach);
  EXPECT_NE(detach.error().find("No such file or directory"), std::string::npos) << detach.error();
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
