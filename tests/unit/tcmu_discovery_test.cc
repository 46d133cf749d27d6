// UIO names, sysfs discovery and configfs access.
#include <gtest/gtest.h>

#include <filesystem>

#include "tcmu/configfs.h"
#include "tcmu/uio.h"
#include "tests/unit/fake_system.h"

namespace lunkit::tcmu {
namespace {

TEST(UioName, FullNameWithCfgstring) {
  auto n = parse_uio_name("tcm-user/3/disk0/file//var/lib/disk0.img");
  ASSERT_TRUE(n.ok()) << n.error();
  EXPECT_EQ(n->hba, 3u);
  EXPECT_EQ(n->device, "disk0");
  EXPECT_TRUE(n->has_config);
  EXPECT_EQ(n->subtype, "file");
  EXPECT_EQ(n->cfgstring, "/var/lib/disk0.img");
  EXPECT_EQ(n->dev_config(), "file//var/lib/disk0.img");
}

TEST(UioName, NoConfigEmptyCfgstringAndSlashes) {
  auto bare = parse_uio_name("tcm-user/0/dev0");
  ASSERT_TRUE(bare.ok());
  EXPECT_FALSE(bare->has_config);
  EXPECT_EQ(bare->subtype, "");
  auto empty = parse_uio_name("tcm-user/0/dev0/ram/");
  ASSERT_TRUE(empty.ok());
  EXPECT_EQ(empty->subtype, "ram");
  EXPECT_EQ(empty->cfgstring, "");
  auto no_slash = parse_uio_name("tcm-user/0/dev0/null");
  ASSERT_TRUE(no_slash.ok());
  EXPECT_EQ(no_slash->subtype, "null");
  EXPECT_EQ(no_slash->cfgstring, "");
  auto rbd = parse_uio_name("tcm-user/7/r0/rbd/pool/image;osd_op_timeout=30;conf=/etc/ceph/c.conf");
  ASSERT_TRUE(rbd.ok());
  EXPECT_EQ(rbd->cfgstring, "pool/image;osd_op_timeout=30;conf=/etc/ceph/c.conf");
}

TEST(UioName, LengthLimit) {
  std::string cfg(255 - 5, 'a');  // "file/" + 250 = 255 bytes of dev_config
  auto ok = parse_uio_name("tcm-user/0/d/file/" + cfg);
  ASSERT_TRUE(ok.ok()) << ok.error();
  EXPECT_EQ(ok->dev_config().size(), 255u);
  auto too_long = parse_uio_name("tcm-user/0/d/file/" + cfg + "b");
  ASSERT_FALSE(too_long.ok());
  EXPECT_EQ(too_long.error(), "TCMU dev_config is 256 bytes (at most 255)");
}

TEST(UioName, Rejections) {
  EXPECT_EQ(parse_uio_name("uio_pci_generic").error(), "not a TCMU device (no tcm-user/ prefix)");
  EXPECT_EQ(parse_uio_name("tcm-user/12").error(), "TCMU UIO name has no device name");
  EXPECT_EQ(parse_uio_name("tcm-user/x1/d").error(), "TCMU UIO name has a bad HBA number 'x1'");
  EXPECT_EQ(parse_uio_name("tcm-user/99999999999/d").error(),
            "TCMU UIO name has a bad HBA number '99999999999'");
  EXPECT_EQ(parse_uio_name("tcm-user/1//file/x").error(), "TCMU UIO name has an empty device name");
}

TEST(Discovery, ScansOnlyTcmuDevicesAndReportsBrokenOnes) {
  test::FakeSystem sys;
  sys.add_uio(0, "tcm-user/0/disk0/file//tmp/a.img", 1082130432);
  sys.add_uio(1, "uio_hv_generic", 4096);
  sys.add_uio(2, "tcm-user/1/disk1/ram/", 8392704);
  sys.add_uio(3, "tcm-user/2/broken/ram/", 0);
  std::vector<std::string> errors;
  auto found = scan_uio_devices(sys.paths.sysfs, &errors);
  ASSERT_EQ(found.size(), 2u);
  EXPECT_EQ(found[0].minor, 0u);
  EXPECT_EQ(found[0].map_size, 1082130432u);
  EXPECT_EQ(found[0].name.cfgstring, "/tmp/a.img");
  EXPECT_EQ(found[1].minor, 2u);
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_NE(errors[0].find("cannot read a size"), std::string::npos);
  EXPECT_TRUE(scan_uio_devices("/nonexistent", nullptr).empty());
}

TEST(Configfs, AttributesSerialAndActions) {
  test::FakeSystem sys;
  sys.add_backstore(4, "disk0", 1 << 30, 4096, true);
  Configfs cfs(sys.paths);
  UioName name = *parse_uio_name("tcm-user/4/disk0/file//x");
  auto a = cfs.attributes(name);
  ASSERT_TRUE(a.ok()) << a.error();
  EXPECT_EQ(a->block_size, 4096u);
  EXPECT_EQ(a->size_bytes, 1u << 30);
  EXPECT_TRUE(a->write_cache);
  EXPECT_EQ(a->max_sectors, 128u);
  EXPECT_EQ(cfs.unit_serial(name), "") << "targetcli writes it after enable";
  sys.set_serial(4, "disk0", "5f2a9e3c-0c1d-4b0e-9c36-6a0b1d7f0b11");
  EXPECT_EQ(cfs.unit_serial(name), "5f2a9e3c-0c1d-4b0e-9c36-6a0b1d7f0b11");
  ASSERT_TRUE(cfs.action(name, "block_dev", "1").ok());
  EXPECT_EQ(test::FakeSystem::read(sys.paths.configfs_core + "/user_4/disk0/action/block_dev"),
            "1");
  auto missing = cfs.action(*parse_uio_name("tcm-user/9/nope/file/x"), "block_dev", "1");
  EXPECT_FALSE(missing.ok());
  EXPECT_NE(missing.error().find("user_9/nope/action/block_dev"), std::string::npos);
}

TEST(Configfs, BadAttributeValues) {
  test::FakeSystem sys;
  sys.add_backstore(0, "d", 4096, 1000);
  Configfs cfs(sys.paths);
  UioName name = *parse_uio_name("tcm-user/0/d/ram/");
  auto a = cfs.attributes(name);
  ASSERT_FALSE(a.ok());
  EXPECT_NE(a.error().find("unusable block size 1000"), std::string::npos);
  test::FakeSystem::write(sys.paths.configfs_core + "/user_0/d/attrib/dev_size", "lots\n");
  auto s = cfs.attribute(name, "dev_size");
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.error().find("not a number: 'lots'"), std::string::npos);
}

// Whether the kernel serves PR and RESERVE/RELEASE for the device (passthrough_parse_cdb):
// pgr_support 1 (no TRANSPORT_FLAG_PASSTHROUGH_PGR) and emulate_pr 1.
TEST(Configfs, KernelReservationsFollowPgrSupportAndEmulatePr) {
  test::FakeSystem sys;
  sys.add_backstore(0, "d", 1 << 20);
  Configfs cfs(sys.paths);
  UioName name = *parse_uio_name("tcm-user/0/d/ram/");
  std::string attrib = sys.paths.configfs_core + "/user_0/d/attrib/";
  EXPECT_TRUE(cfs.attributes(name)->kernel_reservations) << "6.12's defaults";
  test::FakeSystem::write(attrib + "pgr_support", "0\n");
  EXPECT_FALSE(cfs.attributes(name)->kernel_reservations) << "passed to userspace";
  test::FakeSystem::write(attrib + "pgr_support", "1\n");
  test::FakeSystem::write(attrib + "emulate_pr", "0\n");
  EXPECT_FALSE(cfs.attributes(name)->kernel_reservations) << "refused by the kernel";
  std::filesystem::remove(attrib + "emulate_pr");
  std::filesystem::remove(attrib + "pgr_support");
  auto a = cfs.attributes(name);
  ASSERT_TRUE(a.ok()) << "optional attributes";
  EXPECT_FALSE(a->kernel_reservations);
}

}  // namespace
}  // namespace lunkit::tcmu
