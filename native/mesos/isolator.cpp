// The Mesos adapter: a mesos::slave::Isolator registered as an isolator
// module. It converts Mesos messages to the bridge's JSON requests and the
// replies to ContainerLaunchInfo, and nothing more: every decision is made in
// Java. No libprocess thread waits on Java: calls go to the bridge's threads
// and their replies come back as a dispatch to this module's own process.

#include <list>
#include <map>
#include <string>
#include <vector>

#include <glog/logging.h>

#include <mesos/mesos.hpp>
#include <mesos/module.hpp>
#include <mesos/module/isolator.hpp>
#include <mesos/slave/isolator.hpp>
#include <mesos/version.hpp>

#include <process/clock.hpp>
#include <process/defer.hpp>
#include <process/dispatch.hpp>
#include <process/future.hpp>
#include <process/id.hpp>
#include <process/owned.hpp>
#include <process/process.hpp>

#include <process/metrics/counter.hpp>
#include <process/metrics/metrics.hpp>
#include <process/metrics/pull_gauge.hpp>
#include <process/metrics/timer.hpp>

#include <stout/duration.hpp>
#include <stout/hashset.hpp>
#include <stout/json.hpp>
#include <stout/lambda.hpp>
#include <stout/nothing.hpp>
#include <stout/option.hpp>
#include <stout/protobuf.hpp>
#include <stout/stringify.hpp>
#include <stout/try.hpp>

#include "bridge/bridge.hpp"
#include "mesos/module_params.hpp"
#include "mesos/translate.hpp"

#ifndef DVDI_DEFAULT_JAR
#define DVDI_DEFAULT_JAR "/usr/lib/dvdi/dvdi.jar"
#endif

using std::string;
using std::vector;

using mesos::ContainerID;
using mesos::Parameter;
using mesos::Parameters;

using mesos::slave::ContainerConfig;
using mesos::slave::ContainerLaunchInfo;
using mesos::slave::ContainerState;
using mesos::slave::Isolator;

using process::Failure;
using process::Future;
using process::Owned;
using process::Promise;

namespace dvdi {

// Mesos 1.7 changed recover()'s container states from a list to a vector.
#if MESOS_MAJOR_VERSION_NUM > 1 || MESOS_MINOR_VERSION_NUM >= 7
typedef std::vector<ContainerState> ContainerStates;
#else
typedef std::list<ContainerState> ContainerStates;
#endif

// The Mesos this module is built for: how it applies ContainerLaunchInfo.mounts.

// Deadline of a "metrics" call (a snapshot's gauges wait for it).
static const int METRICS_TIMEOUT_MS = 30 * 1000;

// Java metrics published as pull gauges dvdi/<name> (read with one bridge call
// per snapshot).
static const char* const JAVA_GAUGES[] = {
  "volumes_mounted", "containers", "state_commits",
  "prepare_fast_path", "prepare_rollbacks", "release_failed",
  "provider_inspect_ms", "provider_create_ms", "provider_attach_ms",
  "provider_mount_ms", "provider_unmount_ms", "provider_detach_ms",
  "release_ms",
};


// The text dvdi reads from a container's config (as Java's MesosRequests):
// DVDI_VOLUME_* variables of its command and of a top-level container's
// executor, and the fields of its DOCKER_VOLUME volumes.
static vector<TaskText> taskTexts(const ContainerConfig& config)
{
  vector<TaskText> texts;
  auto variables = [&texts](const mesos::Environment& environment) {
    foreach (const mesos::Environment::Variable& v, environment.variables()) {
      if (isDvdiVariable(v.name())) {
        texts.push_back(TaskText{v.name(), v.value()});
      }
    }
  };
  if (config.has_executor_info()) {
    variables(config.executor_info().command().environment());
  }
  if (config.has_command_info()) {
    variables(config.command_info().environment());
  }
  for (int i = 0; i < config.container_info().volumes_size(); i++) {
    const mesos::Volume& volume = config.container_info().volumes(i);
    if (volume.source().type() != mesos::Volume::Source::DOCKER_VOLUME) {
      continue;
    }
    const string field = "container_info.volumes[" + stringify(i) + "]";
    const mesos::Volume::Source::DockerVolume& docker = volume.source().docker_volume();
    texts.push_back(TaskText{field + ".container_path", volume.container_path()});
    texts.push_back(TaskText{field + ".source.docker_volume.driver", docker.driver()});
    texts.push_back(TaskText{field + ".source.docker_volume.name", docker.name()});
    for (int k = 0; k < docker.driver_options().parameter_size(); k++) {
      const Parameter& option = docker.driver_options().parameter(k);
      const string at = field + ".source.docker_volume.driver_options.parameter[" + stringify(k) + "]";
      texts.push_back(TaskText{at + ".key", option.key()});
      texts.push_back(TaskText{at + ".value", option.value()});
    }
  }
  return texts;
}


// Owns the bridge calls: a libprocess actor, so that replies (which arrive on
// JVM threads) are handed back to libprocess before any Mesos code runs.
class DvdiIsolatorProcess : public process::Process<DvdiIsolatorProcess>
{
public:
  DvdiIsolatorProcess(Bridge* _bridge, const ModuleConfig& config)
    : ProcessBase(process::ID::generate("dvdi-isolator")),
      bridge(_bridge),
      prepareTimeoutMs(config.prepareTimeoutMs),
      cleanupTimeoutMs(config.cleanupTimeoutMs),
      recoverTimeoutMs(config.recoverTimeoutMs),
      prepares("dvdi/prepares"),
      prepareFailures("dvdi/prepare_failures"),
      cleanups("dvdi/cleanups"),
      cleanupFailures("dvdi/cleanup_failures"),
      recovers("dvdi/recovers"),
      prepareTimer("dvdi/prepare", Hours(1)),
      cleanupTimer("dvdi/cleanup", Hours(1)),
      recoverTimer("dvdi/recover", Hours(1))
  {
    process::metrics::add(prepares);
    process::metrics::add(prepareFailures);
    process::metrics::add(cleanups);
    process::metrics::add(cleanupFailures);
    process::metrics::add(recovers);
    process::metrics::add(prepareTimer);
    process::metrics::add(cleanupTimer);
    process::metrics::add(recoverTimer);
  }

