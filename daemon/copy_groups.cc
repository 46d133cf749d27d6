#include "daemon/copy_groups.h"

#include <libconfig.h++>

namespace lunkit::daemon {

namespace {

std::string at(const std::string& file, int line) {
  return file + ":" + std::to_string(line) + ": ";
}

}  // namespace

std::optional<Error> parse_copy_groups(const libconfig::Setting& s, const std::string& file,
                                       std::vector<CopyGroup>* out) {
  int line = static_cast<int>(s.getSourceLine());
  const char* shape = "copy_groups = ( { name = \"g1\"; devices = [ \"disk0\", \"disk1\" ]; } );";
  if (!s.isList() && !s.isArray())
    return Error{at(file, line) + "copy_groups must be a list: " + shape};
  out->clear();
  for (int g = 0; g < s.getLength(); ++g) {
    const libconfig::Setting& gs = s[g];
    int gline = static_cast<int>(gs.getSourceLine());
    if (!gs.isGroup()) return Error{at(file, gline) + "each copy group must be a group: " + shape};
    CopyGroup group;
    for (int k = 0; k < gs.getLength(); ++k) {
      const libconfig::Setting& f = gs[k];
      std::string key = f.getName();
      int fline = static_cast<int>(f.getSourceLine());
      if (key == "name") {
        if (f.getType() != libconfig::Setting::TypeString)
          return Error{at(file, fline) + "copy_groups: name must be a string"};
        group.name = static_cast<const char*>(f);
      } else if (key == "devices") {
        if (!f.isArray() && !f.isList())
          return Error{at(file, fline) + "copy_groups: devices must be a list of strings"};
        for (int d = 0; d < f.getLength(); ++d) {
          if (f[d].getType() != libconfig::Setting::TypeString)
            return Error{at(file, fline) + "copy_groups: devices must be a list of strings"};
          std::string dev = static_cast<const char*>(f[d]);
          if (dev.empty() || dev.front() == '/' || dev.back() == '/')
            return Error{at(file, fline) + "copy_groups: '" + dev +
                         "' is not a device name (\"disk0\" or \"user_1/disk0\")"};
          group.devices.push_back(std::move(dev));
        }
      } else {
        return Error{at(file, fline) + "unknown setting 'copy_groups." + key +
                     "' (known: name, devices)"};
      }
    }
    if (group.name.empty()) return Error{at(file, gline) + "copy_groups: a group needs a name"};
    if (group.devices.size() < 2)
      return Error{at(file, gline) + "copy group '" + group.name + "' needs two devices or more"};
    for (const CopyGroup& earlier : *out)
      if (earlier.name == group.name)
        return Error{at(file, gline) + "copy group '" + group.name + "' is defined twice"};
    out->push_back(std::move(group));
  }
  return std::nullopt;
}

}  // namespace lunkit::daemon
