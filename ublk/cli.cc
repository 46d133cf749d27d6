#include "ublk/cli.h"

#include <dirent.h>
#include <fmt/format.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>
#include <sys/eventfd.h>
#include <sys/signalfd.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/fd.h"
#include "daemon/config.h"
#include "handlers/host/plugin.h"
#include "handlers/host/plugin_device.h"
#include "handlers/host/worker_pool.h"
#include "ublk/command_socket.h"
#include "ublk/control.h"
#include "ublk/features.h"
#include "ublk/record.h"
#include "ublk/server.h"

#ifndef LUNKIT_HANDLER_DIR
#define LUNKIT_HANDLER_DIR "/usr/lib/lunkit"
#endif
#ifndef LUNKIT_SYSCONF_DIR
#define LUNKIT_SYSCONF_DIR "/etc/lunkit"
#endif

namespace lunkit::ublk {
namespace {

constexpr int kUsageError = 2;
// lunkitd's configuration file: `lunkit ublk` takes its handler defaults from it too.
constexpr const char* kDefaultConfig = LUNKIT_SYSCONF_DIR "/lunkit.conf";

void usage(FILE* out) {
  std::fprintf(
      out,
      "Usage: lunkit ublk add --handler NAME [--cfg CFGSTRING] [--size SIZE] [--block-size N]\n"
      "                       [--queues N] [--threads M] [--depth D] [--io-size BYTES]\n"
      "                       [--read-only]\n"
      "                       [--no-recovery] [--no-zero-copy] [--retry-timeout SECONDS]\n"
      "                       [--config FILE]\n"
      "                       [--handler-dir DIR] [--log-level LEVEL]\n"
      "       lunkit ublk recover ID [--config FILE] [--handler-dir DIR] [--log-level LEVEL]\n"
      "       lunkit ublk resize ID SIZE\n"
      "       lunkit ublk list\n"
      "       lunkit ublk del ID\n"
      "\n"
      "add       serves a handler (file, ram, null, ...) as /dev/ublkbN: prints the device,\n"
      "          serves it until SIGINT or SIGTERM, then stops and deletes it.\n"
      "recover   serves a device again whose server was killed (kernels with user recovery),\n"
      "          or takes it over from the server still running it (which then exits).\n"
      "resize    gives a device in use the size its storage now has (Linux 6.18; not 6.12).\n"
      "list      shows the ublk devices.  del  stops and deletes one.\n"
      "Handlers are loaded from %s unless --handler-dir or lunkit.conf say otherwise;\n"
      "lunkit.conf (%s unless --config says otherwise) gives their default options.\n",
      LUNKIT_HANDLER_DIR, kDefaultConfig);
}

int fail(const std::string& message, int status = 1) {
  std::fprintf(stderr, "lunkit: %s\n", message.c_str());
  return status;
}

void setup_logging(const std::string& level) {
  auto logger = spdlog::stderr_color_mt("lunkit");
  logger->set_pattern("lunkit: %^%l%$: %v");
  spdlog::set_default_logger(logger);
  spdlog::set_level(level.empty() ? spdlog::level::warn : spdlog::level::from_str(level));
}

bool valid_level(const std::string& level) {
  static const char* kLevels[] = {"trace", "debug", "info",     "warning",
                                  "warn",  "error", "critical", "off"};
  return std::any_of(std::begin(kLevels), std::end(kLevels),
                     [&](const char* l) { return level == l; });
}

// lunkit.conf as lunkitd reads it: a file named with --config must be there, the default one may
// be missing.
Result<daemon::Config> read_config(const std::string& option) {
  if (!option.empty()) return daemon::load_config(option);
  if (access(kDefaultConfig, F_OK) != 0 && errno == ENOENT) return daemon::Config{};
  return daemon::load_config(kDefaultConfig);
}

// A handler's options from lunkit.conf ("handlers = { file = { options = ...; }; };").
std::string defaults_for(const daemon::Config& config, const std::string& handler) {
  auto it = config.handler_options.find(handler);
  return it == config.handler_options.end() ? "" : it->second;
}

Result<uint32_t> parse_id(const char* text) {
  std::string s = text ? text : "";
  if (s.empty() || s.find_first_not_of("0123456789") != std::string::npos || s.size() > 7)
    return Error{"device id must be a number, e.g. 0 for /dev/ublkb0 (got '" + s + "')"};
  return static_cast<uint32_t>(std::stoul(s));
}

// A handler plugin opened for one device, with what it needs around it.
struct OpenHandler {
  std::unique_ptr<plugins::Plugin> plugin;
  std::unique_ptr<plugins::WorkerPool> pool;
  std::unique_ptr<plugins::PluginBlockDevice> device;
};

Result<std::unique_ptr<plugins::Plugin>> load_handler(const std::string& dir,
                                                      const std::string& name) {
  auto report = plugins::load_plugins(dir, geteuid() == 0);
  std::string found;
  for (auto& p : report.plugins) {
    if (p->subtype() == name) {
      p->keep_mapped();  // used until exit (see keep_mapped())
      return std::move(p);
    }
    found += (found.empty() ? "" : ", ") + p->subtype();
  }
  for (const std::string& e : report.errors) spdlog::debug("{}", e);
  for (const std::string& e : report.errors)
    if (e.find("/" + name + ".so") != std::string::npos) return Error{e};
  if (!report.errors.empty() && report.plugins.empty()) return Error{report.errors.front()};
  return Error{"no handler '" + name + "' in " + dir +
               (found.empty() ? std::string(" (it has none)") : " (it has: " + found + ")")};
}

// Loads the handler, checks the configuration (the device's own, then lunkit.conf's defaults for
// the handler, as lunkitd passes it: the first occurrence of an option wins) and opens the
// device. Nothing is created on failure (check_config has no side effects and open() is only
// reached when it passed).
Result<OpenHandler> open_handler(const std::string& dir, const std::string& name,
                                 const std::string& own_cfg, const std::string& defaults,
                                 uint64_t size, uint32_t block_size, uint32_t queue_depth = 0,
                                 uint32_t nr_queues = 1) {
  OpenHandler h;
  auto plugin = load_handler(dir, name);
  if (!plugin) return Error{plugin.error()};
  h.plugin = std::move(*plugin);
  const std::string cfg = plugins::with_defaults(own_cfg, defaults);
  if (auto ok = h.plugin->check_config(cfg); !ok) return Error{name + ": " + ok.error()};
  if (h.plugin->uses_pool()) h.pool = std::make_unique<plugins::WorkerPool>(4);
  plugins::OpenParams p;
  p.name = "ublk:" + name;
  p.cfgstring = cfg;
  p.size = size;
  p.block_size = block_size;
  p.frontend = LUNKIT_FRONTEND_UBLK;
  p.queue_depth = queue_depth;
  p.nr_queues = nr_queues;
  auto dev = plugins::PluginBlockDevice::open(*h.plugin, p, h.pool.get());
  if (!dev) return Error{name + ": " + dev.error()};
  h.device = std::move(*dev);
  return h;
}

// Signals are taken from a signalfd: block them before any thread starts.
UniqueFd block_signals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  return UniqueFd(signalfd(-1, &set, SFD_CLOEXEC));
}

// A size the handler reports on its own (rbd resized elsewhere), from whatever thread it calls
// on, for the serving loop: the newest size wins.
class ResizeNotice {
 public:
  ResizeNotice() : fd_(eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) {}
  int fd() const { return fd_.get(); }
  void report(uint64_t blocks) {
    blocks_.store(blocks, std::memory_order_release);
    uint64_t one = 1;
    (void)!write(fd_.get(), &one, sizeof one);
  }
  uint64_t take() {
    uint64_t n;
    (void)!read(fd_.get(), &n, sizeof n);
    return blocks_.load(std::memory_order_acquire);
  }

