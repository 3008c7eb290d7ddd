// The dvdi bridge: the Mesos-independent seam between a C++ host (the Mesos
// isolator module, dvdi-demo, tests) and dvdi's Java management layer in an
// embedded JVM.
//
// The bridge finds libjvm at run time, starts the JVM once per process on a
// dedicated thread (or reuses the one the process already has), owns a few
// attached bridge threads, and calls org.dvdi.core.bridge.Facade. What
// crosses is JSON text (UTF-8) and replies {ok, code, message, result}: a Java
// failure is a Reply with an ErrorCode name, never an abort, an exit or a C++
// exception.
//
// This header has no JNI (and no Mesos) types; only the bridge's own sources
// include <jni.h>.

#ifndef DVDI_BRIDGE_BRIDGE_HPP
#define DVDI_BRIDGE_BRIDGE_HPP

#include <stdint.h>

#include <functional>
#include <string>
#include <vector>

namespace dvdi {

// Receives the bridge's and the Java side's log lines. `level`: 0 info,
// 1 warning, 2 error. Called from any thread (bridge threads, JVM threads),
// concurrently: it must be thread-safe and quick.
typedef std::function<void(int level, const std::string& message)> LogSink;

// Log levels of a LogSink.
enum LogLevel
{
  LOG_INFO = 0,
  LOG_WARNING = 1,
  LOG_ERROR = 2,
};


struct BridgeOptions
{
  // libjvm.so to load. Empty: $JAVA_HOME/lib/server/libjvm.so, else
  // /usr/lib/jvm/default-java/lib/server/libjvm.so, else the one beside the
  // realpath of /usr/bin/java. Ignored (with a warning when it differs) if
  // the process has a libjvm loaded already.
  std::string libjvm;

  // The dvdi jar (java/dvdi-dist/target/dvdi.jar): the JVM's class path,
  // exactly this one file. Required.
  std::string jar;

  // Extra JVM options, e.g. "-Xcheck:jni", "-Xmx128m". They replace the
  // bridge's default of the same kind (-Xmx, -Xss, the GC, -XX:Flag, -Dkey);
  // "-Xrs" and "-Djava.class.path=<jar>" are always set and the class path may
  // not be given here. Used only when this process starts the JVM.
  std::vector<std::string> jvmOptions;

  // JSON for Facade.init: {"config_file": "...", "settings": {...},
  // "native_log": true}. Empty means "{}".
  std::string initArgs;

  // Bridge threads that call into Java (each attached to the JVM once).
  int threads = 2;

  // Where log lines go; default: stderr.
  LogSink log;

  // How long create() waits for the JVM to start and for Facade.init.
  int startTimeoutMs = 300000;
};


// The outcome of a bridge call. `ok`: `result` holds the method's result
// JSON. Otherwise `code` is an org.dvdi.spi.ErrorCode name (INVALID_REQUEST,
// INVALID_CONFIG, VOLUME_NOT_FOUND, VOLUME_BUSY, PROVIDER_FAILURE, TIMEOUT,
// INTERNAL) and `message` says what failed.
struct Reply
{
  bool ok;
  std::string code;
  std::string message;
  std::string result;

  // "dvdi <CODE>: <message>" for a failure, "ok" for a success.
  std::string describe() const;

  static Reply success(const std::string& result);
  static Reply failure(const std::string& code, const std::string& message);
};


// Runs once per call, on a JVM thread, a bridge thread or the bridge's timer
// thread (a call that timed out), never on the caller's thread. It must not block for long (it holds up dvdi's threads)
// and must not call Bridge::callSync.
typedef std::function<void(const Reply&)> Callback;


class Bridge
{
public:
  // Returns the process's bridge, starting the JVM and calling Facade.init
  // the first time. Later calls return the same bridge: an error if `jar` or
  // `libjvm` differ from the running one; Facade.init is called again when
  // `initArgs` differ (Java refuses other parameters with INVALID_CONFIG) or
  // when the earlier init failed (the JVM stays; init may be retried).
  // On failure returns nullptr and sets *error to "dvdi <CODE>: <message>":
  // Facade.init's code (INVALID_CONFIG for a refused configuration), or
  // INVALID_CONFIG when the jar or libjvm is missing or the JVM refuses its
  // options (then no JVM can be started in this process any more: the JVM
  // cannot be created twice). Nothing here exits or aborts the process.
  static Bridge* create(const BridgeOptions& options, std::string* error);

  // Starts `method` ("prepare", "cleanup", "recover", "metrics", "ping") with
  // a JSON request. Returns after an enqueue; `done` runs exactly once.
  // `timeoutMs` > 0 is the call's deadline: if Java has not completed the
  // call by then, `done` gets a TIMEOUT reply (the call itself may go on in
  // Java; its late reply is logged and ignored). 0: no deadline.
  void call(
      const std::string& method,
      const std::string& request,
      const Callback& done,
      int timeoutMs = 0);

  // call() with the deadline `timeoutMs`, and wait: for tools and tests.
  // Must not be called from a Callback or a bridge thread (it returns
  // INTERNAL there rather than deadlock).
  Reply callSync(
      const std::string& method,
      const std::string& request,
      int timeoutMs);

  // Facade.init's result: {"instance_id", "state_dir", "mount_root",
  // "providers", "repairs", "recover_bound_ms"}.
  const std::string& initResult() const;

  // The jar and libjvm in use; whether the JVM was there before the bridge.
  const std::string& jar() const;
  const std::string& libjvm() const;
  bool jvmReused() const;

  // How long starting the JVM (JNI_CreateJavaVM, class loading) took.
  double jvmStartMs() const;

  // Calls Java has not completed yet (also those that timed out: until their
  // late reply arrives).
  int64_t pending() const;

private:
  Bridge();
  Bridge(const Bridge&);
  Bridge& operator=(const Bridge&);
  ~Bridge(); // never: the bridge lives as long as the process

  struct Impl;
  Impl* impl;

  friend struct BridgeNatives;
};

} // namespace dvdi {

#endif // DVDI_BRIDGE_BRIDGE_HPP
