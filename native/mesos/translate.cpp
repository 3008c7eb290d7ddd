#include "mesos/translate.hpp"

#include <nlohmann/json.hpp>

namespace dvdi {

using nlohmann::json;

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


bool launchInfoOf(const std::string& prepareResult, std::string* launchInfoJson, std::string* error)
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
