// ALUA: INQUIRY TPGS, the VPD 0x83 port designators and REPORT TARGET PORT GROUPS, first from a
// description given directly, then from a fake configfs tree laid out as the kernel lays out a
// user backstore's alua/ groups and the fabric ports named in their members.
#include <gtest/gtest.h>

#include <map>
#include <memory>
#include <string>

#include "tcmu/alua_config.h"
#include "tcmu/manager.h"
#include "tcmu/ring_emulator.h"
#include "tests/unit/fake_system.h"
#include "tests/unit/harness.h"
#include "tests/unit/ram_device.h"

namespace lunkit::test {
namespace {

using Bytes = std::vector<uint8_t>;
using scsi::AluaDescription;

Bytes got(const TestCommand& tc) {
  return {tc.data_in().begin(), tc.data_in().end()};
}
Cdb inquiry(bool evpd, uint8_t page, uint16_t alloc) {
  return Cdb(0x12).set(1, evpd ? 1 : 0).set(2, page).be(3, 2, alloc);
}
Cdb rtpg(bool extended, uint32_t alloc) {
  return Cdb(0xA3).set(1, extended ? 0x2A : 0x0A).be(6, 4, alloc);
}

// Group 1 active/optimized and preferred (port 1, the unit's own); group 2 active/non-optimized
// (ports 2 and 3). Supported states as the kernel's defaults: T, O, U, S, AN, AO.
AluaDescription two_groups() {
  AluaDescription d;
  d.relative_port_id = 1;
  d.port_group_id = 1;
  d.group_count = 2;
  auto& g1 = d.groups[0];
  g1.id = 1;
  g1.state = scsi::kAluaActiveOptimized;
  g1.supported = 0xCF;
  g1.status = scsi::kAluaStatusAlteredImplicitly;
  g1.implicit_transition_secs = 5;
  g1.preferred = true;
  g1.port_count = 1;
  g1.ports[0] = 1;
  auto& g2 = d.groups[1];
  g2.id = 2;
  g2.state = scsi::kAluaActiveNonOptimized;
  g2.supported = 0xCF;
  g2.implicit_transition_secs = 9;
  g2.port_count = 2;
  g2.ports[0] = 2;
  g2.ports[1] = 3;
  return d;
}

// The REPORT TARGET PORT GROUPS answer for two_groups(), without its header.
const Bytes kTwoGroupDescriptors = {
    0x80, 0xCF, 0x00, 0x01, 0x00, 0x02, 0x00, 0x01,  // pref, A/O; group 1; implicit; 1 port
    0x00, 0x00, 0x00, 0x01,                          // relative port 1
    0x01, 0xCF, 0x00, 0x02, 0x00, 0x00, 0x00, 0x02,  // A/NO; group 2; no status; 2 ports
    0x00, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00, 0x03,  // relative ports 2 and 3
};
Bytes with_header(Bytes header, const Bytes& body) {
  header.insert(header.end(), body.begin(), body.end());
  return header;
}
const Bytes kRtpg = with_header({0, 0, 0, 28}, kTwoGroupDescriptors);
const Bytes kRtpgExtended = with_header({0, 0, 0, 32, 0x10, 5, 0, 0}, kTwoGroupDescriptors);

// The VPD 0x83 page of a unit without ALUA, with the two port designators appended.
Bytes with_port_designators(Bytes page, uint16_t rtpi, uint16_t group) {
  Bytes tail = {0x01, 0x14, 0x00, 0x04, 0, 0, uint8_t(rtpi >> 8),  uint8_t(rtpi),
                0x01, 0x15, 0x00, 0x04, 0, 0, uint8_t(group >> 8), uint8_t(group)};
  page.insert(page.end(), tail.begin(), tail.end());
  size_t len = page.size() - 4;
  page[2] = uint8_t(len >> 8);
  page[3] = uint8_t(len);
  return page;
}

// A unit whose ALUA source is a description the test changes between commands.
struct Holder {
  AluaDescription desc;
  bool present = true;
  int reads = 0;
};
bool from_holder(void* ctx, AluaDescription& out) {
  auto* h = static_cast<Holder*>(ctx);
  ++h->reads;
  out = h->desc;
  return h->present;
}

class Alua : public LuTest {
 protected:
  static scsi::LogicalUnitOptions opts(Holder* h) {
    scsi::LogicalUnitOptions o;
    o.alua_source = from_holder;
    o.alua_context = h;
    return o;
  }
  Alua() : LuTest(default_info(), opts(&holder)) { holder.desc = two_groups(); }
  void SetUp() override { clear_ua(); }