 private:
  UniqueFd fd_;
  std::atomic<uint64_t> blocks_{0};
};

// Keeps the device's record (for `lunkit ublk recover`) at the size it has now.
void record_size(uint32_t id, uint64_t bytes) {
  if (auto record = load_record(id)) {
    record->size = bytes;
    (void)save_record(id, *record);
  }
}

// `resize BYTES` from the command socket: the handler first (it checks that the storage has
// that size, or grows it), then the disk.
std::string answer_resize(Server& server, plugins::PluginBlockDevice& device,
                          const std::string& arg) {
  auto bytes = parse_size(arg);
  if (!bytes) return "error " + bytes.error();
  uint32_t bs = device.info().logical_block_size;
  if (*bytes == 0 || *bytes % bs)
    return "error " + std::to_string(*bytes) + " bytes is not a multiple of the block size (" +
           std::to_string(bs) + ")";
  if (!(server.info().flags & kFlagUpdateSize))
    return "error " + server.resize(*bytes).error();  // names what the kernel lacks
  if (*bytes != server.size_bytes()) {
    if (int rc = device.reconfigure(*bytes, nullptr, -1); rc < 0)
      return "error the " + device.subtype() + " handler refused " + std::to_string(*bytes) +
             " bytes: " + std::strerror(-rc) + " (its log line says why)";
    if (auto ok = server.resize(*bytes); !ok) return "error " + ok.error();
    record_size(server.id(), *bytes);
    spdlog::info("{} is now {} bytes", server.block_path(), *bytes);
  }
  return "ok " + std::to_string(*bytes);
}

// Serves until a signal, until someone else stops the device, or until a new server takes it
// over; then removes the device (unless it was handed over).
int serve(Server& server, OpenHandler& h, int sigfd) {
  std::printf("%s\n", server.block_path().c_str());
  std::fflush(stdout);
  spdlog::info("serving {} ({} queue(s) of depth {}, {} thread(s){}, features {})",
               server.block_path(), server.info().nr_hw_queues, server.info().queue_depth,
               server.threads(), server.per_io_daemons() ? " sharing every queue" : "",
               feature_list(server.info().flags));
  plugins::PluginBlockDevice& device = *h.device;
  // reconfig() and lunkit_device_post() run on the first queue's thread, between its requests.
  device.bind_loop(&server.first_loop(),
                   [&server](std::function<void()> task) { server.post(std::move(task)); });
  ResizeNotice notice;
  device.on_resized([&notice](uint64_t blocks) { notice.report(blocks); });
  auto commands = CommandSocket::listen(server.id());
  if (!commands)
    spdlog::warn("no resize or hand-over for {}: {}", server.block_path(), commands.error());
  bool handed_over = false;
  pollfd fds[4] = {{sigfd, POLLIN, 0},
                   {server.exit_fd(), POLLIN, 0},
                   {notice.fd(), POLLIN, 0},
                   {commands ? commands->fd() : -1, POLLIN, 0}};
  while (!handed_over) {
    int n = poll(fds, 4, -1);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return fail(std::string("poll: ") + std::strerror(errno));
    if (fds[0].revents) {
      signalfd_siginfo si;
      (void)!read(sigfd, &si, sizeof si);
      spdlog::info("signal {}: stopping {}", si.ssi_signo, server.block_path());
      break;
    }
    if (fds[1].revents) {
      spdlog::warn("{} was stopped by someone else", server.block_path());
      break;
    }
    if (fds[2].revents) {
      uint64_t bytes = notice.take() * device.info().logical_block_size;
      if (!(server.info().flags & kFlagUpdateSize)) {
        spdlog::warn(
            "the storage is now {} bytes; this kernel's ublk keeps the size the device was "
            "added with: delete it and add it again to use the new size",
            bytes);
      } else if (auto ok = server.resize(bytes); !ok) {
        spdlog::error("{}: the storage is now {} bytes, but {}", server.block_path(), bytes,
                      ok.error());
      } else {
        record_size(server.id(), bytes);
        spdlog::info("{} follows its storage: now {} bytes", server.block_path(), bytes);
      }
    }
    if (fds[3].revents) {
      commands->serve_one([&](const std::string& request) -> std::string {
        if (request.rfind("resize ", 0) == 0)
          return answer_resize(server, device, request.substr(7));
        if (request == "hand-over") {
          spdlog::info("handing {} over to a new server", server.block_path());
          auto ok = server.hand_over();
          if (!ok) return "error " + ok.error();
          handed_over = true;
          return "ok";
        }
        return "error unknown request '" + request + "'";
      });
    }
  }
  device.on_resized(nullptr);
  device.stop_posting();
  uint32_t id = server.id();
  if (handed_over) {
    QueueStats s = server.stats();
    spdlog::info("{} handed over: {} requests ({} zero-copy), {} errors", server.block_path(),
                 s.requests, s.zero_copy, s.errors);
    return 0;  // its record stays: the new server serves it with the same handler
  }
  auto removed = server.remove();
  remove_record(id);
  QueueStats s = server.stats();
  spdlog::info(
      "{} removed: {} requests ({} zero-copy), {} errors, {} retries ({} given up); requests per "
      "thread: {}",
      server.block_path(), s.requests, s.zero_copy, s.errors, s.retries, s.gave_up,
      fmt::join(server.requests_per_thread(), " "));
  if (!removed) return fail(removed.error());
  return 0;
}

// --retry-timeout: whole seconds, 0 to an hour.
Result<uint32_t> parse_retry_timeout(const char* text) {
  std::string s = text ? text : "";
  uint32_t max = kMaxRetryTimeoutMs / 1000;
  if (s.empty() || s.size() > 4 || s.find_first_not_of("0123456789") != std::string::npos ||
      std::stoul(s) > max)
    return Error{"--retry-timeout " + s + ": seconds, 0 to " + std::to_string(max)};
  return static_cast<uint32_t>(std::stoul(s) * 1000);
}

struct AddArgs {
  std::string handler, cfg, handler_dir, config, log_level;
  uint64_t size = 0;
  uint32_t block_size = 512;
  bool no_zero_copy = false;
  ServeOptions serve;
};

int parse_add(int argc, char** argv, AddArgs* a) {
  enum {
    kCfg = 256,
    kSize,
    kBlockSize,
    kQueues,
    kThreads,
    kDepth,
    kIoSize,
    kReadOnly,
    kNoRecovery,
    kNoZeroCopy,
    kHandlerDir,
    kLogLevel,
    kHandler,
    kRetryTimeout,
    kConfig,
    kHelp
  };
  static const option longopts[] = {{"handler", required_argument, nullptr, kHandler},
                                    {"cfg", required_argument, nullptr, kCfg},
                                    {"size", required_argument, nullptr, kSize},
                                    {"block-size", required_argument, nullptr, kBlockSize},
                                    {"queues", required_argument, nullptr, kQueues},
                                    {"threads", required_argument, nullptr, kThreads},
                                    {"depth", required_argument, nullptr, kDepth},
                                    {"io-size", required_argument, nullptr, kIoSize},
                                    {"read-only", no_argument, nullptr, kReadOnly},
                                    {"no-recovery", no_argument, nullptr, kNoRecovery},
                                    {"no-zero-copy", no_argument, nullptr, kNoZeroCopy},
                                    {"retry-timeout", required_argument, nullptr, kRetryTimeout},
                                    {"config", required_argument, nullptr, kConfig},
                                    {"handler-dir", required_argument, nullptr, kHandlerDir},
                                    {"log-level", required_argument, nullptr, kLogLevel},
                                    {"help", no_argument, nullptr, kHelp},
                                    {nullptr, 0, nullptr, 0}};
  optind = 1;
  opterr = 0;
  int c;
  auto number = [&](const char* what, uint64_t max, uint64_t* out) -> bool {
    auto v = parse_size(optarg);
    if (!v || *v == 0 || *v > max) {
      fail(std::string("--") + what + " " + optarg + ": " +
           (v ? "must be 1 to " + std::to_string(max) : v.error()));
      return false;
    }
    *out = *v;
    return true;
  };
  uint64_t v = 0;
  while ((c = getopt_long(argc, argv, ":", longopts, nullptr)) != -1) {
    switch (c) {
      case kHandler:
        a->handler = optarg;
        break;
      case kCfg:
        a->cfg = optarg;
        if (a->cfg.find('\n') != std::string::npos)
          return fail("--cfg cannot contain a newline", kUsageError);
        break;
      case kSize: {
        auto s = parse_size(optarg);
        if (!s) return fail("--size: " + s.error(), kUsageError);
        a->size = *s;
        break;
      }
      case kBlockSize:
        if (!number("block-size", 4096, &v)) return kUsageError;
        a->block_size = static_cast<uint32_t>(v);
        break;
      case kQueues:
        if (!number("queues", 32, &v)) return kUsageError;
        a->serve.queues = static_cast<uint16_t>(v);
        break;
      case kThreads:
        if (!number("threads", 32, &v)) return kUsageError;
        a->serve.threads = static_cast<uint16_t>(v);
        break;
      case kDepth:
        if (!number("depth", kMaxQueueDepth, &v)) return kUsageError;
        a->serve.depth = static_cast<uint16_t>(v);
        break;
      case kIoSize:
        if (!number("io-size", kMaxIoBufBytes, &v)) return kUsageError;
        a->serve.io_buf_bytes = static_cast<uint32_t>(v);
        break;
      case kReadOnly:
        a->serve.read_only = true;
        break;
      case kNoRecovery:
        a->serve.recovery = false;
        break;
      case kNoZeroCopy:
        a->no_zero_copy = true;
        break;
      case kRetryTimeout: {
        auto t = parse_retry_timeout(optarg);
        if (!t) return fail(t.error(), kUsageError);
        a->serve.retry_timeout_ms = *t;
        break;
      }
      case kConfig:
        a->config = optarg;
        break;
      case kHandlerDir:
        a->handler_dir = optarg;
        break;
      case kLogLevel:
        if (!valid_level(optarg))
          return fail(std::string("--log-level ") + optarg +
                          ": use trace, debug, info, warning, error, critical or off",
                      kUsageError);
        a->log_level = optarg;
        break;
      case kHelp:
        usage(stdout);
        return 0;
      case ':':
        return fail(std::string(argv[optind - 1]) + " needs a value", kUsageError);
      default:
        return fail(std::string("unknown option ") + argv[optind - 1] + " (see lunkit ublk --help)",
                    kUsageError);
    }
  }
  if (optind < argc)
    return fail(std::string("unexpected argument '") + argv[optind] + "'", kUsageError);
  if (a->handler.empty())
    return fail("add needs --handler NAME (file, ram, null, ...)", kUsageError);
  return -1;
}

int cmd_add(int argc, char** argv) {
  AddArgs a;
  if (int rc = parse_add(argc, argv, &a); rc >= 0) return rc;
  setup_logging(a.log_level);
  auto config = read_config(a.config);
  if (!config) return fail(config.error());
  if (a.handler_dir.empty()) a.handler_dir = config->handler_dir;
  UniqueFd sigfd = block_signals();
  // The control device first: without it there is nothing to do, and nothing gets opened.
  auto control = Control::open();
  if (!control) return fail(control.error());
  auto h = open_handler(a.handler_dir, a.handler, a.cfg, defaults_for(*config, a.handler), a.size,
                        a.block_size, a.serve.depth, a.serve.queues);
  if (!h) return fail(h.error());
  if (a.serve.queues > 1 && !h->device->multi_queue())
    return fail("handler '" + a.handler +
                "' serves one queue at a time (it does not declare "
                "LUNKIT_HANDLER_MULTI_QUEUE); use --queues 1");
  // Zero copy where the handler moves data only with io_uring (and the kernel can lend pages).
  a.serve.zero_copy = !a.no_zero_copy && h->device->takes_fixed_buffers();
  auto server = Server::add(**control, *h->device, a.serve);
  if (!server) return fail(server.error());
  DeviceRecord record{a.handler,
                      a.cfg,
                      h->device->info().num_blocks * h->device->info().logical_block_size,
                      h->device->info().logical_block_size,
                      a.serve.read_only,
                      getpid(),
                      a.serve.retry_timeout_ms,
                      a.serve.threads};
  if (auto ok = save_record((*server)->id(), record); !ok)
    spdlog::warn("cannot remember the device for recovery: {}", ok.error());
  return serve(**server, *h, sigfd.get());
}

// Asks the server of a live device to hand it over and waits for that process to end.
Result<bool> take_over(uint32_t id, pid_t server_pid) {
  // glibc 2.36's <sys/pidfd.h> lacks C linkage for C++, so the system call is made directly.
  UniqueFd pidfd(server_pid > 0 ? static_cast<int>(syscall(SYS_pidfd_open, server_pid, 0)) : -1);
  auto answer = ask_server(id, "hand-over", static_cast<int>(kHandOverTimeoutMs) + 10000);
  if (!answer) return Error{answer.error()};
  if (answer->rfind("ok", 0) != 0)
    return Error{"the server of ublkb" + std::to_string(id) + " did not hand it over: " +
                 (answer->rfind("error ", 0) == 0 ? answer->substr(6) : *answer)};
  if (pidfd) {
    pollfd p{pidfd.get(), POLLIN, 0};
    if (poll(&p, 1, 30000) <= 0)
      return Error{"the server of ublkb" + std::to_string(id) + " (pid " +
                   std::to_string(server_pid) + ") handed it over but did not exit"};
  }
  return true;
}

int cmd_recover(int argc, char** argv) {
  std::string handler_dir, config_path, log_level;
  std::optional<uint32_t> id;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if ((arg == "--handler-dir" || arg == "--log-level" || arg == "--config") && i + 1 < argc) {
      (arg == "--handler-dir" ? handler_dir
       : arg == "--config"    ? config_path
                              : log_level) = argv[++i];
    } else if (arg[0] == '-') {
      return fail("unknown option " + arg + " (see lunkit ublk --help)", kUsageError);
    } else if (!id) {
      auto n = parse_id(argv[i]);
      if (!n) return fail(n.error(), kUsageError);
      id = *n;
    } else {
      return fail("unexpected argument '" + arg + "'", kUsageError);
    }
  }
  if (!id) return fail("recover needs the device id", kUsageError);
  if (!log_level.empty() && !valid_level(log_level))
    return fail("--log-level " + log_level + ": unknown level", kUsageError);
  setup_logging(log_level);
  auto config = read_config(config_path);
  if (!config) return fail(config.error());
  if (handler_dir.empty()) handler_dir = config->handler_dir;
  UniqueFd sigfd = block_signals();
  auto control = Control::open();
  if (!control) return fail(control.error());
  auto record = load_record(*id);
  if (!record) return fail(record.error());
  // A device still served by a live process is taken over from it (the old one lets go, then
  // exits) before the handler opens the storage here. A server that just died leaves the device
  // live for a moment: Server::recover waits for the kernel to quiesce it.
  if (DevInfo info{}; (*control)->get_info(*id, &info) == 0 && info.state == kStateLive &&
                      info.ublksrv_pid > 0 && kill(info.ublksrv_pid, 0) == 0)
    if (auto ok = take_over(*id, info.ublksrv_pid); !ok) return fail(ok.error());
  auto h = open_handler(handler_dir, record->handler, record->cfg,
                        defaults_for(*config, record->handler), record->size, record->block_size);
  if (!h) return fail(h.error());
  auto server = Server::recover(**control, *id, *h->device, h->device->takes_fixed_buffers(),
                                record->read_only, record->retry_timeout_ms, record->threads);
  if (!server) return fail(server.error());
  record->pid = getpid();
  (void)save_record(*id, *record);
  return serve(**server, *h, sigfd.get());
}

