// lunkit.conf parsing: values, defaults, and errors that name the file and line.
#include <gtest/gtest.h>

#include "daemon/config.h"

namespace lunkit::daemon {
namespace {

TEST(Config, DefaultsAndValues) {
  auto c = parse_config(
      "log_level = \"debug\";\nlog_target = \"file\";\nlog_file = \"/tmp/l.log\";\n"
      "log_file_max_size = 1048576;\nlog_file_max_files = 3;\nhandler_dir = \"/opt/h\";\n"
      "worker_threads = 8;\nhandlers = { file = { options = \"direct=1\"; }; };\n",
      "t.conf");
  ASSERT_TRUE(c.ok()) << c.error();
  EXPECT_EQ(c->log_level, "debug");
  EXPECT_EQ(c->log_target, "file");
  EXPECT_EQ(c->log_file, "/tmp/l.log");
  EXPECT_EQ(c->log_file_max_size, 1048576u);
  EXPECT_EQ(c->log_file_max_files, 3u);
  EXPECT_EQ(c->handler_dir, "/opt/h");
  EXPECT_EQ(c->worker_threads, 8u);
  EXPECT_EQ(c->handler_options.at("file"), "direct=1");
  auto empty = parse_config("# nothing\n", "e.conf");
  ASSERT_TRUE(empty.ok());
  EXPECT_EQ(empty->log_level, "info");
  EXPECT_EQ(empty->worker_threads, 4u);
}

TEST(Config, ErrorsNameTheFileAndLine) {
  EXPECT_EQ(parse_config("log_level = \"info\";\nlog_levle = \"debug\";\n", "a.conf").error(),
            "a.conf:2: unknown setting 'log_levle'");
  EXPECT_EQ(
      parse_config("\n\nlog_level = \"loud\";\n", "b.conf").error(),
      "b.conf:3: log_level 'loud' is not one of trace, debug, info, warning, error, critical, off");
  EXPECT_EQ(parse_config("log_target = \"console\";\n", "c.conf").error(),
            "c.conf:1: log_target 'console' is not one of stderr, syslog, file");
  EXPECT_EQ(parse_config("worker_threads = 0;\n", "d.conf").error(),
            "d.conf:1: worker_threads must be between 1 and 256");
  EXPECT_EQ(parse_config("worker_threads = \"4\";\n", "e.conf").error(),
            "e.conf:1: worker_threads must be a number");
  EXPECT_EQ(parse_config("log_level = info;\n", "f.conf").error(), "f.conf:1: syntax error");
  EXPECT_EQ(parse_config("log_level = \"info\";\nworker_threads = = 2;\n", "g.conf").error(),
            "g.conf:2: syntax error");
  EXPECT_EQ(parse_config("handlers = { file = { option = \"x\"; }; };\n", "h.conf").error(),
            "h.conf:1: unknown setting 'handlers.file.option' (known: options)");
  EXPECT_EQ(load_config("/nonexistent/lunkit.conf").error(),
            "/nonexistent/lunkit.conf: cannot read the configuration file");
}

// Every documented bound is a value that is accepted; one past it is refused. libconfig 1.5 keeps
// an integer without the L suffix in 32 bits (1099511627776 would read as 0 and 4294971392 as
// 4096): such a number is taken as written.
TEST(Config, NumberBoundsAreInclusive) {
  auto size = [](const std::string& value) {
    return parse_config("log_file_max_size = " + value + ";\n", "s.conf");
  };
  const std::string range = "s.conf:1: log_file_max_size must be between 4096 and 1099511627776";
  for (auto [text, bytes] :
       std::initializer_list<std::pair<const char*, uint64_t>>{{"4096", 4096},
                                                               {"1099511627776L", 1ull << 40},
                                                               {"1099511627776", 1ull << 40},
                                                               {"0x10000000000", 1ull << 40},
                                                               {"4294971392", 4294971392ull},
                                                               {"2147483648", 2147483648ull}}) {
    auto c = size(text);
    ASSERT_TRUE(c.ok()) << text << ": " << c.error();
    EXPECT_EQ(c->log_file_max_size, bytes) << text;
  }
  for (const char* text : {"4095", "1099511627777L", "1099511627777", "0", "-1", "4294967296000000",
                           "99999999999999999999"})
    EXPECT_EQ(size(text).error(), range) << text;
  auto multi =
      parse_config("log_file_max_files = 1000; log_file_max_size =\n  1099511627776;\n", "m.conf");
  ASSERT_TRUE(multi.ok()) << multi.error();
  EXPECT_EQ(multi->log_file_max_size, 1ull << 40);
  EXPECT_EQ(multi->log_file_max_files, 1000u);

  EXPECT_TRUE(parse_config("log_file_max_files = 1;\n", "f.conf").ok());
  EXPECT_EQ(parse_config("log_file_max_files = 1001;\n", "f.conf").error(),
            "f.conf:1: log_file_max_files must be between 1 and 1000");
  EXPECT_EQ(parse_config("worker_threads = 256;\n", "w.conf")->worker_threads, 256u);
  EXPECT_EQ(parse_config("worker_threads = 257;\n", "w.conf").error(),
            "w.conf:1: worker_threads must be between 1 and 256");
}

}  // namespace
}  // namespace lunkit::daemon
