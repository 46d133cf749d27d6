// `lunkit ublk` through the real binary: bad arguments and a missing ublk driver give one line
// and a non-zero status. (Serving devices needs ublk_drv: tests/vm/ublk.sh does that.)
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <array>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include "tests/unit/plugin_dir.h"

namespace {

struct CliRun {
  int status = -1;
  std::string output;  // stdout and stderr
};

CliRun lunkit(const std::string& args) {
  const char* build = std::getenv("LUNKIT_BUILD_DIR");
  std::string cmd = std::string(build ? build : ".") + "/cli/lunkit " + args + " 2>&1";
  CliRun r;
  FILE* p = popen(cmd.c_str(), "r");
  if (!p) return r;
  std::array<char, 512> buf;
  while (fgets(buf.data(), buf.size(), p)) r.output += buf.data();
  int st = pclose(p);
  r.status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
  return r;
}

int lines(const std::string& s) {
  int n = 0;
  for (char c : s) n += c == '\n';
  return n;
}

class UblkCli : public testing::Test {
 protected:
  void SetUp() override { setenv("LUNKIT_UBLK_CONTROL", "/nonexistent/ublk-control", 1); }
  void TearDown() override { unsetenv("LUNKIT_UBLK_CONTROL"); }
};

TEST_F(UblkCli, MissingDriverIsOneLineNamingTheModule) {
  for (const char* args :
       {"ublk add --handler null --size 64M", "ublk list", "ublk del 0", "ublk recover 0"}) {
    CliRun r = lunkit(args);
    EXPECT_EQ(r.status, 1) << args << ": " << r.output;
    EXPECT_EQ(lines(r.output), 1) << args << ": " << r.output;
    EXPECT_NE(r.output.find("modprobe ublk_drv"), std::string::npos) << r.output;
  }
}

TEST_F(UblkCli, BadArgumentsAreUsageErrors) {
  struct Case {
    const char* args;
    const char* says;
  } cases[] = {
      {"ublk add", "needs --handler"},
      {"ublk add --handler file --queues 0", "--queues 0: must be 1 to 32"},
      {"ublk add --handler file --queues 33", "must be 1 to 32"},
      {"ublk add --handler file --depth 5000", "must be 1 to 4096"},
      {"ublk add --handler file --size 12Q", "unknown suffix"},
      {"ublk add --handler file --block-size x", "--block-size x"},
      {"ublk add --handler file --log-level loud", "--log-level loud"},
      {"ublk add --handler file --frobnicate", "unknown option --frobnicate"},
      {"ublk add --handler file extra", "unexpected argument 'extra'"},
      {"ublk add --handler file --retry-timeout 3601", "--retry-timeout 3601: seconds, 0 to 3600"},
      {"ublk add --handler file --retry-timeout 1.5", "seconds, 0 to 3600"},
      {"ublk add --handler file --config", "needs a value"},
      {"ublk add --handler", "needs a value"},
      {"ublk del", "exactly one device id"},
      {"ublk del abc", "must be a number"},
      {"ublk recover", "needs the device id"},
      {"ublk recover 1 2", "unexpected argument '2'"},
      {"ublk list extra", "takes no arguments"},
      {"ublk resize", "needs a device id and a size"},
      {"ublk resize 0", "needs a device id and a size"},
      {"ublk resize x 1G", "must be a number"},
      {"ublk resize 0 12Q", "resize: size '12Q': unknown suffix"},
      {"ublk frob", "unknown command 'ublk frob'"},
      {"frob", "unknown command 'frob'"},
  };
  for (const Case& c : cases) {
    CliRun r = lunkit(c.args);
    EXPECT_EQ(r.status, 2) << c.args << ": " << r.output;
    EXPECT_NE(r.output.find(c.says), std::string::npos) << c.args << ": " << r.output;
  }
}

// `resize` talks to the process serving the device; with none, one line says so.
TEST(UblkCliResize, WithoutAServerIsOneLineNamingTheDevice) {
  char tmpl[] = "/tmp/lunkit-ublk-state-XXXXXX";
  std::string dir = mkdtemp(tmpl);
  setenv("LUNKIT_UBLK_STATE_DIR", dir.c_str(), 1);
  CliRun r = lunkit("ublk resize 7 1G");
  // A socket a dead server left behind is refused the same way.
  std::ofstream(dir + "/ublk8.sock").put('x');
  CliRun stale = lunkit("ublk resize 8 1G");
  unsetenv("LUNKIT_UBLK_STATE_DIR");
  std::filesystem::remove_all(dir);
  EXPECT_EQ(r.status, 1) << r.output;
  EXPECT_EQ(lines(r.output), 1) << r.output;
  EXPECT_NE(r.output.find("no lunkit process serves ublkb7"), std::string::npos) << r.output;
  EXPECT_EQ(stale.status, 1) << stale.output;
  EXPECT_NE(stale.output.find("no lunkit process serves ublkb8"), std::string::npos)
      << stale.output;
}

// lunkit.conf's handler defaults reach the handler, after the device's own options, as lunkitd
// passes them. A plain file as the control device answers no ublk command (-EOPNOTSUPP; not
// /dev/null, whose uring_cmd succeeds): `add` gets as far as GET_FEATURES, after the handler
// checked and opened the configuration it was given.
class UblkCliConfig : public testing::Test {
 protected:
  void SetUp() override {
    plugins_.add(lunkit::test::handler_build_dir(), "file.so");
    char tmpl[] = "/tmp/lunkit-ublk-cli-XXXXXX";
    dir_ = mkdtemp(tmpl);
    std::ofstream(dir_ + "/control").put('\0');
    setenv("LUNKIT_UBLK_CONTROL", (dir_ + "/control").c_str(), 1);
  }
  void TearDown() override {
    unsetenv("LUNKIT_UBLK_CONTROL");
    std::filesystem::remove_all(dir_);
  }
  std::string write_conf(const std::string& text) {
    std::string path = dir_ + "/lunkit.conf";
    std::ofstream(path) << text;
    return path;
  }
  std::string add(const std::string& cfg, const std::string& more) {
    return "ublk add --handler file --size 1M --cfg '" + cfg + "' " + more;
  }

