#include "jvm.hpp"

#include <cxxabi.h>
#include <dlfcn.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <time.h>

#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <set>

#include "jni_util.hpp"
#include "log.hpp"

namespace dvdi {

namespace {

// Stack of the thread that creates the JVM (it becomes the JVM's "main"
// thread while it runs).
const size_t START_STACK_BYTES = 8 * 1024 * 1024;

typedef jint (JNICALL *CreateJavaVM)(JavaVM**, void**, void*);
typedef jint (JNICALL *GetCreatedJavaVMs)(JavaVM**, jsize, jsize*);


std::string realPath(const std::string& path)
{
  char buffer[PATH_MAX];
  if (::realpath(path.c_str(), buffer) == nullptr) {
    return std::string();
  }
  return buffer;
}


bool isFile(const std::string& path)
{
  struct stat s;
  return ::stat(path.c_str(), &s) == 0 && S_ISREG(s.st_mode);
}


bool startsWith(const std::string& s, const std::string& prefix)
{
  return s.compare(0, prefix.size(), prefix) == 0;
}


bool endsWith(const std::string& s, const std::string& suffix)
{
  return s.size() >= suffix.size()
    && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}


std::string dirname(const std::string& path)
{
  size_t slash = path.rfind('/');
  if (slash == std::string::npos) {
    return ".";
  }
  return slash == 0 ? "/" : path.substr(0, slash);
}


std::string jniError(jint code)
{
  switch (code) {
    case JNI_ERR: return "JNI_ERR (unknown error)";
    case JNI_EDETACHED: return "JNI_EDETACHED (thread detached from the VM)";
    case JNI_EVERSION: return "JNI_EVERSION (JNI version error)";
    case JNI_ENOMEM: return "JNI_ENOMEM (not enough memory)";
    case JNI_EEXIST: return "JNI_EEXIST (VM already created)";
    case JNI_EINVAL: return "JNI_EINVAL (invalid arguments)";
    default: return "error " + std::to_string(code);
  }
}


double millisSince(const struct timespec& start)
{
  struct timespec now;
  clock_gettime(CLOCK_MONOTONIC, &now);
  return (now.tv_sec - start.tv_sec) * 1e3 + (now.tv_nsec - start.tv_nsec) / 1e6;
}


// ---------------------------------------------------------------- hooks

// The JVM's printed output, a line at a time per thread.
thread_local std::string* jvmOutput = nullptr;


jint JNICALL vfprintfHook(FILE* stream, const char* format, va_list args)
{
  (void) stream;
  char buffer[1024];
  va_list copy;
  va_copy(copy, args);
  int n = vsnprintf(buffer, sizeof(buffer), format, copy);
  va_end(copy);
  if (n < 0) {
    return n;
  }
  std::string text;
  if (static_cast<size_t>(n) < sizeof(buffer)) {
    text.assign(buffer, static_cast<size_t>(n));
  } else {
    std::vector<char> big(static_cast<size_t>(n) + 1);
    vsnprintf(big.data(), big.size(), format, args);
    text.assign(big.data(), static_cast<size_t>(n));
  }

  if (jvmOutput == nullptr) {
    jvmOutput = new std::string(); // one per thread that prints; small
  }
  jvmOutput->append(text);
  size_t newline;
  while ((newline = jvmOutput->find('\n')) != std::string::npos) {
    std::string line = jvmOutput->substr(0, newline);
    jvmOutput->erase(0, newline + 1);
    if (!line.empty()) {
      log::warning("jvm: " + line);
    }
  }
  return n;
}


// Set on the starting thread while JNI_CreateJavaVM runs.
thread_local std::function<void(const std::string&)>* startFailed = nullptr;


void JNICALL abortHook()
{
  if (startFailed != nullptr) {
    (*startFailed)("the JVM gave up while starting (it would have aborted the process; see its messages above)");
    pthread_exit(nullptr); // ends only the starting thread
  }
  log::error("the JVM is aborting the process");
}


void JNICALL exitHook(jint code)
{
  if (startFailed != nullptr) {
    (*startFailed)("the JVM gave up while starting (it would have exited the process with status "
                   + std::to_string(code) + "; see its messages above)");
    pthread_exit(nullptr);
  }
  log::error("the JVM is exiting the process with status " + std::to_string(code)
             + " (System.exit or Runtime.halt in Java code?)");
}


// ---------------------------------------------------------------- attach

pthread_key_t attachKey;
pthread_once_t attachKeyOnce = PTHREAD_ONCE_INIT;


void detachAtExit(void* vm)
{
  static_cast<JavaVM*>(vm)->DetachCurrentThread();
}


void makeAttachKey()
{
  pthread_key_create(&attachKey, detachAtExit);
}


struct ThreadBody
{
  std::string name;
  std::function<void()> body;
};


void* runThread(void* arg)
{
  std::unique_ptr<ThreadBody> t(static_cast<ThreadBody*>(arg));
  pthread_setname_np(pthread_self(), t->name.substr(0, 15).c_str());
  try {
    t->body();
  } catch (abi::__forced_unwind&) {
    throw; // pthread_exit: let it unwind
  } catch (...) {
    log::error("thread " + t->name + " ended with an exception");
  }
  return nullptr;
}

} // namespace {


std::vector<std::string> libjvmCandidates(const std::string& explicitPath)
{
  std::vector<std::string> out;
  if (!explicitPath.empty()) {
    out.push_back(explicitPath);
    return out;
  }
  const char* javaHome = ::getenv("JAVA_HOME");
  if (javaHome != nullptr && javaHome[0] != '\0') {
    out.push_back(std::string(javaHome) + "/lib/server/libjvm.so");
  }
  out.push_back("/usr/lib/jvm/default-java/lib/server/libjvm.so");
  std::string java = realPath("/usr/bin/java");
  if (endsWith(java, "/bin/java")) {
    out.push_back(dirname(dirname(java)) + "/lib/server/libjvm.so");
  }
  return out;
}


bool findLibjvm(
    const std::string& explicitPath,
    std::string* path,
    std::string* error)
{
  std::vector<std::string> candidates = libjvmCandidates(explicitPath);
  std::string tried;
  for (size_t i = 0; i < candidates.size(); i++) {
    if (isFile(candidates[i])) {
      *path = realPath(candidates[i]);
      return true;
    }
    tried += (tried.empty() ? "" : ", ") + candidates[i];
  }
  if (!explicitPath.empty()) {
    *error = "libjvm '" + explicitPath + "' does not exist";
  } else {
    *error = "cannot find libjvm.so (tried " + tried
      + "); set JAVA_HOME or give the libjvm path";
  }
  return false;
}


std::string cdsArchiveFor(const std::string& jar)
{
  if (!endsWith(jar, ".jar")) {
    return "";
  }
  std::string archive = jar.substr(0, jar.size() - 4) + ".jsa";
  struct stat s;
  return ::stat(archive.c_str(), &s) == 0 && S_ISREG(s.st_mode) ? archive : "";
}


std::vector<std::string> defaultJvmOptions()
{
  std::vector<std::string> d;
  d.push_back("-Xmx64m");                     // dvdi's heap needs are small
  d.push_back("-Xms8m");                      // grow on demand: lower RSS
  d.push_back("-Xss512k");
  d.push_back("-XX:+UseSerialGC");            // no GC worker threads
  d.push_back("-XX:TieredStopAtLevel=1");     // C1 only: fast warm-up, less memory
  d.push_back("-XX:CICompilerCount=1");
  d.push_back("-XX:ReservedCodeCacheSize=32m");
  d.push_back("-XX:MaxMetaspaceSize=64m");
  d.push_back("-Xshare:auto");                // the JDK's CDS archive when usable
  d.push_back("-XX:-UsePerfData");            // no /tmp/hsperfdata file
  d.push_back("-Dfile.encoding=UTF-8");       // whatever the host's locale
  return d;
}


std::string jvmOptionKind(const std::string& option)
{
  static const char* sized[] = {"-Xmx", "-Xms", "-Xss", "-Xmn"};
  for (size_t i = 0; i < sizeof(sized) / sizeof(sized[0]); i++) {
    if (startsWith(option, sized[i])) {
      return sized[i];
    }
  }
  if (startsWith(option, "-Xshare:")) {
    return "-Xshare";
  }
  if (startsWith(option, "-XX:")) {
    std::string flag = option.substr(4);
    if (!flag.empty() && (flag[0] == '+' || flag[0] == '-')) {
      flag = flag.substr(1);
    }
    size_t eq = flag.find('=');
    if (eq != std::string::npos) {
      flag = flag.substr(0, eq);
    }
    if (startsWith(flag, "Use") && endsWith(flag, "GC") && flag.size() > 5) {
      return "gc";
    }
    return "-XX:" + flag;
  }
  if (startsWith(option, "-D")) {
    size_t eq = option.find('=');
    return eq == std::string::npos ? option : option.substr(0, eq);
  }
  return option;
}


bool jvmOptions(
    const std::vector<std::string>& user,
    const std::string& jar,
    std::vector<std::string>* out,
    std::string* error)
{
  std::set<std::string> given;
  for (size_t i = 0; i < user.size(); i++) {
    const std::string& o = user[i];
    if (startsWith(o, "-Djava.class.path=") || o == "-cp" || o == "-classpath"
        || startsWith(o, "--class-path") || o == "-jar") {
      *error = "JVM option '" + o + "' is not allowed: the class path is the dvdi jar alone";
      return false;
    }
    if (o.empty()) {
      *error = "empty JVM option";
      return false;
    }
    given.insert(jvmOptionKind(o));
  }

  out->clear();
  out->push_back("-Xrs");
  out->push_back("-Djava.class.path=" + jar);
  // dvdi.jsa beside the jar: the class-data sharing archive the build made for it. A JVM it
  // does not match (another JDK, a rebuilt jar) ignores it, quietly.
  std::string archive = cdsArchiveFor(jar);
  if (!archive.empty() && given.count("-XX:SharedArchiveFile") == 0 && given.count("-Xshare") == 0) {
    out->push_back("-XX:SharedArchiveFile=" + archive);
    out->push_back("-Xlog:cds=off");
    out->push_back("-Xlog:cds+dynamic=off");
  }
  std::vector<std::string> defaults = defaultJvmOptions();
  for (size_t i = 0; i < defaults.size(); i++) {
    if (given.count(jvmOptionKind(defaults[i])) == 0) {
      out->push_back(defaults[i]);
    }
  }
  for (size_t i = 0; i < user.size(); i++) {
    if (user[i] != "-Xrs") {
      out->push_back(user[i]);
    }
  }
  return true;
}


bool checkJar(const std::string& jar, std::string* path, std::string* error)
{
  if (jar.empty()) {
    *error = "no dvdi jar given (java/dvdi-dist/target/dvdi.jar)";
    return false;
  }
  if (!isFile(jar)) {
    *error = "the dvdi jar '" + jar + "' does not exist or is not a file";
    return false;
  }
  std::string real = realPath(jar);
  if (real.find(':') != std::string::npos || real.find('*') != std::string::npos) {
    *error = "the dvdi jar path '" + real + "' contains ':' or '*'; it must be one plain file path";
    return false;
  }
  *path = real;
  return true;
}


bool startThread(
    const std::string& name,
    size_t stackBytes,
    const std::function<void()>& body,
    std::string* error)
{
  pthread_attr_t attr;
  pthread_attr_init(&attr);
  pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
  int rc = pthread_attr_setstacksize(&attr, stackBytes);
  if (rc != 0) {
    pthread_attr_destroy(&attr);
    *error = "cannot set a stack of " + std::to_string(stackBytes) + " bytes for thread " + name;
    return false;
  }
  ThreadBody* t = new ThreadBody();
  t->name = name;
  t->body = body;
  pthread_t thread;
  rc = pthread_create(&thread, &attr, runThread, t);
  pthread_attr_destroy(&attr);
  if (rc != 0) {
    delete t;
    *error = "cannot start thread " + name + ": error " + std::to_string(rc);
    return false;
  }
  return true;
}


// ---------------------------------------------------------------- Jvm

// One start attempt, shared by the waiting caller and the starting thread.
struct Jvm::Start
{
  JvmOptions options;
  std::string jar;
  std::string libjvm;

