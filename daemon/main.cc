// lunkitd: serves every TCMU device whose subtype a loaded handler provides. See lunkitd(8).
// Devices are served through the public API of liblunkit-tcmu (lunkit/tcmu.hpp), as any program
// of a user's would be; what is lunkitd's own is the configuration, the plugin directory, the
// D-Bus service targetcli talks to, logging and the single-instance lock.
#include <fcntl.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <spdlog/spdlog.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#ifdef __SANITIZE_ADDRESS__
#include <sanitizer/lsan_interface.h>
#endif

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>

#include "daemon/config.h"
#include "daemon/dbus_service.h"
#include "daemon/logging.h"
#include "daemon/single_instance.h"
#include "handlers/host/plugin.h"
#include "lunkit/tcmu.hpp"

extern char** environ;

namespace {

using namespace lunkit;

constexpr const char* kDefaultConfig = LUNKIT_SYSCONF_DIR "/lunkit.conf";
// How long SIGTERM waits for the control thread to finish the event it is handling before the
// devices are released without it (systemd's stop timeout is 90 s; draining comes after this).
constexpr std::chrono::milliseconds kControlGrace{2000};

void usage(FILE* out) {
  std::fprintf(
      out,
      "Usage: lunkitd [--foreground] [--config FILE] [--handler-dir DIR] [--log-level LEVEL]\n"
      "       lunkitd --release-netlink | --version | --help\n"
      "\n"
      "Serves Linux TCMU (target_core_user) devices created with targetcli.\n"
      "  -f, --foreground       stay in the foreground (systemd runs it so)\n"
      "  -c, --config FILE      configuration file (default %s)\n"
      "      --handler-dir DIR  where handler plugins (*.so) are (overrides the file)\n"
      "  -l, --log-level LEVEL  trace, debug, info, warning, error, critical or off\n"
      "      --release-netlink  tell the kernel not to wait for a daemon's replies and\n"
      "                         release configfs writes waiting for one, then exit\n"
      "  -V, --version          print the version and exit\n"
      "  -h, --help             print this help and exit\n",
      kDefaultConfig);
}

struct Options {
  bool foreground = false;
  bool release_netlink = false;
  std::string config;
  std::string handler_dir;
  std::string log_level;
};

int parse_args(int argc, char** argv, Options* o) {
  enum { kHandlerDir = 256, kReleaseNetlink };
  static const option longopts[] = {{"foreground", no_argument, nullptr, 'f'},
                                    {"config", required_argument, nullptr, 'c'},
                                    {"handler-dir", required_argument, nullptr, kHandlerDir},
                                    {"log-level", required_argument, nullptr, 'l'},
                                    {"release-netlink", no_argument, nullptr, kReleaseNetlink},
                                    {"version", no_argument, nullptr, 'V'},
                                    {"help", no_argument, nullptr, 'h'},
                                    {nullptr, 0, nullptr, 0}};
  int c;
  opterr = 0;
  while ((c = getopt_long(argc, argv, ":fc:l:Vh", longopts, nullptr)) != -1) {
    switch (c) {
      case 'f':
        o->foreground = true;
        break;
      case 'c':
        o->config = optarg;
        break;
      case kHandlerDir:
        o->handler_dir = optarg;
        break;
      case 'l':
        if (!daemon::valid_log_level(optarg)) {
          std::fprintf(
              stderr,
              "lunkitd: --log-level %s: use trace, debug, info, warning, error, critical or off\n",
              optarg);
          return 2;
        }
        o->log_level = optarg;
        break;
      case kReleaseNetlink:
        o->release_netlink = true;
        break;
      case 'V':
        std::printf("lunkitd %s\n", PACKAGE_VERSION);
        return 0;
      case 'h':
        usage(stdout);
        return 0;
      case ':':
        std::fprintf(stderr, "lunkitd: %s needs a value\n", argv[optind - 1]);
        return 2;
      default:
        std::fprintf(stderr, "lunkitd: unknown option %s (see lunkitd --help)\n", argv[optind - 1]);
        return 2;
    }
  }
  if (optind < argc) {
    std::fprintf(stderr, "lunkitd: unexpected argument '%s' (see lunkitd --help)\n", argv[optind]);
    return 2;
  }
  return -1;
}

// Loads the TCM-USER netlink family by loading the module, as a storage daemon is expected to.
// By absolute path first: a daemon started by dbus-daemon's activation inherits a PATH without
// /usr/sbin, and `modprobe` would not be found.
void load_kernel_module() {
  const char* argv[] = {"modprobe", "-q", "target_core_user", nullptr};
  for (const char* path : {"/usr/sbin/modprobe", "/sbin/modprobe", "modprobe"}) {
    pid_t pid;
    int rc = path[0] == '/'
                 ? posix_spawn(&pid, path, nullptr, nullptr, const_cast<char**>(argv), environ)
                 : posix_spawnp(&pid, path, nullptr, nullptr, const_cast<char**>(argv), environ);
    if (rc != 0) continue;  // not there: the next candidate
    int status = 0;
    waitpid(pid, &status, 0);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
      spdlog::warn("{} target_core_user failed (status {})", path, status);
    return;
  }
  spdlog::warn("modprobe not found: cannot load target_core_user");
}

int release_netlink() {
  auto server = TcmuServer::create();
  if (!server) {
    std::fprintf(stderr, "lunkitd: %s\n", server.error().c_str());
    return 1;
  }
  auto released = server->release_waits();
  if (!released) {
    std::fprintf(stderr, "lunkitd: %s\n", released.error().c_str());
    return 1;
  }
  std::printf("lunkitd: the kernel no longer waits for daemon replies%s\n",
              *released ? "; pending waits released" : "");
  return 0;
}

// Forks into the background. The parent does not exit until the child reports through the
// returned pipe: a byte means the child started (exit 0); end-of-file without one means the child
// failed (exit 1), so `lunkitd` without --foreground exits non-zero when it cannot start. The
// child must take the instance lock itself: fcntl locks are not inherited across fork().
UniqueFd daemonize() {
  int p[2];
  if (pipe2(p, O_CLOEXEC) != 0) {
    spdlog::critical("pipe: {}", std::strerror(errno));
    std::exit(1);
  }
  UniqueFd rd(p[0]), wr(p[1]);
  pid_t pid = fork();
  if (pid < 0) {
    spdlog::critical("fork: {}", std::strerror(errno));
    std::exit(1);
  }
  if (pid > 0) {
    wr.reset();
    char c = 0;
    ssize_t n;
    do n = read(rd.get(), &c, 1);
    while (n < 0 && errno == EINTR);
    std::_Exit(n == 1 ? 0 : 1);
  }
  rd.reset();
  setsid();
  if (chdir("/") != 0) {
  }
  FILE* null = std::freopen("/dev/null", "r", stdin);
  (void)null;
  return wr;
}

}  // namespace