  // The VPD 0x83 page of the same device without ALUA.
  Bytes plain_device_identification() {
    bool was = holder.present;
    holder.present = false;
    Bytes page = got(run(inquiry(true, 0x83, 255), {}, 255));
    holder.present = was;
    return page;
  }
  Holder holder;
};

TEST_F(Alua, StandardInquiryReportsImplicitTpgs) {
  auto& tc = run(inquiry(false, 0, 36), {}, 36);
  EXPECT_GOOD(tc);
  EXPECT_EQ(tc.buffer[5] & 0x30, 0x10) << "TPGS 01b: implicit ALUA only";
  holder.present = false;
  EXPECT_EQ(run(inquiry(false, 0, 36), {}, 36).buffer[5] & 0x30, 0x00);
}

TEST_F(Alua, DeviceIdentificationEndsWithThePortDesignators) {
  Bytes plain = plain_device_identification();
  ASSERT_GE(plain.size(), 8u);
  auto& tc = run(inquiry(true, 0x83, 255), {}, 255);
  EXPECT_GOOD(tc);
  EXPECT_EQ(got(tc), with_port_designators(plain, 1, 1));
  holder.desc.relative_port_id = 0x0203;
  holder.desc.port_group_id = 0x0405;
  EXPECT_EQ(got(run(inquiry(true, 0x83, 255), {}, 255)),
            with_port_designators(plain, 0x0203, 0x0405));
}

TEST_F(Alua, ReportTargetPortGroupsBothFormats) {
  auto& tc = run(rtpg(false, 512), {}, 512);
  EXPECT_GOOD(tc);
  EXPECT_EQ(got(tc), kRtpg);
  auto& ext = run(rtpg(true, 512), {}, 512);
  EXPECT_GOOD(ext);
  EXPECT_EQ(got(ext), kRtpgExtended) << "implicit transition time of the unit's own group";
  EXPECT_INVALID_CDB_FIELD(run(Cdb(0xA3).set(1, 0x4A).be(6, 4, 64), {}, 64), 1, 6);
}

TEST_F(Alua, AllocationLengthTruncatesButReturnDataLengthIsWhole) {
  auto& short_alloc = run(rtpg(false, 10), {}, 512);
  EXPECT_GOOD(short_alloc);
  EXPECT_EQ(got(short_alloc), Bytes(kRtpg.begin(), kRtpg.begin() + 10));
  auto& short_buffer = run(rtpg(true, 512), {}, 6);
  EXPECT_GOOD(short_buffer);
  EXPECT_EQ(got(short_buffer), Bytes(kRtpgExtended.begin(), kRtpgExtended.begin() + 6));
  auto& zero = run(rtpg(false, 0), {}, 64);
  EXPECT_GOOD(zero);
  EXPECT_EQ(zero.cmd.data_in_len, 0u);
}

TEST_F(Alua, StatesAreReadOnEveryCommand) {
  EXPECT_EQ(got(run(rtpg(false, 512), {}, 512)), kRtpg);
  holder.desc.groups[0].state = scsi::kAluaStandby;
  holder.desc.groups[0].preferred = false;
  Bytes want = kRtpg;
  want[4] = 0x02;
  EXPECT_EQ(got(run(rtpg(false, 512), {}, 512)), want);
}

TEST_F(Alua, WithoutGroupsThereIsNoReportTargetPortGroups) {
  holder.present = false;
  EXPECT_INVALID_CDB_FIELD(run(rtpg(false, 64), {}, 64), 1, 4);
  // Listed by REPORT SUPPORTED OPERATION CODES exactly while it is served.
  auto rsoc_rtpg = [&] {
    return run(Cdb(0xA3).set(1, 0x0C).set(2, 0x02).set(3, 0xA3).be(4, 2, 0x0A).be(6, 4, 64), {}, 64)
        .buffer[1];
  };
  EXPECT_EQ(rsoc_rtpg(), 0x01) << "not supported";
  holder.present = true;
  EXPECT_EQ(rsoc_rtpg(), 0x03) << "supported per standard";
}

TEST_F(Alua, SetTargetPortGroupsIsNotOffered) {
  // TPGS says implicit only: SET TARGET PORT GROUPS is refused as LIO refuses it then.
  EXPECT_SENSE(run(Cdb(0xA4).set(1, 0x0A).be(6, 4, 8), {0, 0, 0, 0, 0x00, 0, 0x00, 0x01}), 0x05,
               0x20, 0x00);
}

// ---- from configfs ----

struct ConfigfsSource {
  tcmu::Configfs* configfs;
  tcmu::UioName name;
  std::string error;
};
bool from_configfs(void* ctx, AluaDescription& out) {
  auto* s = static_cast<ConfigfsSource*>(ctx);
  auto r = tcmu::read_alua(*s->configfs, s->name, out);
  s->error = r ? "" : r.error();
  return r && out.group_count > 0;
}

// user_0/disk0 exported through three fabric ports, in two groups besides the kernel's
// default one, as configfs shows them after
//   /backstores/user:file/disk0/alua create ao 1; ... create ano 2; set states, move LUNs.
struct AluaTree {
  explicit AluaTree(FakeSystem& s) : sys(s) {}
  std::string dev_dir() const { return sys.paths.configfs_core + "/user_0/disk0"; }
  std::string group_dir(const std::string& g) const { return dev_dir() + "/alua/" + g; }
  std::string target() const {
    const std::string& core = sys.paths.configfs_core;
    return core.substr(0, core.rfind('/'));
  }
  // A group with the kernel's defaults (core_alua_allocate_tg_pt_gp) and what the test sets.
  void group(const std::string& name, const std::string& id, const std::string& state,
             const std::string& preferred, const std::string& members) {
    std::string d = group_dir(name);
    sys.write(d + "/tg_pt_gp_id", id + "\n");
    sys.write(d + "/alua_access_state", state + "\n");
    sys.write(d + "/alua_access_status", "None\n");
    sys.write(d + "/alua_access_type", "Implicit and Explicit\n");
    sys.write(d + "/preferred", preferred + "\n");
    sys.write(d + "/implicit_trans_secs", "0\n");
    sys.write(d + "/nonop_delay_msecs", "100\n");
    sys.write(d + "/trans_delay_msecs", "0\n");
    sys.write(d + "/members", members);
    for (const char* s : {"transitioning", "offline", "unavailable", "standby",
                          "active_nonoptimized", "active_optimized"})
      sys.write(d + "/alua_support_" + s, "1\n");
    sys.write(d + "/alua_support_lba_dependent", "0\n");
  }
  // A fabric port as Linux 5.16+ shows it: the TPG's rtpi ("%#x"); the LUN's statistics
  // carry the same number (older kernels have only those).
  void port(const std::string& tpg, const std::string& lun, int rtpi) {
    char hex[16];
    snprintf(hex, sizeof hex, "%#x\n", rtpi);
    sys.write(target() + "/" + tpg + "/rtpi", hex);
    sys.write(target() + "/" + tpg + "/lun/" + lun + "/statistics/scsi_port/indx",
              std::to_string(rtpi) + "\n");
  }
  // members as the kernel shows it: each line followed by its NUL.
  static std::string members(std::initializer_list<std::string> lines) {
    std::string out;
    for (const auto& l : lines) out += l + "\n" + std::string(1, '\0');
    return out;
  }
  // The layout whose answers are kRtpg / kRtpgExtended (disk0's backstore must exist).
  void build() {
    sys.write(dev_dir() + "/attrib/alua_support", "1\n");
    group("default_tg_pt_gp", "0", "0", "0", "");
    group("ao", "1", "0", "1", members({"loopback/naa.5001405aaaaaaaa1/tpgt_1/lun_0"}));
    group("ano", "2", "1", "0",
          members({"loopback/naa.5001405bbbbbbbb2/tpgt_1/lun_0",
                   "iSCSI/iqn.2026-12.org.lunkit:t/tpgt_2/lun_3"}));
    sys.write(group_dir("ao") + "/alua_access_status", "Altered by Implicit ALUA\n");
    sys.write(group_dir("ao") + "/implicit_trans_secs", "5\n");
    sys.write(group_dir("ano") + "/implicit_trans_secs", "9\n");
    port("loopback/naa.5001405aaaaaaaa1/tpgt_1", "lun_0", 1);
    port("loopback/naa.5001405bbbbbbbb2/tpgt_1", "lun_0", 2);
    port("iscsi/iqn.2026-12.org.lunkit:t/tpgt_2", "lun_3", 3);
    sys.write(target() + "/iscsi/iqn.2026-12.org.lunkit:t/tpgt_2/enable", "1\n");
  }
  FakeSystem& sys;
};

class AluaConfigfs : public LuTest {
 protected:
  static scsi::LogicalUnitOptions opts(ConfigfsSource* s) {
    scsi::LogicalUnitOptions o;
    o.alua_source = from_configfs;
    o.alua_context = s;
    return o;
  }
  AluaConfigfs() : LuTest(default_info(), opts(&source)), cfs(sys.paths), tree(sys) {
    source.configfs = &cfs;
    source.name.hba = 0;
    source.name.device = "disk0";
    sys.add_backstore(0, "disk0", 1 << 20);
    tree.build();
  }
  void SetUp() override { clear_ua(); }