  std::mutex mutex;
  std::condition_variable cv;
  bool done = false;
  bool fatal = false; // the JVM cannot be started again in this process
  std::string error;
  Jvm* jvm = nullptr;

  void finish(Jvm* j, const std::string& e, bool f)
  {
    std::lock_guard<std::mutex> lock(mutex);
    if (done) {
      return;
    }
    jvm = j;
    error = e;
    fatal = f;
    done = true;
    cv.notify_all();
  }
};


namespace {

std::mutex& startMutex()
{
  static std::mutex* m = new std::mutex();
  return *m;
}

Jvm* instance = nullptr;
std::string* fatalError = nullptr;


// The jar's class loader in a JVM someone else started: a URLClassLoader
// over the jar whose parent is the platform class loader (so the host
// application's class path cannot shadow the jar's classes).
jobject urlClassLoader(JNIEnv* env, const std::string& jar, std::string* error)
{
  jni::LocalFrame frame(env, 16);
  if (!frame.ok()) {
    *error = frame.error();
    return nullptr;
  }
  std::string e;
  jclass fileClass = nullptr, uriClass = nullptr, urlClass = nullptr;
  jclass loaderClass = nullptr, classLoaderClass = nullptr;
  jmethodID fileInit = nullptr, toUri = nullptr, toUrl = nullptr, loaderInit = nullptr;
  if ((fileClass = jni::findClass(env, "java/io/File", error)) == nullptr
      || (uriClass = jni::findClass(env, "java/net/URI", error)) == nullptr
      || (urlClass = jni::findClass(env, "java/net/URL", error)) == nullptr
      || (loaderClass = jni::findClass(env, "java/net/URLClassLoader", error)) == nullptr
      || (classLoaderClass = jni::findClass(env, "java/lang/ClassLoader", error)) == nullptr
      || (fileInit = jni::methodId(env, fileClass, "<init>", "(Ljava/lang/String;)V", error)) == nullptr
      || (toUri = jni::methodId(env, fileClass, "toURI", "()Ljava/net/URI;", error)) == nullptr
      || (toUrl = jni::methodId(env, uriClass, "toURL", "()Ljava/net/URL;", error)) == nullptr
      || (loaderInit = jni::methodId(env, loaderClass, "<init>",
                                     "([Ljava/net/URL;Ljava/lang/ClassLoader;)V", error)) == nullptr) {
    return nullptr;
  }
  jobject parent = nullptr;
  jmethodID platform = env->GetStaticMethodID(
      classLoaderClass, "getPlatformClassLoader", "()Ljava/lang/ClassLoader;");
  if (platform == nullptr) {
    env->ExceptionClear(); // Java 8: the bootstrap loader (null) is the parent
  } else {
    parent = env->CallStaticObjectMethod(classLoaderClass, platform);
    if (jni::describeException(env, &e)) {
      *error = "ClassLoader.getPlatformClassLoader(): " + e;
      return nullptr;
    }
  }
  jstring path = jni::newString(env, jar, error);
  if (path == nullptr) {
    return nullptr;
  }
  jobject file = env->NewObject(fileClass, fileInit, path);
  if (jni::describeException(env, &e) || file == nullptr) {
    *error = "new File(" + jar + "): " + e;
    return nullptr;
  }
  jobject uri = env->CallObjectMethod(file, toUri);
  if (jni::describeException(env, &e) || uri == nullptr) {
    *error = "File.toURI() of " + jar + ": " + e;
    return nullptr;
  }
  jobject url = env->CallObjectMethod(uri, toUrl);
  if (jni::describeException(env, &e) || url == nullptr) {
    *error = "URI.toURL() of " + jar + ": " + e;
    return nullptr;
  }
  jobjectArray urls = env->NewObjectArray(1, urlClass, url);
  if (jni::describeException(env, &e) || urls == nullptr) {
    *error = "making a URL[]: " + e;
    return nullptr;
  }
  jobject loader = env->NewObject(loaderClass, loaderInit, urls, parent);
  if (jni::describeException(env, &e) || loader == nullptr) {
    *error = "new URLClassLoader(" + jar + "): " + e;
    return nullptr;
  }
  jobject global = env->NewGlobalRef(loader);
  if (global == nullptr) {
    *error = "NewGlobalRef of the class loader failed";
  }
  return global;
}


jobject systemClassLoader(JNIEnv* env, std::string* error)
{
  jni::LocalFrame frame(env, 8);
  if (!frame.ok()) {
    *error = frame.error();
    return nullptr;
  }
  std::string e;
  jclass classLoaderClass = env->FindClass("java/lang/ClassLoader");
  jmethodID system = classLoaderClass == nullptr ? nullptr : env->GetStaticMethodID(
      classLoaderClass, "getSystemClassLoader", "()Ljava/lang/ClassLoader;");
  jobject loader = system == nullptr ? nullptr : env->CallStaticObjectMethod(classLoaderClass, system);
  if (jni::describeException(env, &e) || loader == nullptr) {
    *error = "ClassLoader.getSystemClassLoader(): " + e;
    return nullptr;
  }
  jobject global = env->NewGlobalRef(loader);
  if (global == nullptr) {
    *error = "NewGlobalRef of the class loader failed";
  }
  return global;
}

} // namespace {


void Jvm::startOnThread(Start* start)
{
  struct timespec began;
  clock_gettime(CLOCK_MONOTONIC, &began);

  // A libjvm the process has loaded already (by its soname) wins: two
  // different libjvms in one process cannot both work.
  std::string libjvm = start->libjvm;
  void* handle = ::dlopen("libjvm.so", RTLD_NOW | RTLD_NOLOAD);
  if (handle != nullptr) {
    Dl_info info;
    void* symbol = ::dlsym(handle, "JNI_GetCreatedJavaVMs");
    if (symbol != nullptr && ::dladdr(symbol, &info) != 0 && info.dli_fname != nullptr) {
      std::string loaded = realPath(info.dli_fname);
      if (!loaded.empty() && loaded != libjvm) {
        log::warning("using the libjvm this process has loaded already (" + loaded
                     + "), not " + libjvm);
        libjvm = loaded;
      }
    }
  } else {
    handle = ::dlopen(libjvm.c_str(), RTLD_NOW | RTLD_GLOBAL);
    if (handle == nullptr) {
      const char* e = ::dlerror();
      start->finish(nullptr, "cannot load " + libjvm + ": " + (e == nullptr ? "dlopen failed" : e), false);
      return;
    }
  }
  // Never dlclose'd: the JVM lives as long as the process.

  GetCreatedJavaVMs getCreated =
    reinterpret_cast<GetCreatedJavaVMs>(::dlsym(handle, "JNI_GetCreatedJavaVMs"));
  CreateJavaVM create = reinterpret_cast<CreateJavaVM>(::dlsym(handle, "JNI_CreateJavaVM"));
  if (getCreated == nullptr || create == nullptr) {
    start->finish(nullptr, libjvm + " has no JNI_CreateJavaVM/JNI_GetCreatedJavaVMs", false);
    return;
  }

  std::unique_ptr<Jvm> jvm(new Jvm());
  jvm->jarPath = start->jar;
  jvm->libjvmPath = libjvm;

  JavaVM* vm = nullptr;
  jsize count = 0;
  jint rc = getCreated(&vm, 1, &count);
  JNIEnv* env = nullptr;
  std::string error;

  if (rc == JNI_OK && count > 0 && vm != nullptr) {
    jvm->wasReused = true;
    JavaVMAttachArgs args;
    args.version = JNI_VERSION;
    args.name = const_cast<char*>("dvdi-jvm-setup");
    args.group = nullptr;
    rc = vm->AttachCurrentThreadAsDaemon(reinterpret_cast<void**>(&env), &args);
    if (rc != JNI_OK) {
      start->finish(nullptr, "cannot attach to the process's JVM: " + jniError(rc), false);
      return;
    }
    jvm->loader = urlClassLoader(env, start->jar, &error);
    log::info("reusing the process's JVM; loading " + start->jar + " through a URLClassLoader");
  } else {
    std::vector<std::string> options;
    if (!jvmOptions(start->options.options, start->jar, &options, &error)) {
      start->finish(nullptr, error, false);
      return;
    }
    std::vector<JavaVMOption> jvmOptions(options.size() + 3);
    for (size_t i = 0; i < options.size(); i++) {
      jvmOptions[i].optionString = const_cast<char*>(options[i].c_str());
      jvmOptions[i].extraInfo = nullptr;
    }
    size_t n = options.size();
    jvmOptions[n].optionString = const_cast<char*>("vfprintf");
    jvmOptions[n].extraInfo = reinterpret_cast<void*>(&vfprintfHook);
    jvmOptions[n + 1].optionString = const_cast<char*>("abort");
    jvmOptions[n + 1].extraInfo = reinterpret_cast<void*>(&abortHook);
    jvmOptions[n + 2].optionString = const_cast<char*>("exit");
    jvmOptions[n + 2].extraInfo = reinterpret_cast<void*>(&exitHook);

    JavaVMInitArgs args;
    args.version = JNI_VERSION;
    args.nOptions = static_cast<jint>(jvmOptions.size());
    args.options = jvmOptions.data();
    args.ignoreUnrecognized = JNI_FALSE;

    std::string joined;
    for (size_t i = 0; i < options.size(); i++) {
      joined += (i == 0 ? "" : " ") + options[i];
    }
    log::info("starting the JVM (" + libjvm + ") with " + joined);

    std::function<void(const std::string&)> failed =
      [start](const std::string& why) { start->finish(nullptr, why, true); };
    startFailed = &failed;
    rc = create(&vm, reinterpret_cast<void**>(&env), &args);
    startFailed = nullptr;
    if (rc != JNI_OK) {
      // Final: HotSpot may accept a second JNI_CreateJavaVM after some
      // failures, but its argument state is not reset (a retry came up
      // without the jar on its class path).
      start->finish(nullptr, "JNI_CreateJavaVM failed: " + jniError(rc)
                    + " (JVM options: " + joined + ")", true);
      return;
    }
    jvm->loader = systemClassLoader(env, &error);
  }

  jvm->javaVm = vm;
  jvm->startMillis = millisSince(began);
  vm->DetachCurrentThread();
  if (jvm->loader == nullptr) {
    start->finish(nullptr, "the JVM started but the jar's class loader could not be made: " + error, true);
    return;
  }
  start->finish(jvm.release(), std::string(), false);
}


Jvm* Jvm::start(const JvmOptions& options, std::string* error)
{
  std::lock_guard<std::mutex> lock(startMutex());
  if (instance != nullptr) {
    return instance;
  }
  if (fatalError != nullptr) {
    *error = "the JVM cannot be started again in this process (restart it with fixed options); "
      "it failed with: " + *fatalError;
    return nullptr;
  }

  std::shared_ptr<Start> start(new Start());
  start->options = options;
  if (!checkJar(options.jar, &start->jar, error)) {
    return nullptr;
  }
  if (!findLibjvm(options.libjvm, &start->libjvm, error)) {
    return nullptr;
  }

  // The shared_ptr keeps the attempt alive for the thread even if we stop
  // waiting for it.
  std::shared_ptr<Start> keep = start;
  if (!startThread("dvdi-jvm", START_STACK_BYTES,
                   [keep]() { Jvm::startOnThread(keep.get()); }, error)) {
    return nullptr;
  }

  std::unique_lock<std::mutex> wait(start->mutex);
  if (!start->cv.wait_for(wait, std::chrono::milliseconds(options.timeoutMs),
                          [&start]() { return start->done; })) {
    fatalError = new std::string(
        "the JVM did not start within " + std::to_string(options.timeoutMs) + " ms");
    *error = *fatalError;
    return nullptr;
  }
  if (start->jvm == nullptr) {
    *error = start->error;
    if (start->fatal) {
      fatalError = new std::string(start->error);
    }
    return nullptr;
  }
  instance = start->jvm;
  return instance;
}


Jvm* Jvm::current()
{
  std::lock_guard<std::mutex> lock(startMutex());
  return instance;
}


JNIEnv* Jvm::attach(const std::string& name, std::string* error)
{
  JNIEnv* env = nullptr;
  jint rc = javaVm->GetEnv(reinterpret_cast<void**>(&env), JNI_VERSION);
  if (rc == JNI_OK) {
    return env;
  }
  if (rc != JNI_EDETACHED) {
    *error = "JavaVM::GetEnv failed: " + jniError(rc);
    return nullptr;
  }
  JavaVMAttachArgs args;
  args.version = JNI_VERSION;
  args.name = const_cast<char*>(name.c_str());
  args.group = nullptr;
  rc = javaVm->AttachCurrentThreadAsDaemon(reinterpret_cast<void**>(&env), &args);
  if (rc != JNI_OK) {
    *error = "cannot attach thread " + name + " to the JVM: " + jniError(rc);
    return nullptr;
  }
  pthread_once(&attachKeyOnce, makeAttachKey);
  pthread_setspecific(attachKey, javaVm); // detached when the thread exits
  return env;
}


jclass Jvm::loadClass(JNIEnv* env, const std::string& name, std::string* error)
{
  jni::LocalFrame frame(env, 8);
  if (!frame.ok()) {
    *error = frame.error();
    return nullptr;
  }
  std::string e;
  jclass classClass = env->FindClass("java/lang/Class");
  jmethodID forName = classClass == nullptr ? nullptr : env->GetStaticMethodID(
      classClass, "forName", "(Ljava/lang/String;ZLjava/lang/ClassLoader;)Ljava/lang/Class;");
  if (jni::describeException(env, &e) || forName == nullptr) {
    *error = "finding Class.forName: " + e;
    return nullptr;
  }
  jstring jname = jni::newString(env, name, error);
  if (jname == nullptr) {
    return nullptr;
  }
  jobject clazz = env->CallStaticObjectMethod(classClass, forName, jname, JNI_FALSE, loader);
  if (jni::describeException(env, &e) || clazz == nullptr) {
    *error = "cannot load class " + name + " from " + jarPath + ": " + e;
    return nullptr;
  }
  jclass global = static_cast<jclass>(env->NewGlobalRef(clazz));
  if (global == nullptr) {
    *error = "NewGlobalRef of class " + name + " failed";
  }
  return global;
}

} // namespace dvdi {
