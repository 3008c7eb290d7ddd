// dvdi-demo: what a Mesos agent does with dvdi, without Mesos.
//
//   dvdi-demo [--jar PATH] [--libjvm PATH] [--config FILE] [--set key=value]...
//             [--jvm-option OPT]... [--sandbox DIR] [--id CONTAINER_ID]
//             [--verbose] -- COMMAND [ARGS...]
//
// It collects the DVDI_* variables of its own environment, asks dvdi
// (through the bridge) to prepare a container whose sandbox is --sandbox (or
// a new temporary directory, removed afterwards), runs COMMAND in a new mount
// namespace with the volumes bound as launch_info says (the host sees none of
// those binds), then cleans the container up. It exits with COMMAND's status
// (128+N if a signal N ended it), or 125 with "dvdi <CODE>: <message>" when
// dvdi fails.
//
// Example (as root; one command line):
//   DVDI_VOLUME_NAME=demo DVDI_VOLUME_DRIVER=loop DVDI_VOLUME_OPTS=size=64MiB
//   DVDI_VOLUME_CONTAINERPATH=data dvdi-demo --set state.dir=/tmp/d/state
//   --set mount.root=/tmp/d/vol --set providers.loop.pool=/tmp/d/pool
//   -- sh -c 'echo hi >> data/x; cat data/x'

#include <errno.h>
#include <ftw.h>
#include <limits.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "bridge.hpp"
#include "mesos/translate.hpp"
#include "utf.hpp"

extern char** environ;

using nlohmann::json;