const char* state_name(uint16_t state) {
  switch (state) {
    case kStateDead:
      return "dead";
    case kStateLive:
      return "live";
    case kStateQuiesced:
      return "quiesced";
  }
  return "unknown";
}

std::vector<uint32_t> device_ids() {
  std::vector<uint32_t> ids;
  if (DIR* d = opendir("/sys/class/ublk-char")) {
    while (dirent* e = readdir(d)) {
      std::string n = e->d_name;
      if (n.rfind("ublkc", 0) == 0 && n.size() > 5) {
        if (auto id = parse_id(n.c_str() + 5)) ids.push_back(*id);
      }
    }
    closedir(d);
  }
  std::sort(ids.begin(), ids.end());
  return ids;
}

int cmd_list(int argc, char**) {
  if (argc > 1) return fail("list takes no arguments", kUsageError);
  auto control = Control::open();
  if (!control) return fail(control.error());
  // FEATURES: the device's flags (ublk/features.h), e.g. recovery,reissue,resize,quiesce; and
  // per-io-daemon when its server spreads the queues over --threads threads (the kernel reports
  // that flag on every 6.18 device, so only the record says whether it is used).
  std::printf("%-8s %-9s %8s %6s %6s %12s %-8s %-22s %s\n", "DEVICE", "STATE", "PID", "QUEUES",
              "DEPTH", "SIZE", "HANDLER", "FEATURES", "CFG");
  for (uint32_t id : device_ids()) {
    DevInfo info{};
    if ((*control)->get_info(id, &info) < 0) continue;
    Params params;
    uint64_t bytes = (*control)->get_params(id, &params) == 0 ? params.basic.dev_sectors * 512 : 0;
    auto record = load_record(id);
    std::string features = feature_list(info.flags);
    if (record && record->threads && (info.flags & kFlagPerIoDaemon))
      features = (features == "-" ? "" : features + ",") + "per-io-daemon";
    std::printf("ublkb%-3u %-9s %8d %6u %6u %12llu %-8s %-22s %s\n", id, state_name(info.state),
                info.ublksrv_pid, info.nr_hw_queues, info.queue_depth,
                static_cast<unsigned long long>(bytes), record ? record->handler.c_str() : "-",
                features.c_str(), record ? record->cfg.c_str() : "");
  }
  return 0;
}