  std::string dev_dir() const { return tree.dev_dir(); }
  std::string group_dir(const std::string& g) const { return tree.group_dir(g); }
  std::string target() const { return tree.target(); }
  void group(const std::string& name, const std::string& id, const std::string& state,
             const std::string& preferred, const std::string& members) {
    tree.group(name, id, state, preferred, members);
  }
  void port(const std::string& tpg, const std::string& lun, int rtpi) { tree.port(tpg, lun, rtpi); }

  FakeSystem sys;
  tcmu::Configfs cfs;
  AluaTree tree;
  ConfigfsSource source;
};

TEST_F(AluaConfigfs, AnswersAreBuiltFromTheGroups) {
  EXPECT_EQ(run(inquiry(false, 0, 36), {}, 36).buffer[5] & 0x30, 0x10);
  EXPECT_EQ(got(run(rtpg(false, 512), {}, 512)), kRtpg) << source.error;
  EXPECT_EQ(got(run(rtpg(true, 512), {}, 512)), kRtpgExtended) << source.error;
  auto& vpd = run(inquiry(true, 0x83, 255), {}, 255);
  size_t len = vpd.cmd.data_in_len;
  ASSERT_GE(len, 16u);
  EXPECT_EQ(Bytes(vpd.buffer.begin() + len - 16, vpd.buffer.begin() + len),
            (Bytes{0x01, 0x14, 0x00, 0x04, 0, 0, 0, 1, 0x01, 0x15, 0x00, 0x04, 0, 0, 0, 1}));
}

TEST_F(AluaConfigfs, OperatorStateChangesShowWithoutNotice) {
  EXPECT_EQ(got(run(rtpg(false, 512), {}, 512)), kRtpg);
  // targetcli: /backstores/user:file/disk0/alua/ano set alua alua_access_state=2
  sys.write(group_dir("ano") + "/alua_access_state", "2\n");
  Bytes want = kRtpg;
  want[16] = 0x02;  // group 2: standby
  EXPECT_EQ(got(run(rtpg(false, 512), {}, 512)), want);
}

TEST_F(AluaConfigfs, OwnPortIsTheFirstThatCanCarryCommands) {
  // Port 1's TPG disabled: group 1 keeps listing it, but the unit's own port is now port 2.
  sys.write(target() + "/loopback/naa.5001405aaaaaaaa1/tpgt_1/enable", "0\n");
  AluaDescription d;
  ASSERT_TRUE(tcmu::read_alua(cfs, source.name, d));
  EXPECT_EQ(d.relative_port_id, 2);
  EXPECT_EQ(d.port_group_id, 2);
  EXPECT_EQ(d.groups[0].port_count, 1);
  // No port can carry commands: no ALUA at all.
  sys.write(target() + "/loopback/naa.5001405bbbbbbbb2/tpgt_1/enable", "0\n");
  sys.write(target() + "/iscsi/iqn.2026-12.org.lunkit:t/tpgt_2/enable", "0\n");
  ASSERT_TRUE(tcmu::read_alua(cfs, source.name, d));
  EXPECT_EQ(d.group_count, 0u);
  EXPECT_EQ(run(inquiry(false, 0, 36), {}, 36).buffer[5] & 0x30, 0x00);
}

TEST_F(AluaConfigfs, DefaultGroupIsListedOnlyWhileItHoldsPorts) {
  AluaDescription d;
  ASSERT_TRUE(tcmu::read_alua(cfs, source.name, d));
  ASSERT_EQ(d.group_count, 2u);
  sys.write(group_dir("default_tg_pt_gp") + "/members",
            "loopback/naa.5001405cccccccc3/tpgt_1/lun_0\n");
  port("loopback/naa.5001405cccccccc3/tpgt_1", "lun_0", 4);
  ASSERT_TRUE(tcmu::read_alua(cfs, source.name, d));
  ASSERT_EQ(d.group_count, 3u);
  EXPECT_EQ(d.groups[0].id, 0);
  EXPECT_EQ(d.groups[0].ports[0], 4);
  EXPECT_EQ(d.port_group_id, 0) << "lowest group id with a port that can carry commands";
}

TEST_F(AluaConfigfs, OnlyTheDefaultGroupMeansNoAlua) {
  std::filesystem::remove_all(group_dir("ao"));
  std::filesystem::remove_all(group_dir("ano"));
  sys.write(group_dir("default_tg_pt_gp") + "/members",
            "loopback/naa.5001405aaaaaaaa1/tpgt_1/lun_0\n");
  AluaDescription d;
  ASSERT_TRUE(tcmu::read_alua(cfs, source.name, d));
  EXPECT_EQ(d.group_count, 0u);
  EXPECT_EQ(run(inquiry(false, 0, 36), {}, 36).buffer[5] & 0x30, 0x00);
  EXPECT_INVALID_CDB_FIELD(run(rtpg(false, 64), {}, 64), 1, 4);
}

TEST_F(AluaConfigfs, AluaSupportOffMeansNoAlua) {
  sys.write(dev_dir() + "/attrib/alua_support", "0\n");
  AluaDescription d;
  ASSERT_TRUE(tcmu::read_alua(cfs, source.name, d));
  EXPECT_EQ(d.group_count, 0u);
}

TEST_F(AluaConfigfs, GroupWithoutAnIdIsSkipped) {
  group("new", "", "0", "0", "");
  AluaDescription d;
  ASSERT_TRUE(tcmu::read_alua(cfs, source.name, d));
  EXPECT_EQ(d.group_count, 2u);
}

TEST_F(AluaConfigfs, UnreadableMemberIsAnError) {
  sys.write(group_dir("ano") + "/members", "loopback/naa.1/lun_0\n");
  AluaDescription d;
  auto r = tcmu::read_alua(cfs, source.name, d);
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().find("not fabric/wwn/tpgt_N/lun_M"), std::string::npos) << r.error();
  EXPECT_EQ(run(inquiry(false, 0, 36), {}, 36).buffer[5] & 0x30, 0x00)
      << "no ALUA rather than a guess";
  sys.write(group_dir("ano") + "/members", "loopback/naa.5001405dddddddd4/tpgt_1/lun_0\n");
  r = tcmu::read_alua(cfs, source.name, d);
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().find("naa.5001405dddddddd4/tpgt_1/lun/lun_0/statistics/scsi_port/indx"),
            std::string::npos)
      << r.error();
}

