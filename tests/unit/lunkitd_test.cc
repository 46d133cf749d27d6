// lunkitd as a process: on a private dbus-daemon, queried with gdbus the way targetcli does.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "tests/unit/plugin_dir.h"

namespace {

using Clock = std::chrono::steady_clock;

std::string build_dir() {
  const char* d = std::getenv("LUNKIT_BUILD_DIR");
  return d ? d : ".";
}
std::string src_dir() {
  const char* d = std::getenv("LUNKIT_SRC_DIR");
  return d ? d : "..";
}

struct Output {
  int status;
  std::string out;
};

// Runs a shell command line, capturing stdout and stderr.
Output run(const std::string& cmd) {
  Output r;
  FILE* p = popen((cmd + " 2>&1").c_str(), "r");
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, p)) > 0) r.out.append(buf, n);
  int st = pclose(p);
  r.status = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
  return r;
}

std::string slurp(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Waits for `done()` up to `seconds`, checking every 20 ms.
template <typename F>
bool eventually(F done, int seconds = 15) {
  auto end = Clock::now() + std::chrono::seconds(seconds);
  while (Clock::now() < end) {
    if (done()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return done();
}

pid_t spawn(const std::vector<std::string>& argv, const std::string& log, uid_t uid = 0) {
  pid_t pid = fork();
  if (pid == 0) {
    int fd = open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0666);
    dup2(fd, 1);
    dup2(fd, 2);
    if (uid && (setgid(uid) != 0 || setuid(uid) != 0)) _exit(126);
    std::vector<char*> args;
    for (auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    execvp(args[0], args.data());
    dprintf(2, "spawn: cannot run %s as uid %u: %s\n", args[0], unsigned(getuid()),
            strerror(errno));
    _exit(127);
  }
  return pid;
}

// Whether `uid` could execute `path`: every directory above it searchable, the file executable.
bool runnable_by(uid_t uid, const std::string& path) {
  pid_t pid = fork();
  if (pid == 0) {
    if (setgid(uid) != 0 || setuid(uid) != 0) _exit(2);
    _exit(access(path.c_str(), X_OK) == 0 ? 0 : 1);
  }
  int status = 0;
  return pid > 0 && waitpid(pid, &status, 0) == pid && WIFEXITED(status) &&
         WEXITSTATUS(status) == 0;
}

int wait_exit(pid_t pid, int seconds = 30) {
  int status = 0;
  auto end = Clock::now() + std::chrono::seconds(seconds);
  while (waitpid(pid, &status, WNOHANG) == 0) {
    if (Clock::now() > end) {
      kill(pid, SIGKILL);
      waitpid(pid, &status, 0);
      return -1;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

class Lunkitd : public ::testing::Test {
 protected:
  void SetUp() override {
    // The non-root test writes its log and lock here; sticky like /tmp, or lunkitd would refuse
    // the plugins below a directory anyone could rename them out of.
    chmod(dir.path.c_str(), 01777);
    bus_socket = dir.path + "/bus";
    address = "unix:path=" + bus_socket;
    plugins = dir.path + "/handlers";
    std::filesystem::create_directory(plugins);
    chmod(plugins.c_str(), 0755);
    for (const char* f : {"file.so", "ram.so", "null.so"}) {
      std::filesystem::copy_file(lunkit::test::handler_build_dir() + "/" + f, plugins + "/" + f);
      chmod((plugins + "/" + f).c_str(), 0644);
    }
    conf = dir.path + "/lunkit.conf";
    write_config("info");
  }
  void TearDown() override {
    for (pid_t p : daemons) {
      kill(p, SIGTERM);
      wait_exit(p);
    }
    if (bus_pid > 0) {
      kill(bus_pid, SIGTERM);
      wait_exit(bus_pid);
    }
  }

  // A private system bus; with `lunkit_policy`, its policy is lunkit's own conf/lunkit-dbus.conf
  // on top of a default that allows connecting and nothing else.
  void start_bus(bool lunkit_policy) {
    std::ofstream c(dir.path + "/bus.conf");
    c << "<!DOCTYPE busconfig PUBLIC \"-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN\"\n"
         " \"http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd\">\n<busconfig>\n"
         "<type>system</type>\n<listen>"
      << address
      << "</listen>\n<auth>EXTERNAL</auth>\n"
         "<policy context=\"default\"><allow user=\"*\"/><allow send_destination=\"*\"/>"
         "<allow receive_sender=\"*\"/>"
      << (lunkit_policy ? "" : "<allow own=\"*\"/>") << "</policy>\n";
    if (lunkit_policy) c << "<include>" << src_dir() << "/conf/lunkit-dbus.conf</include>\n";
    c << "</busconfig>\n";
    c.close();
    bus_pid = spawn({"dbus-daemon", "--config-file=" + dir.path + "/bus.conf", "--nofork"},
                    dir.path + "/bus.log");
    ASSERT_TRUE(eventually([&] { return std::filesystem::exists(bus_socket); }))
        << slurp(dir.path + "/bus.log");
    setenv("DBUS_SYSTEM_BUS_ADDRESS", address.c_str(), 1);
  }

  void write_config(const std::string& level, const std::string& lock = "") {
    std::ofstream c(conf);
    c << "log_level = \"" << level << "\";\nlog_target = \"file\";\nlog_file = \"" << dir.path
      << "/lunkitd.log\";\nlock_file = \"" << (lock.empty() ? dir.path + "/lunkitd.lock" : lock)
      << "\";\ntcmu_runner_lock_file = \"" << tcmu_lock() << "\";\n";
  }
  // Every lunkitd of a test takes this one instead of the host's /run/tcmu.lock.
  std::string tcmu_lock() const { return dir.path + "/tcmu.lock"; }

  pid_t start_lunkitd(const std::string& config, const std::string& out, uid_t uid = 0) {
    pid_t p = spawn({build_dir() + "/daemon/lunkitd", "--foreground", "--config", config,
                     "--handler-dir", plugins},
                    out, uid);
    daemons.push_back(p);
    return p;
  }

  bool owns_name() {
    return run("gdbus call --address " + address +
               " --dest org.freedesktop.DBus --object-path /org/freedesktop/DBus"
               " --method org.freedesktop.DBus.NameHasOwner org.kernel.TCMUService1")
               .out.find("true") != std::string::npos;
  }
  Output gdbus(const std::string& path, const std::string& method, const std::string& args = "") {
    return run("gdbus call --address " + address +
               " --dest org.kernel.TCMUService1 --object-path " + path + " --method " + method +
               " " + args);
  }

  lunkit::test::PluginDir dir;
  std::string bus_socket, address, plugins, conf;
  pid_t bus_pid = -1;
  std::vector<pid_t> daemons;
};

TEST_F(Lunkitd, TargetcliSeesEveryHandlerAndItsConfigDescription) {
  start_bus(false);
  start_lunkitd(conf, dir.path + "/out1");
  ASSERT_TRUE(eventually([&] { return owns_name(); })) << slurp(dir.path + "/lunkitd.log");
  Output objects =
      gdbus("/org/kernel/TCMUService1", "org.freedesktop.DBus.ObjectManager.GetManagedObjects");
  ASSERT_EQ(objects.status, 0) << objects.out;
  for (const char* h : {"file", "ram", "null"})
    EXPECT_NE(objects.out.find(std::string("'/org/kernel/TCMUService1/") + h + "'"),
              std::string::npos)
        << objects.out;
  EXPECT_NE(objects.out.find("'ConfigDesc': <'The path of the backing file"), std::string::npos);
  Output desc = gdbus("/org/kernel/TCMUService1/ram", "org.freedesktop.DBus.Properties.Get",
                      "org.kernel.TCMUService1 ConfigDesc");
  EXPECT_NE(desc.out.find("a sparse disk in memory"), std::string::npos) << desc.out;
}

TEST_F(Lunkitd, CheckConfigAnswersWithTheHandlersReason) {
  start_bus(false);
  start_lunkitd(conf, dir.path + "/out1");
  ASSERT_TRUE(eventually([&] { return owns_name(); }));
  Output missing = gdbus("/org/kernel/TCMUService1/file", "org.kernel.TCMUService1.CheckConfig",
                         "'file//nonexistent/disk0.img'");
  EXPECT_EQ(missing.out,
            "(false, '/nonexistent/disk0.img: No such file or directory (add ;create=1 to create "
            "it)')\n");
  std::string img = dir.path + "/disk0.img";
  std::ofstream(img).put('x');
  Output ok = gdbus("/org/kernel/TCMUService1/file", "org.kernel.TCMUService1.CheckConfig",
                    "'file/" + img + "'");
  EXPECT_EQ(ok.out, "(true, 'success')\n");
  Output wrong =
      gdbus("/org/kernel/TCMUService1/ram", "org.kernel.TCMUService1.CheckConfig", "'file//x'");
  EXPECT_EQ(wrong.out,
            "(false, \"'file//x' is not a ram configuration (expected ram/<cfgstring>)\")\n");
  std::string created = dir.path + "/new.img";
  EXPECT_EQ(gdbus("/org/kernel/TCMUService1/file", "org.kernel.TCMUService1.CheckConfig",
                  "'file/" + created + ";create=1'")
                .out,
            "(true, 'success')\n");
  EXPECT_FALSE(std::filesystem::exists(created)) << "CheckConfig has no side effects";
}

TEST_F(Lunkitd, OneInstancePerHostAndTheBusNameIsChecked) {
  start_bus(false);
  start_lunkitd(conf, dir.path + "/out1");
  ASSERT_TRUE(eventually([&] { return owns_name(); }));
  pid_t second = start_lunkitd(conf, dir.path + "/out2");
  EXPECT_EQ(wait_exit(second), 1);
  EXPECT_NE(slurp(dir.path + "/lunkitd.log")
                .find("another lunkitd (pid " + std::to_string(daemons[0]) + ") is running"),
            std::string::npos);
  // Another lock file: the second one gets as far as the bus, where the name is taken.
  std::string conf2 = dir.path + "/other.conf";
  std::ofstream(conf2) << "lock_file = \"" << dir.path << "/other.lock\";\n"
                       << "tcmu_runner_lock_file = \"" << dir.path << "/other-tcmu.lock\";\n";
  pid_t third = start_lunkitd(conf2, dir.path + "/out3");
  EXPECT_EQ(wait_exit(third), 1);
  EXPECT_NE(slurp(dir.path + "/out3")
                .find("org.kernel.TCMUService1 is already owned by lunkitd (pid " +
                      std::to_string(daemons[0]) + ")"),
            std::string::npos)
      << slurp(dir.path + "/out3");
  // ... and touched no device: not even netlink's block_netlink (absent on a host without
  // target_core_user, so an attempt shows as a warning).
  EXPECT_EQ(slurp(dir.path + "/out3").find("netlink"), std::string::npos)
      << slurp(dir.path + "/out3");
}

// A daemonized lunkitd holds the instance lock itself (fcntl locks do not survive fork), and a
// daemonized start reports the child's failure in the parent's exit status.
TEST_F(Lunkitd, DaemonizedInstanceHoldsTheLock) {
  start_bus(false);
  pid_t parent =
      spawn({build_dir() + "/daemon/lunkitd", "--config", conf, "--handler-dir", plugins},
            dir.path + "/out1");
  ASSERT_EQ(wait_exit(parent), 0) << slurp(dir.path + "/out1") << slurp(dir.path + "/lunkitd.log");
  pid_t first = std::atoi(slurp(dir.path + "/lunkitd.lock").c_str());
  ASSERT_GT(first, 0);
  ASSERT_NE(first, parent);
  ASSERT_TRUE(eventually([&] { return owns_name(); })) << slurp(dir.path + "/lunkitd.log");
  std::string line = "another lunkitd (pid " + std::to_string(first) + ") is running";

  pid_t fg = start_lunkitd(conf, dir.path + "/out2");
  EXPECT_EQ(wait_exit(fg), 1) << slurp(dir.path + "/out2");
  pid_t bg = spawn({build_dir() + "/daemon/lunkitd", "--config", conf, "--handler-dir", plugins},
                   dir.path + "/out3");
  EXPECT_EQ(wait_exit(bg), 1) << slurp(dir.path + "/out3");
  std::string log = slurp(dir.path + "/lunkitd.log");
  size_t n = 0;
  for (size_t at = log.find(line); at != std::string::npos; at = log.find(line, at + 1)) ++n;
  EXPECT_EQ(n, 2u) << log;  // one line from each refused instance
  EXPECT_EQ(kill(first, 0), 0) << "the first lunkitd died";

  kill(first, SIGTERM);
  EXPECT_TRUE(eventually([&] { return kill(first, 0) != 0; })) << log;
}

// What tcmu-runner does at start (main.c): creat() its lock file and F_SETLK a write lock on it.
// In a child process, since fcntl locks never conflict within one process. With `hold`, the
// child keeps the lock until `*release` is closed. Returns the child's pid and whether it got it.
std::pair<pid_t, bool> tcmu_runner_takes(const std::string& path, bool hold, int* release) {
  int report[2], wait_for[2];
  if (pipe(report) != 0 || pipe(wait_for) != 0) return {-1, false};
  pid_t pid = fork();
  if (pid == 0) {
    close(report[0]);
    close(wait_for[1]);
    int fd = creat(path.c_str(), S_IRUSR | S_IWUSR);
    struct flock fl {};
    fl.l_type = F_WRLCK;
    fl.l_whence = SEEK_SET;
    char got = fd >= 0 && fcntl(fd, F_SETLK, &fl) == 0 ? 1 : 0;
    (void)!write(report[1], &got, 1);
    char c;
    if (got && hold) (void)!read(wait_for[0], &c, 1);
    _exit(got ? 0 : 1);
  }
  close(report[1]);
  close(wait_for[0]);
  char got = 0;
  bool ok = read(report[0], &got, 1) == 1 && got == 1;
  close(report[0]);
  *release = wait_for[1];
  return {pid, ok};
}

TEST_F(Lunkitd, NoLunkitdWhileTcmuRunnerRunsAndNoTcmuRunnerWhileLunkitdRuns) {
  start_bus(false);
  int release = -1;
  auto [runner, locked] = tcmu_runner_takes(tcmu_lock(), true, &release);
  ASSERT_TRUE(locked) << "the stand-in tcmu-runner could not take " << tcmu_lock();
  pid_t refused = start_lunkitd(conf, dir.path + "/out1");
  EXPECT_EQ(wait_exit(refused), 1);
  EXPECT_NE(slurp(dir.path + "/lunkitd.log")
                .find("tcmu-runner (pid " + std::to_string(runner) + ") holds " + tcmu_lock()),
            std::string::npos)
      << slurp(dir.path + "/lunkitd.log");
  EXPECT_FALSE(owns_name());
  close(release);
  EXPECT_EQ(wait_exit(runner), 0);

  start_lunkitd(conf, dir.path + "/out2");
  ASSERT_TRUE(eventually([&] { return owns_name(); })) << slurp(dir.path + "/lunkitd.log");
  auto [late, late_locked] = tcmu_runner_takes(tcmu_lock(), false, &release);
  close(release);
  EXPECT_FALSE(late_locked) << "a tcmu-runner started after lunkitd got its lock";
  EXPECT_EQ(wait_exit(late), 1);
}

TEST_F(Lunkitd, OnlyRootMayOwnTheServiceName) {
  if (geteuid() != 0) GTEST_SKIP() << "needs root to run a second user";
  std::string daemon = build_dir() + "/daemon/lunkitd";
  ASSERT_TRUE(runnable_by(65534, daemon))
      << "uid 65534 cannot run " << daemon
      << ": a directory above the build tree is not searchable by others (chmod o+x it)";
  start_bus(true);
  std::string conf2 = dir.path + "/nobody.conf";
  std::ofstream(conf2) << "lock_file = \"" << dir.path << "/nobody.lock\";\n"
                       << "tcmu_runner_lock_file = \"" << dir.path << "/nobody-tcmu.lock\";\n";
  pid_t nobody = start_lunkitd(conf2, dir.path + "/out-nobody", 65534);
  EXPECT_EQ(wait_exit(nobody), 1);
  EXPECT_NE(slurp(dir.path + "/out-nobody").find("cannot own org.kernel.TCMUService1"),
            std::string::npos)
      << slurp(dir.path + "/out-nobody");
  start_lunkitd(conf, dir.path + "/out-root");
  EXPECT_TRUE(eventually([&] { return owns_name(); })) << slurp(dir.path + "/lunkitd.log");
}

TEST_F(Lunkitd, SighupReloadsTheLogLevel) {
  start_bus(false);
  pid_t p = start_lunkitd(conf, dir.path + "/out1");
  ASSERT_TRUE(eventually([&] { return owns_name(); }));
  std::string img = dir.path + "/d.img";
  std::ofstream(img).put('x');
  gdbus("/org/kernel/TCMUService1/file", "org.kernel.TCMUService1.CheckConfig",
        "'file/" + img + "'");
  std::string log = dir.path + "/lunkitd.log";
  EXPECT_EQ(slurp(log).find("CheckConfig"), std::string::npos) << "debug lines are off at info";
  write_config("debug");
  kill(p, SIGHUP);
  ASSERT_TRUE(eventually([&] { return slurp(log).find("log level debug") != std::string::npos; }))
      << slurp(log);
  gdbus("/org/kernel/TCMUService1/file", "org.kernel.TCMUService1.CheckConfig",
        "'file/" + img + "'");
  EXPECT_TRUE(eventually([&] {
    return slurp(log).find("CheckConfig file/" + img + ": valid") != std::string::npos;
  })) << slurp(log);
  // A broken file on reload is reported and the running configuration kept.
  std::ofstream(conf) << "log_level = \"debug\"\nbroken\n";
  kill(p, SIGHUP);
  EXPECT_TRUE(eventually([&] {
    return slurp(log).find("keeping the running configuration") != std::string::npos;
  })) << slurp(log);
  kill(p, SIGTERM);
  EXPECT_EQ(wait_exit(p), 0);
  daemons.clear();
  EXPECT_NE(slurp(log).find("stopped"), std::string::npos);
}

TEST_F(Lunkitd, CommandLineAndConfigurationErrors) {
  Output bad = run(build_dir() + "/daemon/lunkitd --frobnicate");
  EXPECT_EQ(bad.status, 2);
  EXPECT_EQ(bad.out, "lunkitd: unknown option --frobnicate (see lunkitd --help)\n");
  Output level = run(build_dir() + "/daemon/lunkitd --log-level loud");
  EXPECT_EQ(level.status, 2);
  std::ofstream(conf) << "log_level = \"info\";\nworkers = 2;\n";
  Output cfg = run(build_dir() + "/daemon/lunkitd --foreground --config " + conf);
  EXPECT_EQ(cfg.status, 1);
  EXPECT_EQ(cfg.out, "lunkitd: " + conf + ":2: unknown setting 'workers'\n");
  Output version = run(build_dir() + "/daemon/lunkitd --version");
  EXPECT_EQ(version.status, 0);
  EXPECT_EQ(version.out.rfind("lunkitd ", 0), 0u);
  EXPECT_NE(run(build_dir() + "/daemon/lunkitd --help").out.find("--release-netlink"),
            std::string::npos);
}

// ---- handlers helper (issue 12): privilege, config defaults ----

// lunkit.conf's per-handler options reach CheckConfig as they reach the device's open.
TEST_F(Lunkitd, CheckConfigSeesTheHandlersDefaultsFromTheConfiguration) {
  write_config("info");
  std::ofstream(conf, std::ios::app) << "handlers = { file = { options = \"create=1\"; }; };\n";
  start_bus(false);
  start_lunkitd(conf, dir.path + "/out1");
  ASSERT_TRUE(eventually([&] { return owns_name(); })) << slurp(dir.path + "/out1");
  std::string fresh = dir.path + "/fresh.img";
  EXPECT_EQ(gdbus("/org/kernel/TCMUService1/file", "org.kernel.TCMUService1.CheckConfig",
                  "'file/" + fresh + "'")
                .out,
            "(true, 'success')\n")
      << "create=1 from lunkit.conf applies";
  EXPECT_EQ(gdbus("/org/kernel/TCMUService1/file", "org.kernel.TCMUService1.CheckConfig",
                  "'file/" + fresh + ";create=0'")
                .out,
            "(false, '" + fresh + ": No such file or directory (add ;create=1 to create it)')\n")
      << "the device's own option wins";
  EXPECT_FALSE(std::filesystem::exists(fresh));
}

// CheckConfig makes the handler open storage as root on a caller-chosen cfgstring: only root may
// ask. A configuration that would be valid is refused for uid 65534, with the reason.
TEST_F(Lunkitd, CheckConfigIsRefusedToCallersOtherThanRoot) {
  if (geteuid() != 0) GTEST_SKIP() << "needs root to run a second user";
  start_bus(false);
  start_lunkitd(conf, dir.path + "/out1");
  ASSERT_TRUE(eventually([&] { return owns_name(); })) << slurp(dir.path + "/out1");
  std::string img = dir.path + "/valid.img";
  std::ofstream(img).put('x');
  std::string call = "gdbus call --address " + address +
                     " --dest org.kernel.TCMUService1 --object-path /org/kernel/TCMUService1/file"
                     " --method org.kernel.TCMUService1.CheckConfig 'file/" +
                     img + "'";
  EXPECT_EQ(run(call).out, "(true, 'success')\n") << "root may";
  Output nobody = run("setpriv --reuid=65534 --regid=65534 --clear-groups " + call);
  EXPECT_EQ(nobody.out,
            "(false, 'only root may ask lunkitd to check a configuration (the check opens "
            "storage as root); the caller is uid 65534')\n");
  EXPECT_NE(slurp(dir.path + "/lunkitd.log").find("refused: the caller is uid 65534"),
            std::string::npos);
}

// A check that blocks (rbd waiting for monitors that never answer) runs off the bus thread:
// targetcli's other calls are answered meanwhile, and the check still gets its answer.
TEST_F(Lunkitd, ABlockingCheckDoesNotStallTheBus) {
  std::string rbd = lunkit::test::handler_build_dir() + "/rbd.so";
  if (!std::filesystem::exists(rbd)) GTEST_SKIP() << "built without librbd";
  std::filesystem::copy_file(rbd, plugins + "/rbd.so");
  chmod((plugins + "/rbd.so").c_str(), 0644);
  write_config("debug");
  start_bus(false);
  start_lunkitd(conf, dir.path + "/out1");
  ASSERT_TRUE(eventually([&] { return owns_name(); })) << slurp(dir.path + "/out1");
  // A cluster whose only monitor is a port nobody listens on: the check waits for its timeout.
  std::string ceph_conf = dir.path + "/dead.conf";
  std::ofstream(ceph_conf) << "[global]\nmon_host = 127.0.0.1:9\nauth_supported = none\n";
  std::string cfg = "rbd/pool/image;osd_op_timeout=6;conf=" + ceph_conf;
  pid_t check = spawn(
      {"gdbus", "call", "--address", address, "--dest", "org.kernel.TCMUService1", "--object-path",
       "/org/kernel/TCMUService1/rbd", "--method", "org.kernel.TCMUService1.CheckConfig", cfg},
      dir.path + "/check.out");
  std::string log = dir.path + "/lunkitd.log";
  ASSERT_TRUE(eventually([&] {
    return slurp(log).find("CheckConfig " + cfg + ": checking") != std::string::npos;
  })) << slurp(log);
  Output desc = gdbus("/org/kernel/TCMUService1/ram", "org.freedesktop.DBus.Properties.Get",
                      "org.kernel.TCMUService1 ConfigDesc");
  EXPECT_NE(desc.out.find("a sparse disk in memory"), std::string::npos) << desc.out;
  int status = 0;
  EXPECT_EQ(waitpid(check, &status, WNOHANG), 0)
      << "the property was answered only after the check ended: the check ran on the bus thread";
  EXPECT_EQ(wait_exit(check, 60), 0);
  EXPECT_EQ(slurp(dir.path + "/check.out").rfind("(false, ", 0), 0u)
      << slurp(dir.path + "/check.out");
}

}  // namespace
