// Copy groups in lunkit.conf: the syntax, its errors (file and line), and which devices a group
// entry names.
#include <gtest/gtest.h>

#include "daemon/config.h"
#include "daemon/copy_groups.h"

namespace lunkit::daemon {
namespace {

TEST(CopyGroups, Parsed) {
  auto c = parse_config(
      "copy_groups = (\n"
      "  { name = \"vmfs\"; devices = [ \"disk0\", \"user_3/disk1\" ]; },\n"
      "  { name = \"b\"; devices = [ \"x\", \"y\", \"z\" ]; }\n"
      ");\n",
      "g.conf");
  ASSERT_TRUE(c.ok()) << c.error();
  ASSERT_EQ(c->copy_groups.size(), 2u);
  EXPECT_EQ(c->copy_groups[0].name, "vmfs");
  EXPECT_EQ(c->copy_groups[0].devices, (std::vector<std::string>{"disk0", "user_3/disk1"}));
  EXPECT_EQ(c->copy_groups[1].devices.size(), 3u);
  EXPECT_TRUE(parse_config("", "e.conf")->copy_groups.empty());
}

TEST(CopyGroups, ErrorsNameTheFileAndLine) {
  EXPECT_EQ(parse_config("copy_groups = { name = \"a\"; };\n", "a.conf").error(),
            "a.conf:1: copy_groups must be a list: copy_groups = ( { name = \"g1\"; devices = [ "
            "\"disk0\", \"disk1\" ]; } );");
  EXPECT_EQ(
      parse_config("copy_groups = (\n { devices = [ \"a\", \"b\" ]; }\n);\n", "b.conf").error(),
      "b.conf:2: copy_groups: a group needs a name");
  EXPECT_EQ(
      parse_config("copy_groups = ( { name = \"g\"; devices = [ \"a\" ]; } );\n", "c.conf").error(),
      "c.conf:1: copy group 'g' needs two devices or more");
  EXPECT_EQ(
      parse_config("copy_groups = ( { name = \"g\";\n devices = \"a\"; } );\n", "d.conf").error(),
      "d.conf:2: copy_groups: devices must be a list of strings");
  EXPECT_EQ(
      parse_config("copy_groups = ( { name = \"g\"; devs = [ \"a\", \"b\" ]; } );\n", "e.conf")
          .error(),
      "e.conf:1: unknown setting 'copy_groups.devs' (known: name, devices)");
  EXPECT_EQ(
      parse_config("copy_groups = ( { name = \"g\"; devices = [ \"a/\", \"b\" ]; } );\n", "f.conf")
          .error(),
      "f.conf:1: copy_groups: 'a/' is not a device name (\"disk0\" or \"user_1/disk0\")");
}

TEST(CopyGroups, EntriesNameDevices) {
  EXPECT_TRUE(names_device("disk0", "user_1/disk0"));
  EXPECT_TRUE(names_device("user_1/disk0", "user_1/disk0"));
  EXPECT_FALSE(names_device("user_2/disk0", "user_1/disk0"));
  EXPECT_FALSE(names_device("disk", "user_1/disk0"));
  EXPECT_FALSE(names_device("disk00", "user_1/disk0"));
}

TEST(CopyGroups, OnlyMembersOfOneGroupReachEachOther) {
  CopyGroups g({{"a", {"d0", "d1"}}, {"b", {"d1", "user_7/d2"}}});
  EXPECT_TRUE(g.share_a_group("user_1/d0", "user_2/d1"));
  EXPECT_TRUE(g.share_a_group("user_2/d1", "user_7/d2"));
  EXPECT_FALSE(g.share_a_group("user_1/d0", "user_7/d2"));  // d1 is in both; d0 and d2 are not
  EXPECT_FALSE(g.share_a_group("user_2/d1", "user_8/d2"));
  EXPECT_FALSE(g.share_a_group("user_1/d0", "user_1/d3"));
}

}  // namespace
}  // namespace lunkit::daemon