  lunkit::test::PluginDir plugins_;
  std::string dir_;
};

TEST_F(UblkCliConfig, HandlerDefaultsFromLunkitConfAndTheDevicesOwnOptionsWin) {
  std::string conf = write_conf("handler_dir = \"" + plugins_.path +
                                "\";\nhandlers = { file = { options = \"create=1\"; }; };\n");
  // The default create=1 lets the file handler create the image (and handler_dir finds it).
  CliRun r = lunkit(add(dir_ + "/a.img", "--config " + conf));
  EXPECT_EQ(r.status, 1) << r.output;
  EXPECT_NE(r.output.find("GET_FEATURES"), std::string::npos) << r.output;
  EXPECT_TRUE(std::filesystem::exists(dir_ + "/a.img")) << "create=1 reached open()";
  // The device's own create=0 comes first and wins.
  r = lunkit(add(dir_ + "/b.img;create=0", "--config " + conf));
  EXPECT_EQ(r.status, 1) << r.output;
  EXPECT_NE(r.output.find("b.img: No such file or directory"), std::string::npos) << r.output;
  EXPECT_EQ(lines(r.output), 1) << r.output;
  EXPECT_FALSE(std::filesystem::exists(dir_ + "/b.img"));
  // --handler-dir still beats lunkit.conf's handler_dir.
  r = lunkit(add(dir_ + "/c.img", "--config " + conf + " --handler-dir " + dir_));
  EXPECT_NE(r.output.find("no handler 'file' in " + dir_), std::string::npos) << r.output;
}

TEST_F(UblkCliConfig, WithoutDefaultsTheHandlerGetsOnlyTheDevicesOptions) {
  std::string conf = write_conf("handlers = { ram = { options = \"create=1\"; }; };\n");
  CliRun r = lunkit(add(dir_ + "/a.img", "--config " + conf + " --handler-dir " + plugins_.path));
  EXPECT_EQ(r.status, 1) << r.output;
  EXPECT_NE(r.output.find("a.img: No such file or directory (add ;create=1"), std::string::npos)
      << r.output;
}

TEST_F(UblkCliConfig, ABadOrMissingConfigFileIsOneLine) {
  std::string conf = write_conf("log_level = \"info\";\nbogus = 1;\n");
  CliRun r = lunkit(add(dir_ + "/a.img", "--config " + conf + " --handler-dir " + plugins_.path));
  EXPECT_EQ(r.status, 1) << r.output;
  EXPECT_EQ(lines(r.output), 1) << r.output;
  EXPECT_NE(r.output.find(conf + ":2: unknown setting 'bogus'"), std::string::npos) << r.output;
  r = lunkit("ublk add --handler file --config " + dir_ + "/none.conf");
  EXPECT_EQ(r.status, 1) << r.output;
  EXPECT_NE(r.output.find("none.conf: cannot read the configuration file"), std::string::npos)
      << r.output;
  r = lunkit("ublk recover 0 --config " + dir_ + "/none.conf");
  EXPECT_EQ(r.status, 1) << r.output;
  EXPECT_NE(r.output.find("none.conf: cannot read the configuration file"), std::string::npos)
      << r.output;
}

TEST_F(UblkCli, Help) {
  CliRun r = lunkit("ublk --help");
  EXPECT_EQ(r.status, 0);
  EXPECT_NE(r.output.find("lunkit ublk add --handler NAME"), std::string::npos) << r.output;
  r = lunkit("--version");
  EXPECT_EQ(r.status, 0);
  EXPECT_EQ(r.output.rfind("lunkit ", 0), 0u) << r.output;
}

}  // namespace
