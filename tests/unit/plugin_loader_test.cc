// Loading handler plugins: the shipped ones, broken ones, unsafe files, check_config.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>

#include "handlers/host/plugin.h"
#include "tests/unit/plugin_dir.h"

namespace lunkit::plugins {
namespace {

using test::PluginDir;

bool contains(const std::vector<std::string>& errors, const std::string& needle) {
  return std::any_of(errors.begin(), errors.end(),
                     [&](const std::string& e) { return e.find(needle) != std::string::npos; });
}

// file.so is never unloaded (libstdc++'s STB_GNU_UNIQUE symbols make it NODELETE), so the name
// it was loaded under stays known to the dynamic linker after its fd was closed; each later
// plugin, opened at that same fd number, must still be itself. (With the name /proc/self/fd/N
// for every load, the second and third loads returned file.so.)
TEST(PluginLoader, APluginThatStaysLoadedIsNotReturnedForTheNextFile) {
  for (int round = 0; round < 3; round++) {
    for (const char* f : {"file.so", "ram.so", "null.so", "file.so"}) {
      auto p = Plugin::load(test::handler_build_dir() + "/" + f, false);
      ASSERT_TRUE(p.ok()) << p.error();
      std::string want = std::string(f).substr(0, std::string(f).size() - 3);
      EXPECT_EQ((*p)->subtype(), want) << "round " << round;
    }
  }
}

TEST(PluginLoader, LoadsTheShippedHandlers) {
  PluginDir dir;
  for (const char* f : {"null.so", "ram.so", "file.so"}) dir.add(test::handler_build_dir(), f);
  LoadReport r = load_plugins(dir.path, false);
  EXPECT_TRUE(r.errors.empty()) << r.errors[0];
  ASSERT_EQ(r.plugins.size(), 3u);
  std::vector<std::string> subtypes;
  for (auto& p : r.plugins) {
    subtypes.push_back(p->subtype());
    EXPECT_GT(std::string(p->handler().cfg_desc).size(), 10u);
  }
  std::sort(subtypes.begin(), subtypes.end());
  EXPECT_EQ(subtypes, (std::vector<std::string>{"file", "null", "ram"}));
}

TEST(PluginLoader, OneBadPluginDoesNotStopTheOthers) {
  PluginDir dir;
  dir.add(test::handler_build_dir(), "ram.so");
  for (const char* f : {"bad_abi.so", "no_entry.so", "no_read.so", "bad_name.so"})
    dir.add(test::bad_plugin_dir(), f);
  dir.add(test::bad_plugin_dir(), "dup_ram.so", "zz_dup_ram.so");  // loads after ram.so
  LoadReport r = load_plugins(dir.path, false);
  ASSERT_EQ(r.plugins.size(), 1u);
  EXPECT_EQ(r.plugins[0]->subtype(), "ram");
  ASSERT_EQ(r.errors.size(), 5u);
  EXPECT_TRUE(contains(r.errors,
                       "bad_abi.so: handler ABI version 0, lunkitd supports versions 1 and later"));
  EXPECT_TRUE(contains(r.errors, "no_entry.so: no lunkit_handler_entry symbol"));
  EXPECT_TRUE(contains(r.errors, "no_read.so: required callback read is missing"));
  EXPECT_TRUE(contains(r.errors, "bad_name.so: subtype must be letters, digits and '_'"));
  EXPECT_TRUE(contains(
      r.errors, "zz_dup_ram.so: subtype 'ram' is already served by " + dir.path + "/ram.so"));
}

// The ABI only grows: a plugin of an older version (built from the released version-1 header)
// and one of a newer version (with fields this host does not know) both load.
TEST(PluginLoader, LoadsOlderAndNewerAbiVersions) {
  PluginDir dir;
  dir.add(test::bad_plugin_dir(), "v1_mem.so");
  dir.add(test::bad_plugin_dir(), "future.so");
  LoadReport r = load_plugins(dir.path, false);
  EXPECT_TRUE(r.errors.empty()) << r.errors[0];
  ASSERT_EQ(r.plugins.size(), 2u);
  const Plugin& future = *r.plugins[0];
  const Plugin& v1 = *r.plugins[1];
  EXPECT_EQ(future.subtype(), "future");
  EXPECT_EQ(future.abi_version(), 99u);
  EXPECT_GT(future.handler().struct_size, sizeof(lunkit_handler));
  EXPECT_EQ(v1.subtype(), "v1mem");
  EXPECT_EQ(v1.abi_version(), 1u);
  EXPECT_LE(v1.handler().struct_size, sizeof(lunkit_handler));
  EXPECT_EQ(LUNKIT_HANDLER_ABI_VERSION, 2);
}

TEST(PluginLoader, NotAPluginAtAllAndAMissingDirectory) {
  PluginDir dir;
  test::PluginDir junk;
  std::string path = dir.path + "/junk.so";
  FILE* f = fopen(path.c_str(), "w");
  fputs("not an ELF file", f);
  fclose(f);
  LoadReport r = load_plugins(dir.path, false);
  EXPECT_TRUE(r.plugins.empty());
  ASSERT_EQ(r.errors.size(), 1u);
  EXPECT_NE(r.errors[0].find("junk.so"), std::string::npos) << r.errors[0];
  LoadReport none = load_plugins("/nonexistent/handlers", false);
  ASSERT_EQ(none.errors.size(), 1u);
  EXPECT_EQ(none.errors[0], "/nonexistent/handlers: No such file or directory");
}

TEST(PluginLoader, RefusesFilesOthersCanWrite) {
  PluginDir dir;
  std::string ram = dir.add(test::handler_build_dir(), "ram.so");
  chmod(ram.c_str(), 0666);
  auto p = Plugin::load(ram, true);
  ASSERT_FALSE(p.ok());
  EXPECT_TRUE(p.error().find("writable by every user") != std::string::npos ||
              p.error().find("not owned by root") != std::string::npos)
      << p.error();
  EXPECT_NE(p.error().find("not loading it"), std::string::npos);
  chmod(ram.c_str(), 0644);
  chmod(dir.path.c_str(), 0777);
  EXPECT_FALSE(Plugin::load(ram, true).ok()) << "a world-writable directory is refused too";
  chmod(dir.path.c_str(), 0755);
  if (geteuid() == 0) {
    EXPECT_TRUE(Plugin::load(ram, true).ok());
  }
}

// Each unsafe way to reach a plugin is refused with one line that names what is wrong.
TEST(PluginLoader, RefusesSymlinksUnsafeDirectoriesAndForeignOwners) {
  PluginDir dir;
  std::string ram = dir.add(test::handler_build_dir(), "ram.so");
  std::string link = dir.path + "/link.so";
  ASSERT_EQ(symlink(ram.c_str(), link.c_str()), 0);
  auto l = Plugin::load(link, true);
  ASSERT_FALSE(l.ok());
  EXPECT_EQ(l.error(), link + " is a symbolic link; not loading it");
  EXPECT_FALSE(Plugin::load(link, false).ok()) << "never through a link, checked or not";

  std::string sub = dir.path + "/sub";
  std::filesystem::create_directory(sub);
  std::string inner = dir.add(test::handler_build_dir(), "ram.so", "sub/ram.so");
  ASSERT_EQ(chmod(sub.c_str(), 0777), 0);
  auto w = Plugin::load(inner, true);
  ASSERT_FALSE(w.ok());
  EXPECT_EQ(w.error(), sub + " is writable by every user; not loading " + inner)
      << "a parent directory others can write";
  ASSERT_EQ(chmod(sub.c_str(), 0775), 0);
  ASSERT_EQ(chown(sub.c_str(), 0, 65534), 0);
  EXPECT_EQ(Plugin::load(inner, true).error(),
            sub + " is writable by its group; not loading " + inner);
  ASSERT_EQ(chmod(sub.c_str(), 0755), 0);
  EXPECT_TRUE(Plugin::load(inner, true).ok()) << "a sticky /tmp above is fine";

  ASSERT_EQ(chown(ram.c_str(), 65534, 65534), 0);
  auto o = Plugin::load(ram, true);
  ASSERT_FALSE(o.ok());
  EXPECT_EQ(o.error(), ram + " is owned by uid 65534, not by root; not loading it");
}

TEST(PluginLoader, CheckConfigGivesTheHandlersReason) {
  PluginDir dir;
  for (const char* f : {"null.so", "ram.so", "file.so"}) dir.add(test::handler_build_dir(), f);
  LoadReport r = load_plugins(dir.path, false);
  auto find = [&](const std::string& s) -> const Plugin& {
    for (auto& p : r.plugins)
      if (p->subtype() == s) return *p;
    throw std::runtime_error("no plugin " + s);
  };
  EXPECT_TRUE(find("null").check_config("").ok());
  EXPECT_EQ(find("null").check_config("x").error(), "null takes no configuration (got 'x')");
  EXPECT_TRUE(find("ram").check_config("").ok());
  const Plugin& file = find("file");
  auto missing = file.check_config("/nonexistent/disk0.img");
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error(),
            "/nonexistent/disk0.img: No such file or directory (add ;create=1 to create it)");
  EXPECT_EQ(file.check_config("disk0.img").error(),
            "file needs an absolute path, e.g. /var/lib/lunkit/disk0.img (got 'disk0.img')");
  EXPECT_EQ(file.check_config("/tmp/x.img;sparse=1").error(),
            "unknown file option 'sparse' (known: create, direct)");
  std::string fresh = dir.path + "/new.img";
  EXPECT_TRUE(file.check_config(fresh + ";create=1").ok());
  EXPECT_FALSE(std::filesystem::exists(fresh)) << "check_config has no side effects";
  EXPECT_FALSE(file.check_config("/nonexistent/dir/new.img;create=1").ok());
  EXPECT_NE(file.check_config("/tmp").error().find("neither a regular file nor a block device"),
            std::string::npos);
}

TEST(PluginLoader, TheManPageExampleLoads) {
  const char* so = std::getenv("LUNKIT_MAN_EXAMPLE");
  ASSERT_NE(so, nullptr);
  auto p = Plugin::load(so, false);
  ASSERT_TRUE(p.ok()) << p.error();
  EXPECT_EQ((*p)->subtype(), "example");
  EXPECT_TRUE((*p)->check_config("").ok()) << "no check_config: every cfgstring is accepted";
}

}  // namespace
}  // namespace lunkit::plugins
