// "The device's own option wins" in every handler that takes options: lunkit.conf's defaults are
// appended after a device's cfgstring (plugins::with_defaults), so each handler must keep the
// FIRST occurrence of an option. Checked through each plugin's check_config, with nothing that
// needs a cluster: rbd's parser answers before it would connect.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <string>

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

}  // namespace
}  // namespace lunkit::plugins
