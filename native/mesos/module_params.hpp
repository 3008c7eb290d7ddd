// The isolator module's parameters (the "parameters" of its entry in the
// agent's --modules JSON), checked and turned into what the bridge needs.
// Mesos-independent: a map in, BridgeOptions out, so that native tests cover
// it without a Mesos installation.

#ifndef DVDI_MESOS_MODULE_PARAMS_HPP
#define DVDI_MESOS_MODULE_PARAMS_HPP

#include <map>
#include <string>
#include <vector>

#include "bridge/bridge.hpp"

namespace dvdi {

// One documented parameter: its name, what it does, its default.
struct ModuleParameter
{
  const char* name;
  const char* description;
  const char* defaultValue;
};

// Every parameter the module takes (the README's table is this list).
const std::vector<ModuleParameter>& moduleParameters();

// What the parameters make: the bridge's options (with initArgs, the JSON for
// Facade.init) and warnings to log (deprecated parameters).
struct ModuleConfig
{
  BridgeOptions bridge;
  std::vector<std::string> warnings;

  // Deadlines of the isolator's prepare and cleanup bridge calls: past them
  // the isolator's future fails with "dvdi TIMEOUT: ..." (a lost Java
  // completion must not hang a container for ever).
  int prepareTimeoutMs = DEFAULT_CALL_TIMEOUT_MS;
  int cleanupTimeoutMs = DEFAULT_CALL_TIMEOUT_MS;

  // 10 minutes: more than the provider timeouts of one volume's prepare
  // (inspect 30s + create, attach, mount 120s each by default), or cleanup.
  static const int DEFAULT_CALL_TIMEOUT_MS = 10 * 60 * 1000;

  // Deadline of the recover bridge call; 0 (not given) until the isolator,
  // once the bridge is up, resolves it with recoverTimeoutMs (dvdi's own
  // recovery bound plus RECOVER_MARGIN_MS).
  int recoverTimeoutMs = 0;
  static const int RECOVER_MARGIN_MS = 60 * 1000;
};

// The recover call's deadline: `configuredMs` when the parameter was given,
// else the "recover_bound_ms" that Facade.init answered (Java's recovery
// answers within it: provider calls past their deadlines are left to the
// reaper) plus RECOVER_MARGIN_MS for reading the state and the mount table.
// When neither is known, DEFAULT_RECOVER_TIMEOUT_MS.
int recoverTimeoutMs(const std::string& initResult, int configuredMs);
static const int DEFAULT_RECOVER_TIMEOUT_MS = 30 * 60 * 1000;

// Checks `parameters` and builds the module's configuration. On a bad
// parameter returns false and sets *error to a message naming the parameter,
// its value and the rule (the agent prints it and does not start).
// `defaultJar` is where the build or the install put dvdi.jar.
bool parseModuleParameters(
    const std::map<std::string, std::string>& parameters,
    const std::string& defaultJar,
    ModuleConfig* config,
    std::string* error);

} // namespace dvdi {

#endif // DVDI_MESOS_MODULE_PARAMS_HPP