  virtual ~DvdiIsolatorProcess()
  {
    process::metrics::remove(prepares);
    process::metrics::remove(prepareFailures);
    process::metrics::remove(cleanups);
    process::metrics::remove(cleanupFailures);
    process::metrics::remove(recovers);
    process::metrics::remove(prepareTimer);
    process::metrics::remove(cleanupTimer);
    process::metrics::remove(recoverTimer);
  }

  // Calls Java; the future completes on this process, never on a JVM thread.
  // `timeoutMs` > 0: the bridge fails the call with "dvdi TIMEOUT: ..." if
  // Java has not answered by then (and ignores a later answer).
  Future<string> call(const string& method, const string& request, int timeoutMs)
  {
    Owned<Promise<string>> promise(new Promise<string>());
    Future<string> future = promise->future();
    process::PID<DvdiIsolatorProcess> pid = self();
    bridge->call(method, request, [pid, promise](const Reply& reply) {
      process::dispatch(pid, &DvdiIsolatorProcess::complete, promise, reply);
    }, timeoutMs);
    return future;
  }

  void complete(Owned<Promise<string>> promise, const Reply& reply)
  {
    if (reply.ok) {
      promise->set(reply.result);
    } else {
      promise->fail(reply.describe());
    }
  }

  Future<Option<ContainerLaunchInfo>> prepare(
      const ContainerID& containerId,
      const ContainerConfig& containerConfig)
  {
    ++prepares;
    string error;
    if (!checkUtf8(taskTexts(containerConfig), &error)) {
      prepareFailed(containerId, error);
      return Failure(error);
    }
    string request = prepareRequest(
        stringify(JSON::protobuf(containerId)),
        stringify(JSON::protobuf(containerConfig)));
    return prepareTimer.time(call("prepare", request, prepareTimeoutMs))
      .then(process::defer(self(), &Self::_prepare, containerId, lambda::_1))
      .onFailed(process::defer(self(), &Self::prepareFailed, containerId, lambda::_1));
  }

