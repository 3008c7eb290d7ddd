#include "mesos/translate.hpp"

#include <nlohmann/json.hpp>

#include "bridge/utf.hpp"

namespace dvdi {

using nlohmann::json;

bool isDvdiVariable(const std::string& name)
{
  static const std::string PREFIX = "DVDI_VOLUME_";
  return name.compare(0, PREFIX.size(), PREFIX) == 0;
}


bool checkUtf8(const std::vector<TaskText>& texts, std::string* error)
{
  for (const TaskText& t : texts) {
    if (!utf::valid(t.field)) {
      *error = "dvdi INVALID_REQUEST: the name of variable '" + utf::printable(t.field) + "' is not valid UTF-8";
      return false;
    }
    if (!utf::valid(t.value)) {
      *error = "dvdi INVALID_REQUEST: " + utf::printable(t.field) + " is not valid UTF-8: '"
        + utf::printable(t.value) + "'";
      return false;
    }
  }
  return true;
}


std::string prepareRequest(
    const std::string& containerIdJson,
    const std::string& containerConfigJson)
{
  return "{\"container_id\":" + containerIdJson + ",\"container_config\":" + containerConfigJson + "}";
}


std::string cleanupRequest(const std::string& containerIdJson)
{
  return "{\"container_id\":" + containerIdJson + "}";
}


std::string recoverRequest(
    const std::vector<std::string>& stateJsons,
    const std::vector<std::string>& orphanJsons)
{
  std::string out = "{\"states\":[";
  for (size_t i = 0; i < stateJsons.size(); i++) {
    out += (i ? "," : "") + stateJsons[i];
  }
  out += "],\"orphans\":[";
  for (size_t i = 0; i < orphanJsons.size(); i++) {
    out += (i ? "," : "") + orphanJsons[i];
  }
  return out + "]}";
}


namespace {

// <sys/mount.h>'s flags, spelled out: this file is built and tested anywhere.
const unsigned long FLAG_RDONLY = 1;      // MS_RDONLY
const unsigned long FLAG_NOSUID = 2;      // MS_NOSUID
const unsigned long FLAG_NODEV = 4;       // MS_NODEV
const unsigned long FLAG_REMOUNT = 32;    // MS_REMOUNT
const unsigned long FLAG_BIND = 4096;     // MS_BIND

bool isReadOnlyBind(const json& mount)
{
  if (!mount.is_object() || !mount.contains("flags") || !mount["flags"].is_number_unsigned()) {
    return false;
  }
  unsigned long flags = mount["flags"].get<unsigned long>();
  return (flags & (FLAG_BIND | FLAG_RDONLY | FLAG_REMOUNT)) == (FLAG_BIND | FLAG_RDONLY);
}

} // namespace {


bool launchInfoOf(
    const std::string& prepareResult,
    std::string* launchInfoJson,
    std::string* error)
{
  json r = json::parse(prepareResult, nullptr, false);
  if (r.is_discarded() || !r.is_object()) {
    *error = "dvdi INTERNAL: prepare answered something that is not a JSON object";
    return false;
  }
  auto it = r.find("launch_info");
  if (it == r.end() || it->is_null()) {
    launchInfoJson->clear();
    return true;
  }
  if (!it->is_object()) {
    *error = "dvdi INTERNAL: prepare's launch_info is not an object";
    return false;
  }
  auto mounts = it->find("mounts");
  if (mounts != it->end() && !mounts->is_array()) {
    *error = "dvdi INTERNAL: prepare's launch_info.mounts is not an array";
    return false;
  }
  if (mounts != it->end()) {
    json applied = json::array();
    for (const json& m : *mounts) {
      applied.push_back(m);
      if (isReadOnlyBind(m) && m.contains("target")) {
        applied.push_back({{"target", m["target"]}, {"flags", FLAG_REMOUNT | FLAG_BIND | FLAG_RDONLY | FLAG_NOSUID | FLAG_NODEV}});
      }
    }
    *mounts = applied;
  }
  // Parsed text is valid UTF-8: dump() cannot throw here.
  *launchInfoJson = it->dump();
  return true;
}


std::vector<std::string> cleanupFailures(const std::string& cleanupResult)
{
  std::vector<std::string> out;
  json r = json::parse(cleanupResult, nullptr, false);
  if (r.is_object() && r.contains("failures") && r["failures"].is_array()) {
    for (const json& f : r["failures"]) {
      out.push_back(f.is_string() ? f.get<std::string>() : f.dump());
    }
  }
  return out;
}


std::string recoverSummary(const std::string& recoverResult)
{
  json r = json::parse(recoverResult, nullptr, false);
  if (!r.is_object()) {
    return recoverResult;
  }
  std::string out;
  for (const char* key : {"kept_containers", "released_containers", "kept_volumes", "released_volumes",
                          "adopted_volumes", "problems"}) {
    if (r.contains(key) && r[key].is_array() && !r[key].empty()) {
      out += (out.empty() ? "" : "; ") + std::string(key) + ": " + r[key].dump();
    }
  }
  return out.empty() ? "nothing to recover" : out;
}

} // namespace dvdi {
