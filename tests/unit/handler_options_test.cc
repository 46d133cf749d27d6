// "The device's own option wins" in every handler that takes options: lunkit.conf's defaults are
// appended after a device's cfgstring (plugins::with_defaults), so each handler must keep the
// FIRST occurrence of an option. Checked through each plugin's check_config, with nothing that
// needs a cluster: rbd's parser answers before it would connect.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <string>
#include <utility>
#include <vector>

#include "handlers/host/plugin.h"
#include "tests/unit/plugin_dir.h"

namespace lunkit::plugins {
namespace {

class HandlerOptions : public testing::Test {
 protected:
  void SetUp() override {
    dir_.add(test::handler_build_dir(), "file.so");
    dir_.add(test::handler_build_dir(), "rbd.so");
    report_ = load_plugins(dir_.path, geteuid() == 0);
    char tmpl[] = "/tmp/lunkit-options-XXXXXX";
    scratch_ = mkdtemp(tmpl);
  }
  void TearDown() override { std::filesystem::remove_all(scratch_); }

  const Plugin& plugin(const std::string& subtype) {
    for (auto& p : report_.plugins)
      if (p->subtype() == subtype) return *p;
    ADD_FAILURE() << "no " << subtype << " plugin";
    std::abort();
  }
  // check_config's reason, or "" when it accepts the configuration.
  std::string check(const std::string& subtype, const std::string& cfg) {
    auto r = plugin(subtype).check_config(cfg);
    return r ? "" : r.error();
  }

