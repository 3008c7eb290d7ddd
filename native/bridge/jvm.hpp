// The process's JVM: found, started (or reused) and attached to.
//
// Shape of Mesos's src/jvm/jvm.{hpp,cpp} (one JVM per process, never
// destroyed, libjvm located at run time), not its failure handling: nothing
// here exits or aborts the process; failures are returned as descriptions.
//
//   * libjvm is dlopen'ed once and never dlclose'd. If the process has a
//     libjvm loaded already, that one is used (two in one process cannot
//     work).
//   * The JVM is created on a dedicated thread with an explicit stack size,
//     never on the caller's thread, with -Xrs (no signal handlers for
//     SIGINT/SIGTERM/SIGHUP/SIGQUIT: the host's stay in charge) and the jar as
//     the whole class path. If the process has a JVM already it is reused,
//     and the jar is loaded through a new URLClassLoader.
//   * The JVM's own output (warnings, -Xcheck:jni reports) goes to the
//     bridge's log through its vfprintf hook. If the JVM gives up while
//     starting (it would call exit()/abort()), its abort/exit hook ends only
//     the starting thread and start() reports the failure.
//   * Threads attach once (as daemons) and are detached when they exit.

#ifndef DVDI_BRIDGE_JVM_HPP
#define DVDI_BRIDGE_JVM_HPP

#include <jni.h>
#include <stddef.h>

#include <functional>
#include <string>
#include <vector>

namespace dvdi {

// The JNI version the bridge asks for.
const jint JNI_VERSION = JNI_VERSION_1_8;


struct JvmOptions
{
  std::string libjvm;               // empty: look it up (see findLibjvm)
  std::string jar;                  // the class path: exactly this file
  std::vector<std::string> options; // extra JVM options
  int timeoutMs = 300000;           // how long start() waits
};


// The libjvm.so candidates in lookup order: `explicitPath` if given; else
// $JAVA_HOME/lib/server/libjvm.so, /usr/lib/jvm/default-java/lib/server/
// libjvm.so, and the one of the JDK /usr/bin/java resolves to.
std::vector<std::string> libjvmCandidates(const std::string& explicitPath);

// The first existing candidate (its realpath); false with *error listing
// what was tried.
bool findLibjvm(
    const std::string& explicitPath,
    std::string* path,
    std::string* error);

// The bridge's default JVM options (besides -Xrs and the class path).
std::vector<std::string> defaultJvmOptions();

// The class-data sharing archive the build made beside `jar` (dvdi.jsa for dvdi.jar), or ""
// when there is none.
std::string cdsArchiveFor(const std::string& jar);

// What an option sets, so that a user's option replaces the default of the
// same kind: "-Xmx", "-Xss", "-Xshare", "gc" (any -XX:+Use...GC),
// "-XX:<Flag>", "-D<key>"; otherwise the option itself.
std::string jvmOptionKind(const std::string& option);

// The full option list: -Xrs, -Djava.class.path=<jar>, the defaults the user
// did not replace, then the user's options. False with *error if the user
// tries to set the class path.
bool jvmOptions(
    const std::vector<std::string>& user,
    const std::string& jar,
    std::vector<std::string>* out,
    std::string* error);

// Checks the jar (exists, a regular file, usable as a one-entry class path)
// and returns its realpath.
bool checkJar(const std::string& jar, std::string* path, std::string* error);

// Starts a detached thread named `name` with a stack of `stackBytes`.
bool startThread(
    const std::string& name,
    size_t stackBytes,
    const std::function<void()>& body,
    std::string* error);


class Jvm
{
public:
  // The process's JVM, started (or found) on the first call, on a dedicated
  // thread; blocks until it is ready. Later calls return the same one (the
  // caller compares jar() and libjvm() with what it wanted). nullptr with
  // *error on failure. Once JNI_CreateJavaVM was called and failed, the JVM
  // cannot be started again in this process: every later call fails too.
  // Failures before that (no jar, no libjvm) may be retried.
  static Jvm* start(const JvmOptions& options, std::string* error);

  // The JVM if it was started, else nullptr.
  static Jvm* current();

  // Attaches the calling thread as a daemon thread named `name` unless it is
  // attached; it is detached when the thread exits. nullptr with *error.
  JNIEnv* attach(const std::string& name, std::string* error);

  // Loads a class of the jar (binary name, "org.dvdi.core.bridge.Facade")
  // through the jar's class loader, without initialising it. Returns a global
  // reference (never deleted), or nullptr with *error (no exception pending).
  jclass loadClass(JNIEnv* env, const std::string& name, std::string* error);

  JavaVM* vm() const { return javaVm; }
  const std::string& jar() const { return jarPath; }
  const std::string& libjvm() const { return libjvmPath; }
  bool reused() const { return wasReused; }
  double startMs() const { return startMillis; }

private:
  Jvm() : javaVm(nullptr), loader(nullptr), wasReused(false), startMillis(0) {}
  Jvm(const Jvm&);
  Jvm& operator=(const Jvm&);

  struct Start;
  static void startOnThread(Start* start);

  JavaVM* javaVm;
  jobject loader; // global: the system class loader, or a URLClassLoader
  std::string jarPath;
  std::string libjvmPath;
  bool wasReused;
  double startMillis;
};

} // namespace dvdi {

#endif // DVDI_BRIDGE_JVM_HPP
