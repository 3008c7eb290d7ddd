// Helpers shared by the native tests and dvdi-bench: temporary directories,
// the kernel's view of mounts and loop devices, and dvdi requests as JSON.

#ifndef DVDI_TESTS_SUPPORT_HPP
#define DVDI_TESTS_SUPPORT_HPP

#include <map>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "bridge.hpp"

namespace dvdi {
namespace testing {

// A new directory "<$TMPDIR or /tmp>/<prefix>XXXXXX"; "" on failure.
std::string makeTempDir(const std::string& prefix);

// Removes a tree without following symbolic links or crossing into other
// filesystems; false with *error if something could not be removed.
bool removeTree(const std::string& path, std::string* error);

// Removes a tree (removeTree) when it goes out of scope, also when a test
// ends early.
class RemoveAtExit
{
public:
  explicit RemoveAtExit(const std::string& path) : path(path) {}
  ~RemoveAtExit();

private:
  RemoveAtExit(const RemoveAtExit&);
  RemoveAtExit& operator=(const RemoveAtExit&);

  std::string path;
};

// Mount points at or below `root` (from /proc/self/mountinfo), in order.
std::vector<std::string> mountsUnder(const std::string& root);

// How many mounts /proc/self/mountinfo has at exactly `path`.
int mountCount(const std::string& path);

// Loop devices whose backing file is below `dir` ("/dev/loopN (file)").
std::vector<std::string> loopsBackedBy(const std::string& dir);

bool isRoot();

// A dvdi on temporary directories: state, mount root, loop pool, sandboxes.
struct Dirs
{
  std::string root;
  std::string state;
  std::string mounts;
  std::string pool;
  std::string sandboxes;

  // Makes them under a new temp dir; false if that fails.
  bool make(const std::string& prefix);

  // A sandbox directory for a container (created).
  std::string sandbox(const std::string& containerId) const;

  // The settings tests use: these dirs, driver "loop", 32MiB volumes,
  // releases retried hourly.
  nlohmann::json settings() const;

  // Facade.init arguments with settings() (plus `extra`).
  std::string initArgs(const nlohmann::json& extra = nlohmann::json::object()) const;
};

// The jar: $DVDI_JAR, else the one CMake was configured with.
std::string jar();

// The libjvm to use: $DVDI_LIBJVM or "" (the bridge looks it up).
std::string libjvm();

// {"container_id": {"value": id}}.
nlohmann::json containerId(const std::string& id);

// A prepare request as a Mesos agent sends it: the sandbox and the command's
// environment variables.
std::string prepareRequest(
    const std::string& containerId,
    const std::string& sandbox,
    const std::map<std::string, std::string>& environment);

std::string cleanupRequest(const std::string& containerId);

// Parses a reply's result ({} if empty); null json if it is not JSON.
nlohmann::json result(const Reply& reply);

// Collects the replies of `size` asynchronous calls, by index; counts
// callbacks that run more than once for an index.
class Collector
{
public:
  explicit Collector(size_t size);

  // The callback for call `index`.
  Callback callback(size_t index);

  // Waits up to `timeoutMs` for every call to complete; false on timeout.
  bool waitAll(int timeoutMs);

  std::vector<Reply> replies() const;
  size_t completed() const;
  size_t duplicates() const;

private:
  struct State;
  std::shared_ptr<State> state;
};

} // namespace testing {
} // namespace dvdi {

#endif // DVDI_TESTS_SUPPORT_HPP
