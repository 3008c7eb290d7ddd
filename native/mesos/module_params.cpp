#include "mesos/module_params.hpp"

#include <stdlib.h>
#include <sys/stat.h>

#include <sstream>

#include <nlohmann/json.hpp>

#include "bridge/utf.hpp"

namespace dvdi {

using utf::printable;

namespace {

// Parameters that become one dvdi setting each (the config file's keys).
const std::map<std::string, std::string>& settingParameters()
{
  static const std::map<std::string, std::string> m = {
    {"state_dir", "state.dir"},
    {"mount_root", "mount.root"},
    {"instance_id", "instance.id"},
    {"default_driver", "driver.default"},
  };
  return m;
}

bool isFile(const std::string& path)
{
  struct stat s;
  return ::stat(path.c_str(), &s) == 0 && S_ISREG(s.st_mode);
}

// The longest duration a parameter may give (and dvdi's recover bound may be).
const long long MAX_DURATION_MS = 24LL * 3600 * 1000;


// A duration as dvdi's settings write it (a whole number with ms, s, m or h;
// a bare number is seconds), from 1 ms to 24 h; false if it is not one.
bool parseDurationMs(const std::string& text, int* ms)
{
  size_t digits = 0;
  while (digits < text.size() && text[digits] >= '0' && text[digits] <= '9') {
    digits++;
  }
  if (digits == 0 || digits > 12) {
    return false;
  }
  long long n = std::stoll(text.substr(0, digits));
  const std::string unit = text.substr(digits);
  long long scale = unit == "ms" ? 1 : unit == "s" || unit.empty() ? 1000 : unit == "m" ? 60000
    : unit == "h" ? 3600000 : 0;
  if (scale == 0 || n == 0 || n > MAX_DURATION_MS / scale) {
    return false;
  }
  *ms = static_cast<int>(n * scale);
  return true;
}

std::vector<std::string> splitWords(const std::string& s)
{
  std::vector<std::string> out;
  std::istringstream in(s);
  std::string w;
  while (in >> w) {
    out.push_back(w);
  }
  return out;
}

} // namespace {


const std::vector<ModuleParameter>& moduleParameters()
{
  static const std::vector<ModuleParameter> p = {
    {"jar", "the dvdi jar the embedded JVM loads", "the jar this module was built or installed with"},
    {"libjvm", "libjvm.so to load", "$JAVA_HOME/lib/server/libjvm.so, else the system's default JDK"},
    {"jvm_options", "extra JVM options, separated by spaces (e.g. \"-Xmx96m\")", "-Xmx64m -XX:+UseSerialGC and friends"},
    {"config_file", "dvdi's config file (Java properties)", "/etc/dvdi/dvdi.properties (may be missing)"},
    {"state_dir", "dvdi's state directory (setting state.dir)", "/var/lib/dvdi/state"},
    {"mount_root", "where volumes are mounted (setting mount.root)", "/var/lib/dvdi/volumes"},
    {"instance_id", "who this agent is in volume holder records (setting instance.id)", "the host name (plus the state directory when it is not the default)"},
    {"default_driver", "the driver when DVDI_VOLUME_DRIVER is not given (setting driver.default)", "rexray"},
    {"settings", "further dvdi settings, 'key=value' pairs separated by ';'", "none"},
    {"bridge_threads", "threads that call into the JVM (1-16)", "2"},
    {"prepare_timeout", "how long the isolator waits for dvdi's prepare of a container before the container fails "
     "with \"dvdi TIMEOUT\" (500ms, 30s, 2m, 1h; up to 24h); more than the provider timeouts of one volume", "10m"},
    {"cleanup_timeout", "the same for a container's cleanup: past it Mesos reports that destroying the container "
     "failed", "10m"},
    {"recover_timeout", "how long the isolator waits for dvdi's recovery when the agent starts; past it the agent's "
     "recovery fails with \"dvdi TIMEOUT\" (the agent exits, and its supervisor starts it again with a new JVM)",
     "dvdi's own recovery bound (from its provider timeouts) plus 1m"},
    {"work_dir", "mesos-module-dvdi's parameter: accepted and ignored (dvdi keeps its state in state_dir)", "-"},
  };
  return p;
}


bool parseModuleParameters(
    const std::map<std::string, std::string>& parameters,
    const std::string& defaultJar,
    ModuleConfig* config,
    std::string* error)
{
  std::map<std::string, bool> known;
  for (const ModuleParameter& p : moduleParameters()) {
    known[p.name] = true;
  }

  nlohmann::json settings = nlohmann::json::object();
  BridgeOptions& bridge = config->bridge;
  bridge.jar = defaultJar;
  std::string configFile;

  for (const auto& kv : parameters) {
    const std::string& key = kv.first;
    const std::string& value = kv.second;
    if (!known.count(key)) {
      std::string names;
      for (const ModuleParameter& p : moduleParameters()) {
        names += (names.empty() ? "" : ", ") + std::string(p.name);
      }
      *error = "unknown module parameter '" + printable(key) + "'; known: " + names;
      return false;
    }
    // Everything below may end up in Facade.init's JSON (whose dump throws on
    // text that is not UTF-8).
    if (!utf::valid(value)) {
      *error = "module parameter '" + key + "' is not valid UTF-8: '" + printable(value) + "'";
      return false;
    }
    if (key == "jar") {
      bridge.jar = value;
    } else if (key == "libjvm") {
      bridge.libjvm = value;
    } else if (key == "jvm_options") {
      bridge.jvmOptions = splitWords(value);
      for (const std::string& o : bridge.jvmOptions) {
        if (o.empty() || o[0] != '-') {
          *error = "module parameter 'jvm_options' has '" + printable(o) + "': JVM options start with '-'";
          return false;
        }
      }
    } else if (key == "config_file") {
      configFile = value;
    } else if (key == "settings") {
      std::istringstream in(value);
      std::string item;
      while (std::getline(in, item, ';')) {
        size_t b = item.find_first_not_of(" \t");
        if (b == std::string::npos) {
          continue;
        }
        item = item.substr(b, item.find_last_not_of(" \t") - b + 1);
        size_t eq = item.find('=');
        if (eq == std::string::npos || eq == 0) {
          *error = "module parameter 'settings' has '" + printable(item) + "': items are key=value, separated by ';'";
          return false;
        }
        settings[item.substr(0, eq)] = item.substr(eq + 1);
      }
    } else if (key == "bridge_threads") {
      char* end = nullptr;
      long n = strtol(value.c_str(), &end, 10);
      if (value.empty() || *end != '\0' || n < 1 || n > 16) {
        *error = "module parameter 'bridge_threads' is '" + printable(value) + "': must be a whole number from 1 to 16";
        return false;
      }
      bridge.threads = static_cast<int>(n);
    } else if (key == "prepare_timeout" || key == "cleanup_timeout" || key == "recover_timeout") {
      int* ms = key == "prepare_timeout" ? &config->prepareTimeoutMs
        : key == "cleanup_timeout" ? &config->cleanupTimeoutMs : &config->recoverTimeoutMs;
      if (!parseDurationMs(value, ms)) {
        *error = "module parameter '" + key + "' is '" + printable(value)
          + "': must be a duration like 500ms, 30s, 2m or 1h, from 1ms to 24h";
        return false;
      }
    } else if (key == "work_dir") {
      config->warnings.push_back(
          "module parameter 'work_dir' (mesos-module-dvdi) is ignored: dvdi keeps its state in 'state_dir'");
    } else {
      const std::string& setting = settingParameters().at(key);
      if (value.empty()) {
        *error = "module parameter '" + key + "' is empty";
        return false;
      }
      settings[setting] = value;
    }
  }

  if (bridge.jar.empty() || bridge.jar[0] != '/') {
    *error = "module parameter 'jar' is '" + printable(bridge.jar) + "': must be the absolute path of dvdi.jar";
    return false;
  }
  if (!isFile(bridge.jar)) {
    *error = "module parameter 'jar': " + printable(bridge.jar) + " does not exist (build it with ./mvnw package, or install it)";
    return false;
  }
  if (!bridge.libjvm.empty() && !isFile(bridge.libjvm)) {
    *error = "module parameter 'libjvm': " + printable(bridge.libjvm) + " does not exist";
    return false;
  }

  nlohmann::json init = {
    {"config_file", configFile},
    {"settings", settings},
    {"native_log", true},
  };
  bridge.initArgs = init.dump();
  return true;
}


int recoverTimeoutMs(const std::string& initResult, int configuredMs)
{
  if (configuredMs > 0) {
    return configuredMs;
  }
  nlohmann::json r = nlohmann::json::parse(initResult, nullptr, false);
  if (r.is_object() && r.contains("recover_bound_ms") && r["recover_bound_ms"].is_number_integer()) {
    long long bound = r["recover_bound_ms"].get<long long>();
    if (bound > 0 && bound <= MAX_DURATION_MS) {
      return static_cast<int>(bound + ModuleConfig::RECOVER_MARGIN_MS);
    }
  }
  return DEFAULT_RECOVER_TIMEOUT_MS;
}

} // namespace dvdi {
