#include "support.hpp"

#include <ctype.h>
#include <errno.h>
#include <ftw.h>
#include <glob.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <condition_variable>
#include <fstream>
#include <mutex>
#include <sstream>

namespace dvdi {
namespace testing {

namespace {

// Undoes the octal escapes of /proc/self/mountinfo ("\040" for a space).
std::string unescape(const std::string& s)
{
  std::string out;
  for (size_t i = 0; i < s.size(); i++) {
    if (s[i] == '\\' && i + 3 < s.size() && isdigit(s[i + 1]) && isdigit(s[i + 2]) && isdigit(s[i + 3])) {
      out.push_back(static_cast<char>((s[i + 1] - '0') * 64 + (s[i + 2] - '0') * 8 + (s[i + 3] - '0')));
      i += 3;
    } else {
      out.push_back(s[i]);
    }
  }
  return out;
}


std::vector<std::string> mountPoints()
{
  std::vector<std::string> out;
  std::ifstream in("/proc/self/mountinfo");
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream fields(line);
    std::string id, parent, device, root, point;
    if (fields >> id >> parent >> device >> root >> point) {
      out.push_back(unescape(point));
    }
  }
  return out;
}


bool below(const std::string& path, const std::string& root)
{
  return path == root
    || (path.size() > root.size() && path.compare(0, root.size(), root) == 0 && path[root.size()] == '/');
}


std::string* removeError = nullptr;

int removeOne(const char* path, const struct stat*, int type, struct FTW*)
{
  int rc = type == FTW_DP ? ::rmdir(path) : ::unlink(path);
  if (rc != 0 && removeError != nullptr && removeError->empty()) {
    *removeError = std::string("cannot remove ") + path + ": " + strerror(errno);
  }
  return 0;
}

} // namespace {


std::string makeTempDir(const std::string& prefix)
{
  const char* tmp = ::getenv("TMPDIR");
  std::string pattern = std::string(tmp != nullptr && tmp[0] != '\0' ? tmp : "/tmp") + "/" + prefix + "XXXXXX";
  std::vector<char> buffer(pattern.begin(), pattern.end());
  buffer.push_back('\0');
  if (::mkdtemp(buffer.data()) == nullptr) {
    return std::string();
  }
  return buffer.data();
}


bool removeTree(const std::string& path, std::string* error)
{
  static std::mutex mutex; // nftw has no user argument
  std::lock_guard<std::mutex> lock(mutex);
  std::string e;
  removeError = &e;
  int rc = ::nftw(path.c_str(), removeOne, 16, FTW_DEPTH | FTW_PHYS | FTW_MOUNT);
  removeError = nullptr;
  if (rc != 0 && e.empty()) {
    e = "cannot walk " + path + ": " + strerror(errno);
  }
  if (!e.empty()) {
    *error = e;
    return false;
  }
  return true;
}


RemoveAtExit::~RemoveAtExit()
{
  std::string error;
  if (!path.empty() && !removeTree(path, &error)) {
    fprintf(stderr, "%s\n", error.c_str());
  }
}


std::vector<std::string> mountsUnder(const std::string& root)
{
  std::vector<std::string> out;
  std::vector<std::string> all = mountPoints();
  for (size_t i = 0; i < all.size(); i++) {
    if (below(all[i], root)) {
      out.push_back(all[i]);
    }
  }
  return out;
}


int mountCount(const std::string& path)
{
  int n = 0;
  std::vector<std::string> all = mountPoints();
  for (size_t i = 0; i < all.size(); i++) {
    if (all[i] == path) {
      n++;
    }
  }
  return n;
}


std::vector<std::string> loopsBackedBy(const std::string& dir)
{
  std::vector<std::string> out;
  glob_t g;
  if (::glob("/sys/block/loop*/loop/backing_file", 0, nullptr, &g) == 0) {
    for (size_t i = 0; i < g.gl_pathc; i++) {
      std::ifstream in(g.gl_pathv[i]);
      std::string file;
      std::getline(in, file);
      if (below(file, dir)) {
        std::string device = g.gl_pathv[i];
        device = device.substr(strlen("/sys/block/"));
        device = "/dev/" + device.substr(0, device.find('/'));
        out.push_back(device + " (" + file + ")");
      }
    }
  }
  globfree(&g);
  return out;
}


bool isRoot()
{
  return ::geteuid() == 0;
}


bool Dirs::make(const std::string& prefix)
{
  root = makeTempDir(prefix);
  if (root.empty()) {
    return false;
  }
  state = root + "/state";
  mounts = root + "/volumes";
  pool = root + "/pool";
  sandboxes = root + "/sandboxes";
  return ::mkdir(sandboxes.c_str(), 0755) == 0;
}


std::string Dirs::sandbox(const std::string& containerId) const
{
  std::string path = sandboxes + "/" + containerId;
  ::mkdir(path.c_str(), 0755);
  return path;
}


nlohmann::json Dirs::settings() const
{
  nlohmann::json s = nlohmann::json::object();
  s["state.dir"] = state;
  s["mount.root"] = mounts;
  s["providers.loop.pool"] = pool;
  s["providers.loop.default-size"] = "32MiB";
  s["driver.default"] = "loop";
  s["release.retry-interval"] = "1h";
  return s;
}


std::string Dirs::initArgs(const nlohmann::json& extra) const
{
  nlohmann::json s = settings();
  for (nlohmann::json::const_iterator it = extra.begin(); it != extra.end(); ++it) {
    s[it.key()] = it.value();
  }
  nlohmann::json args;
  args["config_file"] = "";
  args["settings"] = s;
  args["native_log"] = true;
  return args.dump();
}


std::string jar()
{
  const char* j = ::getenv("DVDI_JAR");
  if (j != nullptr && j[0] != '\0') {
    return j;
  }
#ifdef DVDI_DEFAULT_JAR
  return DVDI_DEFAULT_JAR;
#else
  return std::string();
#endif
}


std::string libjvm()
{
  const char* l = ::getenv("DVDI_LIBJVM");
  return l == nullptr ? std::string() : std::string(l);
}


nlohmann::json containerId(const std::string& id)
{
  nlohmann::json c;
  c["value"] = id;
  return c;
}


std::string prepareRequest(
    const std::string& id,
    const std::string& sandbox,
    const std::map<std::string, std::string>& environment)
{
  nlohmann::json variables = nlohmann::json::array();
  for (std::map<std::string, std::string>::const_iterator it = environment.begin();
       it != environment.end(); ++it) {
    nlohmann::json v;
    v["name"] = it->first;
    v["type"] = "VALUE";
    v["value"] = it->second;
    variables.push_back(v);
  }
  nlohmann::json request;
  request["container_id"] = containerId(id);
  request["container_config"]["directory"] = sandbox;
  request["container_config"]["user"] = "root";
  request["container_config"]["command_info"]["environment"]["variables"] = variables;
  return request.dump();
}


std::string cleanupRequest(const std::string& id)
{
  nlohmann::json request;
  request["container_id"] = containerId(id);
  return request.dump();
}


nlohmann::json result(const Reply& reply)
{
  if (reply.result.empty()) {
    return nlohmann::json::object();
  }
  return nlohmann::json::parse(reply.result, nullptr, false);
}


struct Collector::State
{
  mutable std::mutex mutex;
  std::condition_variable cv;
  std::vector<Reply> replies;
  std::vector<int> counts;
  size_t completed = 0;
  size_t duplicates = 0;
};


Collector::Collector(size_t size) : state(new State())
{
  state->replies.resize(size, Reply::failure("NOT_COMPLETED", "the call did not complete"));
  state->counts.resize(size, 0);
}


Callback Collector::callback(size_t index)
{
  std::shared_ptr<State> s = state;
  return [s, index](const Reply& reply) {
    std::lock_guard<std::mutex> lock(s->mutex);
    if (s->counts[index]++ == 0) {
      s->replies[index] = reply;
      s->completed++;
    } else {
      s->duplicates++;
    }
    s->cv.notify_all();
  };
}


bool Collector::waitAll(int timeoutMs)
{
  std::unique_lock<std::mutex> lock(state->mutex);
  State* s = state.get();
  return s->cv.wait_for(lock, std::chrono::milliseconds(timeoutMs),
                        [s]() { return s->completed == s->replies.size(); });
}


std::vector<Reply> Collector::replies() const
{
  std::lock_guard<std::mutex> lock(state->mutex);
  return state->replies;
}


size_t Collector::completed() const
{
  std::lock_guard<std::mutex> lock(state->mutex);
  return state->completed;
}


size_t Collector::duplicates() const
{
  std::lock_guard<std::mutex> lock(state->mutex);
  return state->duplicates;
}

} // namespace testing {
} // namespace dvdi {