int cmd_resize(int argc, char** argv) {
  if (argc != 3) return fail("resize needs a device id and a size, e.g. resize 0 2G", kUsageError);
  auto id = parse_id(argv[1]);
  if (!id) return fail(id.error(), kUsageError);
  auto bytes = parse_size(argv[2]);
  if (!bytes) return fail(std::string("resize: ") + bytes.error(), kUsageError);
  auto answer = ask_server(*id, "resize " + std::to_string(*bytes), 60000);
  if (!answer) return fail(answer.error());
  if (answer->rfind("ok", 0) != 0)
    return fail(answer->rfind("error ", 0) == 0 ? answer->substr(6) : *answer);
  return 0;
}

int cmd_del(int argc, char** argv) {
  if (argc != 2) return fail("del needs exactly one device id", kUsageError);
  auto id = parse_id(argv[1]);
  if (!id) return fail(id.error(), kUsageError);
  auto control = Control::open();
  if (!control) return fail(control.error());
  int rc = (*control)->stop(*id);
  if (rc == -ENODEV) return fail("there is no ublk device " + std::to_string(*id));
  if (rc < 0) return fail("STOP_DEV: " + std::string(std::strerror(-rc)));
  rc = (*control)->remove(*id);  // waits until its server (if any) has let go
  remove_record(*id);
  if (rc < 0 && rc != -ENODEV) return fail("DEL_DEV: " + std::string(std::strerror(-rc)));
  return 0;
}

}  // namespace

int cli_main(int argc, char** argv) {
  if (argc < 2 || std::strcmp(argv[1], "--help") == 0 || std::strcmp(argv[1], "help") == 0) {
    usage(argc < 2 ? stderr : stdout);
    return argc < 2 ? kUsageError : 0;
  }
  std::string sub = argv[1];
  if (sub == "add") return cmd_add(argc - 1, argv + 1);
  if (sub == "recover") return cmd_recover(argc - 1, argv + 1);
  if (sub == "list") return cmd_list(argc - 1, argv + 1);
  if (sub == "del") return cmd_del(argc - 1, argv + 1);
  if (sub == "resize") return cmd_resize(argc - 1, argv + 1);
  return fail("unknown command 'ublk " + sub + "' (add, recover, resize, list, del)", kUsageError);
}

}  // namespace lunkit::ublk