namespace {

// Exit status when dvdi (not the command) failed, as `docker run` does.
const int EXIT_DVDI_FAILED = 125;
const int CALL_TIMEOUT_MS = 10 * 60 * 1000;

const char* const USAGE =
  "usage: dvdi-demo [--jar PATH] [--libjvm PATH] [--config FILE] [--set key=value]...\n"
  "                 [--jvm-option OPT]... [--sandbox DIR] [--id CONTAINER_ID] [--verbose]\n"
  "                 -- COMMAND [ARGS...]\n"
  "Runs COMMAND with the volumes its DVDI_VOLUME_* environment variables ask for,\n"
  "as a Mesos agent with the dvdi isolator would.\n";


struct Flags
{
  std::string jar;
  std::string libjvm;
  std::string config;
  std::map<std::string, std::string> settings;
  std::vector<std::string> jvmOptions;
  std::string sandbox;
  std::string id;
  bool verbose = false;
  std::vector<std::string> command;
};


// A bind of launch_info, as C strings ready for the child.
struct Mount
{
  std::string source;
  std::string target;
  unsigned long flags;
};


bool parseFlags(int argc, char** argv, Flags* flags, std::string* error)
{
  for (int i = 1; i < argc; i++) {
    std::string arg = argv[i];
    if (arg == "--") {
      for (int k = i + 1; k < argc; k++) {
        flags->command.push_back(argv[k]);
      }
      break;
    }
    if (arg == "--verbose" || arg == "-v") {
      flags->verbose = true;
      continue;
    }
    if (arg == "--help" || arg == "-h") {
      *error = "";
      return false;
    }
    if (arg.compare(0, 2, "--") != 0) {
      for (int k = i; k < argc; k++) {
        flags->command.push_back(argv[k]);
      }
      break;
    }
    std::string value;
    size_t eq = arg.find('=');
    if (eq != std::string::npos) {
      value = arg.substr(eq + 1);
      arg = arg.substr(0, eq);
    } else if (i + 1 < argc) {
      value = argv[++i];
    } else {
      *error = arg + " needs a value";
      return false;
    }
    if (arg == "--jar") {
      flags->jar = value;
    } else if (arg == "--libjvm") {
      flags->libjvm = value;
    } else if (arg == "--config") {
      flags->config = value;
    } else if (arg == "--set") {
      size_t e = value.find('=');
      if (e == std::string::npos || e == 0) {
        *error = "--set needs key=value, not '" + value + "'";
        return false;
      }
      flags->settings[value.substr(0, e)] = value.substr(e + 1);
    } else if (arg == "--jvm-option") {
      flags->jvmOptions.push_back(value);
    } else if (arg == "--sandbox") {
      flags->sandbox = value;
    } else if (arg == "--id") {
      flags->id = value;
    } else {
      *error = "unknown option " + arg;
      return false;
    }
  }
  if (flags->command.empty()) {
    *error = "no COMMAND given (after --)";
    return false;
  }
  // What goes into dvdi's JSON requests must be UTF-8.
  std::vector<std::pair<std::string, std::string> > texts = {
    {"--config", flags->config}, {"--sandbox", flags->sandbox}, {"--id", flags->id}};
  for (std::map<std::string, std::string>::const_iterator it = flags->settings.begin();
       it != flags->settings.end(); ++it) {
    texts.push_back(std::make_pair(std::string("--set"), it->first + "=" + it->second));
  }
  for (size_t i = 0; i < texts.size(); i++) {
    if (!dvdi::utf::valid(texts[i].second)) {
      *error = texts[i].first + " '" + dvdi::utf::printable(texts[i].second) + "' is not valid UTF-8";
      return false;
    }
  }
  return true;
}


double nowMs()
{
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec * 1e3 + t.tv_nsec / 1e6;
}


// The DVDI_VOLUME_* variables of our environment.
std::vector<dvdi::TaskText> dvdiVariables()
{
  std::vector<dvdi::TaskText> variables;
  for (char** e = environ; *e != nullptr; e++) {
    std::string entry = *e;
    size_t eq = entry.find('=');
    if (eq != std::string::npos && dvdi::isDvdiVariable(entry.substr(0, eq))) {
      variables.push_back(dvdi::TaskText{entry.substr(0, eq), entry.substr(eq + 1)});
    }
  }
  return variables;
}


// The variables as a Mesos Environment message's variables.
json environmentVariables(const std::vector<dvdi::TaskText>& variables)
{
  json out = json::array();
  for (const dvdi::TaskText& v : variables) {
    out.push_back(json{{"name", v.field}, {"type", "VALUE"}, {"value", v.value}});
  }
  return out;
}


int removeOne(const char* path, const struct stat*, int type, struct FTW*)
{
  if ((type == FTW_DP ? ::rmdir(path) : ::unlink(path)) != 0) {
    fprintf(stderr, "dvdi-demo: cannot remove %s: %s\n", path, strerror(errno));
  }
  return 0;
}


// Removes the temporary sandbox, never crossing into a mounted filesystem.
void removeTree(const std::string& path)
{
  ::nftw(path.c_str(), removeOne, 16, FTW_DEPTH | FTW_PHYS | FTW_MOUNT);
}


// ---------------------------------------------------------------- the child

// Only async-signal-safe calls between fork() and exec.
void childFail(const char* step, const char* what)
{
  int saved = errno;
  char number[16];
  int n = 0;
  int e = saved;
  char digits[16];
  do {
    digits[n++] = static_cast<char>('0' + e % 10);
    e /= 10;
  } while (e > 0 && n < 15);
  for (int i = 0; i < n; i++) {
    number[i] = digits[n - 1 - i];
  }
  number[n] = '\0';
  const char* parts[] = {"dvdi-demo: ", step, " ", what, " failed: errno ", number, "\n"};
  for (size_t i = 0; i < sizeof(parts) / sizeof(parts[0]); i++) {
    ssize_t ignored = ::write(2, parts[i], strlen(parts[i]));
    (void) ignored;
  }
  _exit(127);
}


void runChild(
    const std::vector<Mount>& mounts,
    const std::string& sandbox,
    const std::vector<char*>& argv,
    const std::vector<char*>& envp)
{
  // Back to defaults: the command gets a clean signal state.
  struct sigaction dflt;
  memset(&dflt, 0, sizeof(dflt));
  dflt.sa_handler = SIG_DFL;
  const int reset[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGPIPE, SIGXFSZ};
  for (size_t i = 0; i < sizeof(reset) / sizeof(reset[0]); i++) {
    ::sigaction(reset[i], &dflt, nullptr);
  }
  sigset_t none;
  sigemptyset(&none);
  ::sigprocmask(SIG_SETMASK, &none, nullptr);

  if (::unshare(CLONE_NEWNS) != 0) {
    childFail("unshare(CLONE_NEWNS)", "");
  }
  // Nothing mounted here propagates back to the host.
  if (::mount(nullptr, "/", nullptr, MS_REC | MS_SLAVE, nullptr) != 0) {
    childFail("making / rslave", "");
  }
  for (size_t i = 0; i < mounts.size(); i++) {
    const Mount& m = mounts[i];
    unsigned long bind = m.flags & (MS_BIND | MS_REC);
    if (::mount(m.source.c_str(), m.target.c_str(), nullptr, bind | MS_BIND, nullptr) != 0) {
      childFail("bind mount to", m.target.c_str());
    }
    if ((m.flags & MS_RDONLY) != 0
        && ::mount(nullptr, m.target.c_str(), nullptr, MS_REMOUNT | MS_BIND | MS_RDONLY, nullptr) != 0) {
      childFail("read-only remount of", m.target.c_str());
    }
  }
  if (::chdir(sandbox.c_str()) != 0) {
    childFail("chdir to", sandbox.c_str());
  }
  ::execvpe(argv[0], argv.data(), envp.data());
  childFail("exec of", argv[0]);
}


volatile sig_atomic_t childPid = 0;

void forwardSignal(int signal)
{
  if (childPid > 0) {
    ::kill(childPid, signal);
  }
}


std::string describeVolumes(const json& volumes)
{
  std::string out;
  for (size_t i = 0; i < volumes.size(); i++) {
    const json& v = volumes[i];
    out += (i == 0 ? "" : ", ") + v.value("driver", std::string("?")) + "/" + v.value("name", std::string("?"));
    std::string target = v.value("target", std::string());
    out += " (" + v.value("host_path", std::string("?"))
      + (target.empty() ? "" : " -> " + target)
      + (v.value("read_only", false) ? ", read-only" : "")
      + (v.value("fast_path", false) ? ", mounted already" : "") + ")";
  }
  return out.empty() ? "no volumes" : out;
}


int fail(const std::string& what)
{
  fprintf(stderr, "%s\n", what.c_str());
  return EXIT_DVDI_FAILED;
}

} // namespace {