int main(int argc, char** argv) {
  Options opts;
  if (int rc = parse_args(argc, argv, &opts); rc >= 0) return rc;
  if (opts.release_netlink) return release_netlink();

  bool explicit_config = !opts.config.empty();
  std::string config_path = explicit_config ? opts.config : kDefaultConfig;
  daemon::Config config;
  if (explicit_config || std::filesystem::exists(config_path)) {
    auto c = daemon::load_config(config_path);
    if (!c) {
      std::fprintf(stderr, "lunkitd: %s\n", c.error().c_str());
      return 1;
    }
    config = *c;
  }
  if (!opts.handler_dir.empty()) config.handler_dir = opts.handler_dir;
  if (auto r = daemon::setup_logging(config, opts.log_level); !r) {
    std::fprintf(stderr, "lunkitd: %s\n", r.error().c_str());
    return 1;
  }
  // Daemonize first, then lock in the process that stays: the lock then lives as long as the
  // daemon, and the parent's exit status says whether the child got it.
  UniqueFd started;
  if (!opts.foreground) started = daemonize();
  auto lock = daemon::take_instance_lock(config.lock_file, config.tcmu_runner_lock_file);
  if (!lock) {
    spdlog::critical("{}", lock.error());
    return 1;
  }
  if (started) {
    const char ok = 1;
    if (write(started.get(), &ok, 1) != 1)
      spdlog::warn("could not tell the parent: {}", std::strerror(errno));
    started.reset();
  }

  sigset_t signals;
  sigemptyset(&signals);
  for (int s : {SIGTERM, SIGINT, SIGHUP}) sigaddset(&signals, s);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);  // before any thread starts
  UniqueFd sigfd(signalfd(-1, &signals, SFD_CLOEXEC | SFD_NONBLOCK));

  spdlog::info("lunkitd {} starting; handlers from {}", PACKAGE_VERSION, config.handler_dir);
  auto loaded = plugins::load_plugins(config.handler_dir, geteuid() == 0);
  for (const auto& e : loaded.errors) spdlog::error("handler not loaded: {}", e);
  for (auto& p : loaded.plugins) p->keep_mapped();  // used until exit (see keep_mapped())
  if (loaded.plugins.empty()) spdlog::warn("no handler loaded from {}", config.handler_dir);

  lunkit_tcmu_options options{};
  options.size = sizeof options;
  options.worker_threads = config.worker_threads;
  auto created = TcmuServer::create(&options);
  if (!created) {
    spdlog::critical("{}", created.error());
    return 1;
  }
  TcmuServer& server = *created;
  std::vector<const plugins::Plugin*> served;
  for (auto& p : loaded.plugins) {
    if (auto added = server.add_handler(p->handler()); !added) {
      spdlog::error("handler user:{} from {} not served: {}", p->subtype(), p->path(),
                    added.error());
      continue;
    }
    auto opt = config.handler_options.find(p->subtype());
    if (opt != config.handler_options.end())
      if (auto r = server.handler_defaults(p->subtype(), opt->second); !r)
        spdlog::error("defaults for user:{}: {}", p->subtype(), r.error());
    served.push_back(p.get());
    spdlog::info("handler user:{} from {}", p->subtype(), p->path());
  }
  // EXTENDED COPY between the LUs of a copy group (lunkit.conf checked them already).
  for (const daemon::CopyGroup& g : config.copy_groups)
    if (auto r = server.add_copy_group(g.name, g.devices); !r)
      spdlog::error("copy group {}: {}", g.name, r.error());

  // The bus name first: it is what a second daemon cannot have, so one that fails here has touched
  // no device; and D-Bus activation / Type=dbus starts see the name before the slow device work.
  auto dbus = daemon::DbusService::start(served, config.handler_options);
  if (!dbus) {
    spdlog::critical("{}", dbus.error());
    return 1;
  }

  // The TCM-USER netlink family comes with the module, which a storage daemon loads itself.
  // Without it, start() warns that new devices will not be seen and serves those there are.
  if (!server.listen()) {
    load_kernel_module();
    (void)server.listen();
  }

  // Devices are attached, followed and repaired on the library's control thread; this one
  // answers signals, so a handler stuck opening its storage cannot keep lunkitd from stopping.
  if (auto started = server.start(); !started) {
    spdlog::critical("{}", started.error());
    return 1;
  }
  spdlog::info("{} on the system bus; attaching devices", daemon::kBusName);

  for (bool running = true; running;) {
    pollfd pfd{sigfd.get(), POLLIN, 0};
    if (poll(&pfd, 1, -1) < 0) {
      if (errno == EINTR) continue;
      spdlog::critical("poll: {}", std::strerror(errno));
      break;
    }
    signalfd_siginfo si;
    while (read(sigfd.get(), &si, sizeof si) == sizeof si) {
      if (si.ssi_signo == SIGHUP) {
        auto c = daemon::load_config(config_path);
        if (!c) {
          spdlog::error("reload: {}; keeping the running configuration", c.error());
          continue;
        }
        config.log_level = c->log_level;
        daemon::set_log_level(opts.log_level.empty() ? c->log_level : opts.log_level);
        spdlog::info("reloaded {}: log level {}", config_path, config.log_level);
      } else {
        spdlog::info("signal {}: stopping", strsignal(static_cast<int>(si.ssi_signo)));
        running = false;
      }
    }
  }
  // Leave the bus first (targetcli stops offering our handlers), stop following netlink, make
  // the kernel stop waiting for replies and release the waits still pending (so no configfs
  // write hangs on a daemon that is gone), then let the devices go; they stay in the kernel for
  // the next start.
  dbus->reset();
  if (!server.stop(kControlGrace))
    spdlog::warn(
        "the control thread is still busy after {} ms (a device's storage is opening); "
        "stopping without it",
        kControlGrace.count());
  server.shutdown();
  spdlog::info("stopped");
  // Every device is closed by now. Ending with _exit() skips the destructors of what is left and
  // of the libraries' statics: after an rbd LUN was served, librados/librbd's exit-time teardown
  // made lunkitd die with SIGSEGV as it ended (VM scenario rbd). A sanitizer build still runs its
  // leak check first.
  spdlog::shutdown();
  std::fflush(nullptr);
#ifdef __SANITIZE_ADDRESS__
  __lsan_do_leak_check();
#endif
  _exit(0);
}