  Future<Option<ContainerLaunchInfo>> _prepare(const ContainerID& containerId, const string& result)
  {
    string launchInfoJson;
    string error;
    if (!launchInfoOf(result, &launchInfoJson, &error)) {
      return Failure(error);
    }
    if (launchInfoJson.empty()) {
      return None();
    }
    Try<JSON::Object> object = JSON::parse<JSON::Object>(launchInfoJson);
    if (object.isError()) {
      return Failure("dvdi INTERNAL: launch info does not parse: " + object.error());
    }
    Try<ContainerLaunchInfo> launchInfo = ::protobuf::parse<ContainerLaunchInfo>(object.get());
    if (launchInfo.isError()) {
      return Failure("dvdi INTERNAL: launch info is not a ContainerLaunchInfo: " + launchInfo.error());
    }
    LOG(INFO) << "dvdi prepared container " << containerId << ": " << result;
    return launchInfo.get();
  }

  void prepareFailed(const ContainerID& containerId, const string& message)
  {
    ++prepareFailures;
    LOG(WARNING) << "dvdi could not prepare container " << containerId << ": " << message;
  }

  Future<Nothing> cleanup(const ContainerID& containerId)
  {
    ++cleanups;
    return cleanupTimer.time(
        call("cleanup", cleanupRequest(stringify(JSON::protobuf(containerId))), cleanupTimeoutMs))
      .then(process::defer(self(), &Self::_cleanup, containerId, lambda::_1))
      .onFailed(process::defer(self(), &Self::cleanupFailed, containerId, lambda::_1));
  }

  // Mesos then fails the container's destruction with this message.
  void cleanupFailed(const ContainerID& containerId, const string& message)
  {
    ++cleanupFailures;
    LOG(WARNING) << "dvdi could not clean up container " << containerId << ": " << message;
  }

  Future<Nothing> _cleanup(const ContainerID& containerId, const string& result)
  {
    vector<string> failures = dvdi::cleanupFailures(result);
    if (!failures.empty()) {
      ++cleanupFailures;
      // The volumes stay in dvdi's state and are released by its retries (or
      // `dvdi release`); the container itself is gone either way.
      foreach (const string& f, failures) {
        LOG(WARNING) << "dvdi cleanup of container " << containerId << ": " << f;
      }
    }
    return Nothing();
  }

  Future<Nothing> recover(const ContainerStates& states, const hashset<ContainerID>& orphans)
  {
    ++recovers;
    vector<string> stateJsons;
    foreach (const ContainerState& state, states) {
      stateJsons.push_back(stringify(JSON::protobuf(state)));
    }
    vector<string> orphanJsons;
    foreach (const ContainerID& orphan, orphans) {
      orphanJsons.push_back(stringify(JSON::protobuf(orphan)));
    }
    // dvdi's recovery answers within its own bound (calls past their deadlines
    // are left to its reaper); past this deadline the JVM is stuck, and the
    // agent's recovery fails so that its supervisor starts a fresh one.
    return recoverTimer.time(call("recover", recoverRequest(stateJsons, orphanJsons), recoverTimeoutMs))
      .then([](const string& result) -> Future<Nothing> {
        LOG(INFO) << "dvdi recovered: " << recoverSummary(result);
        return Nothing();
      });
  }

  // One "metrics" call per snapshot for all Java gauges.
  Future<double> javaMetric(const string& name)
  {
    if (metricsCall.isNone() || process::Clock::now() - metricsAge > Seconds(1)) {
      metricsCall = call("metrics", "{}", METRICS_TIMEOUT_MS);
      metricsAge = process::Clock::now();
    }
    return metricsCall->then([name](const string& result) -> Future<double> {
      Try<JSON::Object> o = JSON::parse<JSON::Object>(result);
      if (o.isError()) {
        return Failure(o.error());
      }
      Result<JSON::Number> n = o->at<JSON::Number>(name);
      return n.isSome() ? n->as<double>() : 0.0;
    });
  }

private:
  Bridge* bridge;
  const int prepareTimeoutMs;
  const int cleanupTimeoutMs;
  const int recoverTimeoutMs;
  process::metrics::Counter prepares;
  process::metrics::Counter prepareFailures;
  process::metrics::Counter cleanups;
  process::metrics::Counter cleanupFailures;
  process::metrics::Counter recovers;
  process::metrics::Timer<Milliseconds> prepareTimer;
  process::metrics::Timer<Milliseconds> cleanupTimer;
  process::metrics::Timer<Milliseconds> recoverTimer;
  Option<Future<string>> metricsCall;
  process::Time metricsAge;

