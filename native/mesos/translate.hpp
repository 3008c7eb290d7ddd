// The adapter's translation between Mesos messages (as JSON text, made with
// stout's JSON::protobuf) and the bridge's requests and results.
// Mesos-independent, so native tests cover it without a Mesos installation.

#ifndef DVDI_MESOS_TRANSLATE_HPP
#define DVDI_MESOS_TRANSLATE_HPP

#include <string>
#include <vector>

#include "bridge/bridge.hpp"

namespace dvdi {

// Text dvdi reads from a task's request: where it is (a variable's name, or
// a field such as "container_info.volumes[0].source.docker_volume.name") and
// its value.
struct TaskText
{
  std::string field;
  std::string value;
};

// Whether dvdi reads an environment variable of that name (DVDI_VOLUME_*,
// as Java's EnvRequests).
bool isDvdiVariable(const std::string& name);

// Checks that each `texts` field and value is UTF-8: Java would read other
// bytes as U+FFFD, a name or a path other than the one the task gave. False
// with *error "dvdi INVALID_REQUEST: <field> is not valid UTF-8: '<value>'"
// (escaped with utf::printable) for the first that is not.
bool checkUtf8(const std::vector<TaskText>& texts, std::string* error);

// {"container_id": <ContainerID>, "container_config": <ContainerConfig>}
std::string prepareRequest(
    const std::string& containerIdJson,
    const std::string& containerConfigJson);

// {"container_id": <ContainerID>}
std::string cleanupRequest(const std::string& containerIdJson);

// {"states": [<ContainerState>...], "orphans": [<ContainerID>...]}
std::string recoverRequest(
    const std::vector<std::string>& stateJsons,
    const std::vector<std::string>& orphanJsons);

// From prepare's result: the ContainerLaunchInfo JSON to parse into the
// protobuf, or "" when the container asked for no volumes (then the isolator
// returns None and the container gets no mount namespace from dvdi).
// Each read-only bind is followed by a mount entry that remounts its target
// MS_REMOUNT|MS_BIND|MS_RDONLY|MS_NOSUID|MS_NODEV (the launcher applies the
// entries in order). The kernel ignores MS_RDONLY on a first bind: Mesos 1.5
// to 1.7 apply each ContainerMountInfo as one mount(2) call, so without that
// entry the bind stays writable; Mesos 1.8 and later remount a read-only bind
// themselves (fs::mount) but with MS_BIND|MS_RDONLY|MS_REC only, which clears
// the nosuid,nodev the bind had from the volume's mount; the entry sets them
// again.
// Returns false with *error when the result is not what Java sends.
bool launchInfoOf(
    const std::string& prepareResult,
    std::string* launchInfoJson,
    std::string* error);

// From cleanup's result: the volumes whose release failed (kept and retried by
// dvdi; the agent logs them).
std::vector<std::string> cleanupFailures(const std::string& cleanupResult);

// One line summarising recover's result, for the agent's log.
std::string recoverSummary(const std::string& recoverResult);

} // namespace dvdi {

#endif // DVDI_MESOS_TRANSLATE_HPP
