// `lunkit ublk` through the real binary: bad arguments and a missing ublk driver give one line
// and a non-zero status. (Serving devices needs ublk_drv: tests/vm/ublk.sh does that.)
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <array>
#include <cstdio>
#include <cstdlib>
#include <string>

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
      {"ublk add --handler", "needs a value"},
      {"ublk del", "exactly one device id"},
      {"ublk del abc", "must be a number"},
      {"ublk recover", "needs the device id"},
      {"ublk recover 1 2", "unexpected argument '2'"},
      {"ublk list extra", "takes no arguments"},
      {"ublk frob", "unknown command 'ublk frob'"},
      {"frob", "unknown command 'frob'"},
  };
  for (const Case& c : cases) {
    CliRun r = lunkit(c.args);
    EXPECT_EQ(r.status, 2) << c.args << ": " << r.output;
    EXPECT_NE(r.output.find(c.says), std::string::npos) << c.args << ": " << r.output;
  }
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