  test::PluginDir dir_;
  LoadReport report_;
  std::string scratch_;
};

TEST_F(HandlerOptions, FileKeepsTheFirstOccurrence) {
  std::string img = scratch_ + "/new.img";
  EXPECT_EQ(check("file", with_defaults(img + ";create=1", "create=0")), "");
  std::string why = check("file", with_defaults(img + ";create=0", "create=1"));
  EXPECT_NE(why.find("No such file or directory"), std::string::npos) << why;
}

TEST_F(HandlerOptions, RbdKeepsTheFirstOccurrence) {
  // The device's conf= is used (and found missing, before any connection is tried) ...
  std::string why = check("rbd", with_defaults("pool/img;conf=/nonexistent/ceph.conf", "conf=x"));
  EXPECT_NE(why.find("/nonexistent/ceph.conf: No such file or directory"), std::string::npos)
      << why;
  // ... and a default that would be refused is not even looked at.
  why = check("rbd", with_defaults("pool/img;conf=/nonexistent/ceph.conf;osd_op_timeout=5",
                                   "osd_op_timeout=0;conf=relative"));
  EXPECT_NE(why.find("/nonexistent/ceph.conf:"), std::string::npos) << why;
  // The device's own bad value is still refused, whatever the default.
  why = check("rbd", with_defaults("pool/img;conf=x", "conf=/nonexistent/ceph.conf"));
  EXPECT_NE(why.find("conf takes the absolute path"), std::string::npos) << why;
  why = check("rbd", "pool/img;cache=maybe;cache=1;conf=/nonexistent/ceph.conf");
  EXPECT_NE(why.find("cache takes 0 or 1"), std::string::npos) << why;
}

// The ABI's cfgstring helpers: one set of rules and messages for every handler.
struct Seen {
  std::vector<std::pair<std::string, std::string>> items;  // value "<none>" for a bare key
  std::string stop_at;
};
int collect(void* arg, const char* key, const char* value, char* why, size_t len) {
  auto& s = *static_cast<Seen*>(arg);
  s.items.emplace_back(key, value ? value : "<none>");
  if (s.stop_at == key) {
    snprintf(why, len, "stopped at %s", key);
    return -1;
  }
  return 0;
}

TEST(CfgHelpers, SplitsElementsAtSemicolons) {
  Seen s;
  char why[128] = {};
  ASSERT_EQ(
      lunkit_cfg_parse("/a=b/disk;;create=1;direct;x=;size=1G;", collect, &s, why, sizeof why), 0);
  using P = std::pair<std::string, std::string>;
  EXPECT_EQ(
      s.items,
      (std::vector<P>{
          {"/a", "b/disk"}, {"create", "1"}, {"direct", "<none>"}, {"x", ""}, {"size", "1G"}}));
  Seen stop{.items = {}, .stop_at = "direct"};
  EXPECT_EQ(lunkit_cfg_parse("create=1;direct;size=1", collect, &stop, why, sizeof why), -1);
  EXPECT_STREQ(why, "stopped at direct");
  EXPECT_EQ(stop.items.size(), 2u) << "nothing after the element that stopped it";
  Seen none;
  EXPECT_EQ(lunkit_cfg_parse("", collect, &none, why, sizeof why), 0);
  EXPECT_TRUE(none.items.empty());
  std::string huge = "k=" + std::string(5000, 'v');
  EXPECT_EQ(lunkit_cfg_parse(huge.c_str(), collect, &none, why, sizeof why), -1);
  EXPECT_NE(std::string(why).find("is longer than 4095 bytes"), std::string::npos) << why;
}

TEST(CfgHelpers, BooleansAndSizes) {
  char why[160] = {};
  int b = -1;
  for (const char* yes : {"1", "true", "YES", "on"}) {
    EXPECT_EQ(lunkit_parse_bool("k", yes, &b, why, sizeof why), 0) << yes;
    EXPECT_EQ(b, 1) << yes;
  }
  for (const char* no : {"0", "False", "no", "off"}) {
    EXPECT_EQ(lunkit_parse_bool("k", no, &b, why, sizeof why), 0) << no;
    EXPECT_EQ(b, 0) << no;
  }
  EXPECT_EQ(lunkit_parse_bool("k", nullptr, &b, why, sizeof why), 0) << "a bare key is set";
  EXPECT_EQ(b, 1);
  EXPECT_EQ(lunkit_parse_bool("cache", "maybe", &b, why, sizeof why), -1);
  EXPECT_STREQ(why, "cache takes 0 or 1 (got 'maybe')");
  EXPECT_EQ(lunkit_parse_bool("cache", "", &b, why, sizeof why), -1);

  uint64_t v = 0;
  struct {
    const char* text;
    uint64_t bytes;
  } good[] = {{"0", 0},
              {"4096", 4096},
              {"64K", 64 << 10},
              {"64k", 64 << 10},
              {"3M", 3 << 20},
              {"1GiB", 1ull << 30},
              {"2GB", 2ull << 30},
              {"5T", 5ull << 40},
              {"16383T", 16383ull << 40}};
  for (auto& g : good) {
    EXPECT_EQ(lunkit_parse_size("size", g.text, &v, why, sizeof why), 0) << g.text << ": " << why;
    EXPECT_EQ(v, g.bytes) << g.text;
  }
  for (const char* bad : {"", "K", "-1", "1.5G", "12X", "1Gi", "4096B", " 1", "1 "}) {
    EXPECT_EQ(lunkit_parse_size("size", bad, &v, why, sizeof why), -1) << bad;
    EXPECT_EQ(
        std::string(why),
        std::string("size takes a size in bytes with an optional K, M, G or T suffix (got '") +
            bad + "')");
  }
  EXPECT_EQ(lunkit_parse_size("size", nullptr, &v, why, sizeof why), -1) << "a bare key";
  EXPECT_EQ(lunkit_parse_size("size", "16777216T", &v, why, sizeof why), -1);
  EXPECT_STREQ(why, "size is too large (got '16777216T')");
  EXPECT_EQ(lunkit_parse_size("size", "18446744073709551616", &v, why, sizeof why), -1);
  EXPECT_STREQ(why, "size is too large (got '18446744073709551616')");
  EXPECT_EQ(lunkit_parse_size("size", "18446744073709551615", &v, why, sizeof why), 0);
  EXPECT_EQ(v, UINT64_MAX);
}

TEST_F(HandlerOptions, FileUsesTheSharedMessages) {
  EXPECT_EQ(check("file", scratch_ + "/x.img;create=maybe"), "create takes 0 or 1 (got 'maybe')");
  EXPECT_EQ(check("file", ";create=1"),
            "file needs an absolute path, e.g. /var/lib/lunkit/disk0.img (got '')");
  EXPECT_EQ(check("file", scratch_ + "/x.img;create;direct=off"), "") << "a bare key is set";
}

}  // namespace
}  // namespace lunkit::plugins
