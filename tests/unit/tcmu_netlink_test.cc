// TCM-USER netlink messages: crafted events, malformed and truncated ones, and the replies.
#include <gtest/gtest.h>
#include <netlink/genl/genl.h>

#include <cstring>
#include <vector>

#include "tcmu/netlink.h"
#include "tcmu/protocol.h"

namespace lunkit::tcmu {
namespace {

constexpr int kFamily = 0x1D;

NetlinkEvent added() {
  NetlinkEvent e;
  e.cmd = genl::kAddedDevice;
  e.version = 2;
  e.device = "tcm-user/0/disk0/file//var/lib/disk0.img";
  e.minor = 3;
  e.device_id = 42;
  return e;
}

TEST(Netlink, AddedDeviceRoundTrip) {
  MsgPtr msg = build_event(kFamily, added());
  ParsedEvent p = parse_event(nlmsg_hdr(msg.get()));
  EXPECT_EQ(p.error, "");
  EXPECT_EQ(p.event.cmd, genl::kAddedDevice);
  EXPECT_EQ(p.event.version, 2);
  EXPECT_EQ(*p.event.device, "tcm-user/0/disk0/file//var/lib/disk0.img");
  EXPECT_EQ(*p.event.minor, 3u);
  EXPECT_EQ(*p.event.device_id, 42u);
  EXPECT_EQ(reply_command(p.event.cmd), genl::kAddedDeviceDone);
}

TEST(Netlink, ReconfigAttributes) {
  NetlinkEvent e = added();
  e.cmd = genl::kReconfigDevice;
  e.dev_size = 3ull << 30;
  MsgPtr msg = build_event(kFamily, e);
  ParsedEvent p = parse_event(nlmsg_hdr(msg.get()));
  EXPECT_EQ(p.error, "");
  EXPECT_EQ(*p.event.dev_size, 3ull << 30);
  EXPECT_EQ(reply_command(p.event.cmd), genl::kReconfigDeviceDone);
  e.dev_size.reset();
  e.write_cache = 1;
  msg = build_event(kFamily, e);
  EXPECT_EQ(*parse_event(nlmsg_hdr(msg.get())).event.write_cache, 1);
  e.write_cache.reset();
  msg = build_event(kFamily, e);
  EXPECT_EQ(parse_event(nlmsg_hdr(msg.get())).error, "RECONFIG_DEVICE without anything to change");
}

TEST(Netlink, MissingAttributesAreReportedButTheIdSurvives) {
  NetlinkEvent e = added();
  e.minor.reset();
  MsgPtr msg = build_event(kFamily, e);
  ParsedEvent p = parse_event(nlmsg_hdr(msg.get()));
  EXPECT_EQ(p.error, "ADDED_DEVICE without device name or minor");
  EXPECT_EQ(*p.event.device_id, 42u);
  e = added();
  e.device_id.reset();
  msg = build_event(kFamily, e);
  EXPECT_EQ(parse_event(nlmsg_hdr(msg.get())).error, "ADDED_DEVICE without device id");
  e.version = 1;  // version 1 messages carry no device id
  msg = build_event(kFamily, e);
  EXPECT_EQ(parse_event(nlmsg_hdr(msg.get())).error, "");
}

TEST(Netlink, TruncatedAttributeIsMalformed) {
  MsgPtr msg = build_event(kFamily, added());
  nlmsghdr* h = nlmsg_hdr(msg.get());
  std::vector<uint8_t> bytes(reinterpret_cast<uint8_t*>(h),
                             reinterpret_cast<uint8_t*>(h) + h->nlmsg_len);
  // Claim the minor attribute (u32) is 2 bytes long.
  nlattr* a = nlmsg_find_attr(h, GENL_HDRLEN, genl::kAttrMinor);
  ASSERT_NE(a, nullptr);
  size_t at = reinterpret_cast<uint8_t*>(a) - reinterpret_cast<uint8_t*>(h);
  uint16_t two = 6;  // header (4) + 2 bytes
  std::memcpy(&bytes[at], &two, 2);
  ParsedEvent p = parse_event(reinterpret_cast<nlmsghdr*>(bytes.data()));
  EXPECT_NE(p.error.find("malformed attributes"), std::string::npos) << p.error;
  EXPECT_EQ(p.event.cmd, genl::kAddedDevice);
  EXPECT_EQ(*p.event.device_id, 42u) << "still answerable";
}

TEST(Netlink, ShortHeaderAndUnknownCommand) {
  nlmsghdr tiny{};
  tiny.nlmsg_len = sizeof tiny;
  EXPECT_EQ(parse_event(&tiny).error, "message too short for a generic netlink header");
  NetlinkEvent e = added();
  e.cmd = genl::kSetFeatures;
  MsgPtr msg = build_event(kFamily, e);
  EXPECT_EQ(parse_event(nlmsg_hdr(msg.get())).error, "unexpected command 7");
  EXPECT_EQ(reply_command(genl::kSetFeatures), 0);
}

TEST(Netlink, ReplyAndSetFeaturesMessages) {
  MsgPtr reply = build_reply(kFamily, genl::kAddedDeviceDone, -2, 42);
  nlmsghdr* h = nlmsg_hdr(reply.get());
  auto* gh = static_cast<genlmsghdr*>(nlmsg_data(h));
  EXPECT_EQ(gh->cmd, genl::kAddedDeviceDone);
  EXPECT_EQ(gh->version, 2);
  EXPECT_EQ(h->nlmsg_type, kFamily);
  nlattr* status = nlmsg_find_attr(h, GENL_HDRLEN, genl::kAttrCmdStatus);
  nlattr* id = nlmsg_find_attr(h, GENL_HDRLEN, genl::kAttrDeviceId);
  ASSERT_TRUE(status && id);
  EXPECT_EQ(nla_get_s32(status), -2);
  EXPECT_EQ(nla_get_u32(id), 42u);
  MsgPtr features = build_set_features(kFamily, true);
  h = nlmsg_hdr(features.get());
  EXPECT_EQ(static_cast<genlmsghdr*>(nlmsg_data(h))->cmd, genl::kSetFeatures);
  EXPECT_TRUE(h->nlmsg_flags & NLM_F_ACK);
  nlattr* supp = nlmsg_find_attr(h, GENL_HDRLEN, genl::kAttrSuppKernCmdReply);
  ASSERT_NE(supp, nullptr);
  EXPECT_EQ(nla_get_u8(supp), 1);
}

TEST(Netlink, OpeningWithoutTheModuleSaysSo) {
  // The host has no target_core_user: the family does not exist.
  auto ch = NetlinkChannel::open();
  if (ch.ok()) GTEST_SKIP() << "this kernel has target_core_user loaded";
  EXPECT_NE(ch.error().find("TCM-USER"), std::string::npos) << ch.error();
}

}  // namespace
}  // namespace lunkit::tcmu