TEST_F(AluaConfigfs, PortWithoutAnIdentifierIsLeftOut) {
  // A TPG never enabled (or tcm_loop's on 6.12, until rtpi is written) shows rtpi 0x0.
  sys.write(target() + "/loopback/naa.5001405aaaaaaaa1/tpgt_1/rtpi", "0x0\n");
  AluaDescription d;
  ASSERT_TRUE(tcmu::read_alua(cfs, source.name, d));
  ASSERT_EQ(d.group_count, 2u);
  EXPECT_EQ(d.groups[0].port_count, 0);
  EXPECT_EQ(d.relative_port_id, 2) << "the first port that has an identifier";
  EXPECT_EQ(d.port_group_id, 2);
}

TEST_F(AluaConfigfs, BeforeLinux516TheLunStatisticsCarryTheIdentifier) {
  for (const char* tpg :
       {"loopback/naa.5001405aaaaaaaa1/tpgt_1", "loopback/naa.5001405bbbbbbbb2/tpgt_1",
        "iscsi/iqn.2026-12.org.lunkit:t/tpgt_2"})
    std::filesystem::remove(target() + "/" + tpg + "/rtpi");
  EXPECT_EQ(got(run(rtpg(false, 512), {}, 512)), kRtpg) << source.error;
}

// ---- through tcmu::Manager: a device it attaches answers from its configfs groups ----