int main(int argc, char** argv)
{
  Flags flags;
  std::string error;
  if (!parseFlags(argc, argv, &flags, &error)) {
    if (error.empty()) {
      fputs(USAGE, stdout);
      return 0;
    }
    fprintf(stderr, "dvdi-demo: %s\n%s", error.c_str(), USAGE);
    return 2;
  }

  // Checked before the JVM starts: Java would read other bytes as U+FFFD.
  std::vector<dvdi::TaskText> variables = dvdiVariables();
  if (!dvdi::checkUtf8(variables, &error)) {
    return fail(error);
  }

  bool temporarySandbox = flags.sandbox.empty();
  if (temporarySandbox) {
    char pattern[] = "/tmp/dvdi-demo-XXXXXX";
    if (::mkdtemp(pattern) == nullptr) {
      return fail(std::string("dvdi-demo: cannot make a sandbox: ") + strerror(errno));
    }
    flags.sandbox = pattern;
  } else {
    char real[PATH_MAX];
    if (::realpath(flags.sandbox.c_str(), real) == nullptr) {
      return fail("dvdi-demo: sandbox " + dvdi::utf::printable(flags.sandbox) + ": " + strerror(errno));
    }
    flags.sandbox = real;
    if (!dvdi::utf::valid(flags.sandbox)) {
      return fail("dvdi-demo: sandbox " + dvdi::utf::printable(flags.sandbox) + " is not valid UTF-8");
    }
  }
  std::string id = flags.id.empty() ? "dvdi-demo-" + std::to_string(::getpid()) : flags.id;

  // The bridge, as the isolator module would create it.
  json init;
  init["config_file"] = flags.config;
  init["settings"] = json::object();
  for (std::map<std::string, std::string>::const_iterator it = flags.settings.begin();
       it != flags.settings.end(); ++it) {
    init["settings"][it->first] = it->second;
  }
  init["native_log"] = true;

  dvdi::BridgeOptions options;
  options.jar = flags.jar.empty() ? DVDI_DEFAULT_JAR : flags.jar;
  options.libjvm = flags.libjvm;
  options.jvmOptions = flags.jvmOptions;
  options.initArgs = init.dump();
  bool verbose = flags.verbose;
  options.log = [verbose](int level, const std::string& message) {
    if (level > 0 || verbose) {
      fprintf(stderr, "dvdi-demo: [%s] %s\n", level > 1 ? "error" : level > 0 ? "warning" : "info",
              message.c_str());
    }
  };

  int status = EXIT_DVDI_FAILED;
  double started = nowMs();
  dvdi::Bridge* bridge = dvdi::Bridge::create(options, &error);
  if (bridge == nullptr) {
    if (temporarySandbox) {
      removeTree(flags.sandbox);
    }
    return fail(error);
  }
  double ready = nowMs();

  json request;
  request["container_id"]["value"] = id;
  request["container_config"]["directory"] = flags.sandbox;
  request["container_config"]["user"] = "root";
  request["container_config"]["command_info"]["environment"]["variables"] = environmentVariables(variables);

  dvdi::Reply prepared = bridge->callSync("prepare", request.dump(), CALL_TIMEOUT_MS);
  double preparedAt = nowMs();
  if (!prepared.ok) {
    fprintf(stderr, "%s\n", prepared.describe().c_str());
    // A prepare that timed out may still finish: clean up in any case.
    bridge->callSync("cleanup", json{{"container_id", {{"value", id}}}}.dump(), CALL_TIMEOUT_MS);
    if (temporarySandbox) {
      removeTree(flags.sandbox);
    }
    return EXIT_DVDI_FAILED;
  }

  json result = json::parse(prepared.result, nullptr, false);
  std::vector<Mount> mounts;
  std::map<std::string, std::string> environment;
  for (char** e = environ; *e != nullptr; e++) {
    std::string entry = *e;
    size_t eq = entry.find('=');
    if (eq != std::string::npos) {
      environment[entry.substr(0, eq)] = entry.substr(eq + 1);
    }
  }
  if (result.is_object() && result.contains("launch_info")) {
    const json& li = result["launch_info"];
    if (li.contains("mounts")) {
      for (size_t i = 0; i < li["mounts"].size(); i++) {
        const json& m = li["mounts"][i];
        Mount mount;
        mount.source = m.value("source", std::string());
        mount.target = m.value("target", std::string());
        mount.flags = m.value("flags", static_cast<unsigned long>(MS_BIND | MS_REC));
        mounts.push_back(mount);
      }
    }
    if (li.contains("environment")) {
      const json& vars = li["environment"]["variables"];
      for (size_t i = 0; i < vars.size(); i++) {
        environment[vars[i].value("name", std::string())] = vars[i].value("value", std::string());
      }
    }
  }

  // Everything the child needs, made before fork(): after it only
  // async-signal-safe calls are made.
  std::vector<char*> childArgv;
  for (size_t i = 0; i < flags.command.size(); i++) {
    childArgv.push_back(const_cast<char*>(flags.command[i].c_str()));
  }
  childArgv.push_back(nullptr);
  std::vector<std::string> envStrings;
  for (std::map<std::string, std::string>::const_iterator it = environment.begin();
       it != environment.end(); ++it) {
    envStrings.push_back(it->first + "=" + it->second);
  }
  std::vector<char*> childEnvp;
  for (size_t i = 0; i < envStrings.size(); i++) {
    childEnvp.push_back(const_cast<char*>(envStrings[i].c_str()));
  }
  childEnvp.push_back(nullptr);

  // Ctrl-C and kill reach the command; we stay to clean up.
  struct sigaction forward;
  memset(&forward, 0, sizeof(forward));
  forward.sa_handler = forwardSignal;
  sigemptyset(&forward.sa_mask);
  forward.sa_flags = SA_RESTART;
  const int forwarded[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT};
  for (size_t i = 0; i < sizeof(forwarded) / sizeof(forwarded[0]); i++) {
    ::sigaction(forwarded[i], &forward, nullptr);
  }

  std::string commandStatus;
  pid_t pid = ::fork();
  if (pid < 0) {
    commandStatus = std::string("not run (fork failed: ") + strerror(errno) + ")";
  } else if (pid == 0) {
    runChild(mounts, flags.sandbox, childArgv, childEnvp);
  } else {
    childPid = pid;
    int wstatus = 0;
    pid_t r;
    do {
      r = ::waitpid(pid, &wstatus, 0);
    } while (r < 0 && errno == EINTR);
    childPid = 0;
    if (r < 0) {
      commandStatus = std::string("lost (waitpid: ") + strerror(errno) + ")";
    } else if (WIFEXITED(wstatus)) {
      status = WEXITSTATUS(wstatus);
      commandStatus = "exited " + std::to_string(status);
    } else if (WIFSIGNALED(wstatus)) {
      status = 128 + WTERMSIG(wstatus);
      commandStatus = std::string("killed by signal ") + std::to_string(WTERMSIG(wstatus));
    }
  }
  double ran = nowMs();

  dvdi::Reply cleaned = bridge->callSync(
      "cleanup", json{{"container_id", {{"value", id}}}}.dump(), CALL_TIMEOUT_MS);
  double done = nowMs();
  std::string cleanup;
  if (cleaned.ok) {
    json c = json::parse(cleaned.result, nullptr, false);
    cleanup = "released " + (c.is_object() ? c["released"].dump() : std::string("?"));
    if (c.is_object() && !c["failures"].empty()) {
      cleanup += ", failures " + c["failures"].dump();
      status = EXIT_DVDI_FAILED;
    }
  } else {
    cleanup = cleaned.describe();
    status = EXIT_DVDI_FAILED;
  }

  if (temporarySandbox) {
    removeTree(flags.sandbox);
  }

  char timing[160];
  snprintf(timing, sizeof(timing), "JVM+init %.0f ms, prepare %.1f ms, command %.0f ms, cleanup %.1f ms",
           ready - started, preparedAt - ready, ran - preparedAt, done - ran);
  fprintf(stderr, "dvdi-demo: container %s: %s; command %s; cleanup %s; %s\n",
          id.c_str(), describeVolumes(result.is_object() ? result["volumes"] : json::array()).c_str(),
          commandStatus.c_str(), cleanup.c_str(), timing);
  return status;
}