  typedef DvdiIsolatorProcess Self;
};


class DvdiIsolator : public Isolator
{
public:
  DvdiIsolator(Bridge* bridge, const ModuleConfig& config)
    : process(new DvdiIsolatorProcess(bridge, config))
  {
    process::spawn(process.get());
    foreach (const char* name, JAVA_GAUGES) {
      process::metrics::PullGauge gauge(
          string("dvdi/") + name,
          process::defer(process.get(), &DvdiIsolatorProcess::javaMetric, string(name)));
      gauges.push_back(gauge);
      process::metrics::add(gauge);
    }
  }

  virtual ~DvdiIsolator()
  {
    foreach (const process::metrics::PullGauge& gauge, gauges) {
      process::metrics::remove(gauge);
    }
    process::terminate(process.get());
    process::wait(process.get());
  }

  bool supportsNesting() override
  {
    return true;
  }

#if MESOS_MAJOR_VERSION_NUM > 1 || MESOS_MINOR_VERSION_NUM >= 5
  bool supportsStandalone() override
  {
    return true;
  }
#endif

  Future<Nothing> recover(const ContainerStates& states, const hashset<ContainerID>& orphans) override
  {
    return process::dispatch(process.get(), &DvdiIsolatorProcess::recover, states, orphans);
  }

  Future<Option<ContainerLaunchInfo>> prepare(
      const ContainerID& containerId,
      const ContainerConfig& containerConfig) override
  {
    return process::dispatch(process.get(), &DvdiIsolatorProcess::prepare, containerId, containerConfig);
  }

  Future<Nothing> cleanup(const ContainerID& containerId) override
  {
    return process::dispatch(process.get(), &DvdiIsolatorProcess::cleanup, containerId);
  }

private:
  Owned<DvdiIsolatorProcess> process;
  vector<process::metrics::PullGauge> gauges;
};


static void logToGlog(int level, const string& message)
{
  switch (level) {
    case LOG_ERROR:
      LOG(ERROR) << "dvdi: " << message;
      break;
    case LOG_WARNING:
      LOG(WARNING) << "dvdi: " << message;
      break;
    default:
      LOG(INFO) << "dvdi: " << message;
  }
}


static Isolator* createIsolator(const Parameters& parameters)
{
  std::map<string, string> params;
  foreach (const Parameter& p, parameters.parameter()) {
    params[p.key()] = p.value();
  }
  ModuleConfig config;
  string error;
  if (!parseModuleParameters(params, DVDI_DEFAULT_JAR, &config, &error)) {
    LOG(ERROR) << "dvdi isolator: " << error;
    return nullptr;
  }
  foreach (const string& warning, config.warnings) {
    LOG(WARNING) << "dvdi isolator: " << warning;
  }
  config.bridge.log = logToGlog;
  Bridge* bridge = Bridge::create(config.bridge, &error);
  if (bridge == nullptr) {
    LOG(ERROR) << "dvdi isolator: cannot start: " << error;
    return nullptr;
  }
  config.recoverTimeoutMs = recoverTimeoutMs(bridge->initResult(), config.recoverTimeoutMs);
  LOG(INFO) << "dvdi isolator ready (Mesos " << MESOS_VERSION << ", jar " << bridge->jar()
            << ", JVM started in " << bridge->jvmStartMs() << " ms, prepare timeout "
            << config.prepareTimeoutMs << " ms, cleanup timeout " << config.cleanupTimeoutMs << " ms, recover timeout "
            << config.recoverTimeoutMs << " ms): "
            << bridge->initResult();
  return new DvdiIsolator(bridge, config);
}

} // namespace dvdi {


// The module, under dvdi's name and under mesos-module-dvdi's, so that an
// agent configured for mesos-module-dvdi loads dvdi unchanged but for the
// library path.
mesos::modules::Module<Isolator> org_dvdi_DvdiIsolator(
    MESOS_MODULE_API_VERSION,
    MESOS_VERSION,
    "dvdi",
    "dvdi@localhost",
    "dvdi: external persistent volumes (DVDI_VOLUME_* and DOCKER_VOLUME) through an embedded JVM.",
    nullptr,
    dvdi::createIsolator);

mesos::modules::Module<Isolator> com_emccode_mesos_DockerVolumeDriverIsolator(
    MESOS_MODULE_API_VERSION,
    MESOS_VERSION,
    "dvdi",
    "dvdi@localhost",
    "dvdi, registered under mesos-module-dvdi's module name (a drop-in replacement).",
    nullptr,
    dvdi::createIsolator);