class RamBackend : public tcmu::BackendFactory {
 public:
  Result<std::unique_ptr<BlockDevice>> open(const tcmu::UioDevice&,
                                            const tcmu::DeviceAttributes& a) override {
    return std::unique_ptr<BlockDevice>(new RamDevice(default_info(a.size_bytes / a.block_size)));
  }
};

class AluaManager : public ::testing::Test {
 protected:
  AluaManager() : cfs(sys.paths), tree(sys) {
    tcmu::RingEmulator::Options o;
    o.cmdr_size = (1u << 20) - tcmu::kMailboxSize;
    o.data_size = 1u << 20;
    emu = std::make_unique<tcmu::RingEmulator>(o, &AluaManager::on_done, this);
    sys.add_backstore(0, "disk0", 1 << 20);
    sys.add_uio(0, "tcm-user/0/disk0/ram/", emu->map_size());
    tree.build();
    manager = std::make_unique<tcmu::Manager>(
        cfs, [this](const tcmu::UioDevice&) -> Result<tcmu::UioHandles> {
          tcmu::UioHandles h;
          h.doorbell.reset(dup(emu->doorbell_fd()));
          h.map.reset(dup(emu->map_fd()));
          return h;
        });
    manager->add_backend("ram", &backend);
  }
  static void on_done(void* ctx, const tcmu::EmulatedCompletion& c) {
    static_cast<AluaManager*>(ctx)->answers[c.tag] = tcmu::data_in_bytes(c);
  }
  Bytes command(const Cdb& cdb, size_t len, size_t data_in, uint64_t tag) {
    auto dir =
        data_in ? tcmu::RingEmulator::Direction::kFromDevice : tcmu::RingEmulator::Direction::kNone;
    EXPECT_TRUE(
        emu->submit(std::span<const uint8_t>(cdb.bytes.data(), len), dir, {}, data_in, tag));
    for (int i = 0; i < 200 && !answers.count(tag); ++i) emu->wait_and_service(50);
    EXPECT_TRUE(answers.count(tag)) << "command " << tag << " never completed";
    return answers[tag];
  }

  FakeSystem sys;
  tcmu::Configfs cfs;
  AluaTree tree;
  RamBackend backend;
  std::unique_ptr<tcmu::RingEmulator> emu;
  std::map<uint64_t, Bytes> answers;
  std::unique_ptr<tcmu::Manager> manager;  // last: stops the device before the rest goes
};

TEST_F(AluaManager, AttachedDeviceReportsItsConfigfsGroups) {
  ASSERT_TRUE(manager->attach(*tcmu::read_uio_device(sys.paths.sysfs, 0), false));
  command(Cdb(0x00), 6, 0, 1);  // the power-on unit attention
  Bytes std_inq = command(inquiry(false, 0, 36), 6, 36, 2);
  ASSERT_EQ(std_inq.size(), 36u);
  EXPECT_EQ(std_inq[5] & 0x30, 0x10);
  EXPECT_EQ(command(rtpg(false, 512), 12, 512, 3), kRtpg);
  EXPECT_EQ(command(rtpg(true, 512), 12, 512, 4), kRtpgExtended);
}

}  // namespace
}  // namespace lunkit::test
