#include "bridge.hpp"

#include <cxxabi.h>
#include <time.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <memory>
#include <mutex>

#include "calls.hpp"
#include "jni_util.hpp"
#include "jvm.hpp"
#include "log.hpp"
#include "portals.hpp"

namespace dvdi {

// ---------------------------------------------------------------- Reply

std::string Reply::describe() const
{
  return ok ? std::string("ok") : "dvdi " + code + ": " + message;
}


Reply Reply::success(const std::string& result)
{
  Reply r;
  r.ok = true;
  r.result = result;
  return r;
}


Reply Reply::failure(const std::string& code, const std::string& message)
{
  Reply r;
  r.ok = false;
  r.code = code;
  r.message = message;
  return r;
}


// ---------------------------------------------------------------- Impl

namespace {

// Stack of each bridge thread (they run Facade.submit, and callbacks of
// calls that complete synchronously).
const size_t BRIDGE_STACK_BYTES = 2 * 1024 * 1024;
// Stack of the timer thread (it runs the callbacks of expired calls).
const size_t TIMER_STACK_BYTES = 512 * 1024;
const int MAX_THREADS = 64;

typedef std::function<void(JNIEnv*)> Job;

thread_local bool onBridgeThread = false;


// Runs `callback(reply)`; nothing it throws escapes.
void runCallback(const Callback& callback, const Reply& reply, int64_t tag)
{
  if (!callback) {
    return;
  }
  try {
    callback(reply);
  } catch (abi::__forced_unwind&) {
    throw;
  } catch (...) {
    log::error("the callback of bridge call " + std::to_string(tag) + " threw an exception");
  }
}

} // namespace {


struct Bridge::Impl
{
  Jvm* jvm = nullptr;
  FacadePortal facade;
  ErrorPortal errors;
  int threads = 0;

  // Queued work for the bridge threads.
  std::mutex queueMutex;
  std::condition_variable queueCv;
  std::deque<Job> queue;

  // Calls started and not completed by Java.
  CallTable calls;

  // The timer thread waits for the next deadline, or for a call with a
  // deadline to be added (timerGeneration changes).
  std::mutex timerMutex;
  std::condition_variable timerCv;
  uint64_t timerGeneration = 0;

  // Guarded by the create mutex.
  bool initialized = false;
  std::string initArgs;
  std::string initResult;

  void enqueue(const Job& job)
  {
    {
      std::lock_guard<std::mutex> lock(queueMutex);
      queue.push_back(job);
    }
    queueCv.notify_one();
  }

  void threadLoop(int index, std::function<void(const std::string&)> started)
  {
    std::string error;
    JNIEnv* env = jvm->attach("dvdi-bridge-" + std::to_string(index), &error);
    started(error);
    if (env == nullptr) {
      return;
    }
    onBridgeThread = true;
    for (;;) {
      Job job;
      {
        std::unique_lock<std::mutex> lock(queueMutex);
        queueCv.wait(lock, [this]() { return !queue.empty(); });
        job = std::move(queue.front());
        queue.pop_front();
      }
      try {
        job(env);
      } catch (abi::__forced_unwind&) {
        throw;
      } catch (...) {
        log::error("a bridge job threw an exception");
      }
      if (env->ExceptionCheck()) { // never: every job clears what it causes
        std::string e;
        jni::describeException(env, &e);
        log::error("a bridge job left a Java exception pending: " + e);
      }
    }
  }

  // Starts the bridge threads and waits until each is attached.
  bool startThreads(int count, std::string* error)
  {
    struct Started
    {
      std::mutex mutex;
      std::condition_variable cv;
      int count = 0;
      std::string error;
    };
    std::shared_ptr<Started> s(new Started());
    int launched = 0;
    for (int i = 0; i < count; i++) {
      std::function<void(const std::string&)> started = [s](const std::string& e) {
        std::lock_guard<std::mutex> lock(s->mutex);
        s->count++;
        if (!e.empty() && s->error.empty()) {
          s->error = e;
        }
        s->cv.notify_all();
      };
      Impl* self = this;
      if (!startThread("dvdi-bridge-" + std::to_string(i), BRIDGE_STACK_BYTES,
                       [self, i, started]() { self->threadLoop(i, started); }, error)) {
        break;
      }
      launched++;
    }
    std::unique_lock<std::mutex> lock(s->mutex);
    s->cv.wait(lock, [&]() { return s->count == launched; });
    threads = launched;
    if (launched == 0) {
      return false;
    }
    if (!s->error.empty()) {
      *error = s->error;
      return false;
    }
    if (launched < count) {
      log::warning("started " + std::to_string(launched) + " of " + std::to_string(count)
                   + " bridge threads: " + *error);
    }
    return true;
  }

  // Runs `job` on a bridge thread and waits up to `timeoutMs` for it.
  bool runAndWait(const Job& job, int timeoutMs)
  {
    struct Done
    {
      std::mutex mutex;
      std::condition_variable cv;
      bool done = false;
    };
    std::shared_ptr<Done> d(new Done());
    enqueue([d, job](JNIEnv* env) {
      job(env);
      std::lock_guard<std::mutex> lock(d->mutex);
      d->done = true;
      d->cv.notify_all();
    });
    std::unique_lock<std::mutex> lock(d->mutex);
    return d->cv.wait_for(lock, std::chrono::milliseconds(timeoutMs), [&]() { return d->done; });
  }

  int64_t track(const std::string& method, const Callback& done, int timeoutMs)
  {
    int64_t tag = calls.add(method, done, timeoutMs, CallTable::Clock::now());
    if (timeoutMs > 0) {
      {
        std::lock_guard<std::mutex> lock(timerMutex);
        timerGeneration++;
      }
      timerCv.notify_one();
    }
    return tag;
  }

  // Completes `tag`: removes it and runs its callback (outside any lock),
  // unless its deadline passed (its callback ran with TIMEOUT already).
  void finish(int64_t tag, const Reply& reply)
  {
    Callback callback;
    std::string method;
    switch (calls.complete(tag, &callback, &method)) {
      case CallTable::WAITING:
        runCallback(callback, reply, tag);
        return;
      case CallTable::LATE:
        log::warning("the late reply of bridge call " + std::to_string(tag) + " ('" + method
                     + "'), which had timed out, is ignored: " + reply.describe());
        return;
      case CallTable::UNKNOWN:
        log::warning("completion of unknown bridge call " + std::to_string(tag) + " ignored");
        return;
    }
  }

  // The timer thread: completes each call whose deadline passed with a
  // TIMEOUT reply.
  void timerLoop()
  {
    std::unique_lock<std::mutex> lock(timerMutex);
    for (;;) {
      const uint64_t seen = timerGeneration;
      lock.unlock();
      CallTable::Clock::time_point next;
      bool hasNext = false;
      try {
        std::vector<CallTable::Expired> expired = calls.expire(CallTable::Clock::now());
        for (size_t k = 0; k < expired.size(); k++) {
          log::warning("bridge call " + std::to_string(expired[k].tag) + " ('" + expired[k].method
                       + "') timed out after " + std::to_string(expired[k].timeoutMs) + " ms");
          runCallback(expired[k].done, CallTable::timeoutReply(expired[k]), expired[k].tag);
        }
        hasNext = calls.nextDeadline(&next);
      } catch (abi::__forced_unwind&) {
        throw;
      } catch (...) { // out of memory: the deadlines are looked at again soon
        log::error("the bridge's timer failed to expire calls; it tries again in a second");
        next = CallTable::Clock::now() + std::chrono::seconds(1);
        hasNext = true;
      }
      lock.lock();
      std::function<bool()> changed = [this, seen]() { return timerGeneration != seen; };
      if (hasNext) {
        timerCv.wait_until(lock, next, changed);
      } else {
        timerCv.wait(lock, changed);
      }
    }
  }

  // On a bridge thread: Facade.submit. If Java could not take the call, it
  // is completed here.
  void submit(JNIEnv* env, int64_t tag, const std::string& method, const std::string& request)
  {
    Reply failure;
    if (!facade.submit(env, errors, static_cast<jlong>(tag), method, request, &failure)) {
      finish(tag, failure);
    }
  }

  Reply init(const std::string& args, int timeoutMs)
  {
    std::shared_ptr<Reply> reply(new Reply(Reply::failure(
        "TIMEOUT", "Facade.init did not finish within " + std::to_string(timeoutMs) + " ms")));
    std::shared_ptr<std::mutex> m(new std::mutex());
    Impl* self = this;
    bool finished = runAndWait([self, args, reply, m](JNIEnv* env) {
      Reply r = self->facade.init(env, self->errors, args);
      std::lock_guard<std::mutex> lock(*m);
      *reply = r;
    }, timeoutMs);
    std::lock_guard<std::mutex> lock(*m);
    if (!finished) {
      return Reply::failure("TIMEOUT", "Facade.init did not finish within "
                            + std::to_string(timeoutMs) + " ms");
    }
    return *reply;
  }
};


// ---------------------------------------------------------------- natives

namespace {

std::mutex& createMutex()
{
  static std::mutex* m = new std::mutex();
  return *m;
}

std::atomic<Bridge*> theBridge{nullptr};

// Set when the bridge could not be set up in a running JVM: every later
// create() reports it.
std::string* setupError = nullptr;

} // namespace {


// The natives of org.dvdi.core.bridge.Native. Called on Java threads (or
// re-entrantly on a bridge thread); no C++ exception and no Java exception
// escapes them.
struct BridgeNatives
{
  static void JNICALL complete(
      JNIEnv* env,
      jclass,
      jlong tag,
      jboolean ok,
      jstring code,
      jbyteArray message,
      jbyteArray result)
  {
    try {
      Reply reply;
      reply.ok = ok == JNI_TRUE;
      reply.code = jni::toUtf8(env, code);
      std::string error;
      if (!jni::toBytes(env, message, &reply.message, &error)
          || !jni::toBytes(env, result, &reply.result, &error)) {
        reply = Reply::failure("INTERNAL", "bridge call " + std::to_string(tag)
                               + ": reading its reply: " + error);
      }
      Bridge* bridge = theBridge.load();
      if (bridge == nullptr) {
        log::warning("completion of bridge call " + std::to_string(tag) + " before the bridge exists");
        return;
      }
      bridge->impl->finish(tag, reply);
    } catch (abi::__forced_unwind&) {
      throw;
    } catch (...) {
      log::error("Native.complete(" + std::to_string(tag) + ") failed with a C++ exception");
    }
  }

  static void JNICALL logLine(JNIEnv* env, jclass, jint level, jbyteArray message)
  {
    try {
      std::string text;
      std::string error;
      if (!jni::toBytes(env, message, &text, &error)) {
        text = "(unreadable log message: " + error + ")";
      }
      log::write(level, text);
    } catch (abi::__forced_unwind&) {
      throw;
    } catch (...) {
      // Nowhere to report it.
    }
  }
};


// ---------------------------------------------------------------- Bridge

Bridge::Bridge() : impl(new Impl()) {}


Bridge::~Bridge()
{
  // Never called: the bridge, its threads and the JVM live as long as the
  // process.
}


Bridge* Bridge::create(const BridgeOptions& options, std::string* error)
{
  try {
    std::lock_guard<std::mutex> lock(createMutex());

    const std::string args = options.initArgs.empty() ? std::string("{}") : options.initArgs;
    const int timeoutMs = options.startTimeoutMs > 0 ? options.startTimeoutMs : 300000;

    Bridge* bridge = theBridge.load();
    if (bridge != nullptr) {
      std::string jar;
      if (!checkJar(options.jar, &jar, error)) {
        *error = "dvdi INVALID_CONFIG: " + *error;
        return nullptr;
      }
      if (jar != bridge->jar()) {
        *error = "dvdi INVALID_CONFIG: the bridge runs already with jar " + bridge->jar()
          + ", not " + jar;
        return nullptr;
      }
      std::string libjvm;
      if (!options.libjvm.empty()
          && (!findLibjvm(options.libjvm, &libjvm, error) || libjvm != bridge->libjvm())) {
        *error = "dvdi INVALID_CONFIG: the bridge runs already with libjvm " + bridge->libjvm()
          + ", not " + options.libjvm;
        return nullptr;
      }
      if (bridge->impl->initialized && bridge->impl->initArgs == args) {
        return bridge;
      }
      if (options.log) {
        log::setSink(options.log);
      }
      // Init failed before (retry), or other arguments (Java refuses them
      // with INVALID_CONFIG unless it is not initialised).
      Reply reply = bridge->impl->init(args, timeoutMs);
      if (!reply.ok) {
        *error = reply.describe();
        return nullptr;
      }
      bridge->impl->initialized = true;
      bridge->impl->initArgs = args;
      bridge->impl->initResult = reply.result;
      return bridge;
    }

    if (setupError != nullptr) {
      *error = *setupError;
      return nullptr;
    }

    log::setSink(options.log);

    JvmOptions jvmOptions;
    jvmOptions.libjvm = options.libjvm;
    jvmOptions.jar = options.jar;
    jvmOptions.options = options.jvmOptions;
    jvmOptions.timeoutMs = timeoutMs;
    std::string e;
    Jvm* jvm = Jvm::start(jvmOptions, &e);
    if (jvm == nullptr) {
      *error = "dvdi INVALID_CONFIG: cannot start the JVM: " + e;
      return nullptr;
    }
    std::string jar;
    if (!checkJar(options.jar, &jar, &e) || jar != jvm->jar()) {
      *error = "dvdi INVALID_CONFIG: the JVM runs already with jar " + jvm->jar() + ", not " + options.jar;
      return nullptr;
    }

    bridge = new Bridge();
    Impl* impl = bridge->impl;
    impl->jvm = jvm;
    int threads = options.threads < 1 ? 1 : options.threads > MAX_THREADS ? MAX_THREADS : options.threads;
    if (!impl->startThreads(threads, &e)
        || !startThread("dvdi-timer", TIMER_STACK_BYTES, [impl]() { impl->timerLoop(); }, &e)) {
      setupError = new std::string("dvdi INTERNAL: cannot start the bridge threads: " + e);
      *error = *setupError;
      return nullptr; // `bridge` is leaked with its idle threads, if any
    }

    // Portals and natives, once, on a bridge thread.
    std::shared_ptr<std::string> setup(new std::string());
    std::shared_ptr<std::mutex> m(new std::mutex());
    bool finished = impl->runAndWait([impl, setup, m](JNIEnv* env) {
      std::string err;
      bool ok = impl->facade.load(env, impl->jvm, &err)
        && impl->errors.load(env, impl->jvm, &err)
        && NativePortal().registerNatives(
            env, impl->jvm, &BridgeNatives::complete, &BridgeNatives::logLine, &err);
      std::lock_guard<std::mutex> lock(*m);
      *setup = ok ? std::string() : (err.empty() ? std::string("failed") : err);
    }, timeoutMs);
    {
      std::lock_guard<std::mutex> l(*m);
      if (!finished || !setup->empty()) {
        setupError = new std::string(
            "dvdi INVALID_CONFIG: the jar " + jvm->jar() + " does not fit this bridge: "
            + (finished ? *setup : std::string("setting up timed out")));
        *error = *setupError;
        return nullptr;
      }
    }
    theBridge.store(bridge);
    if (jvm->reused() && !options.jvmOptions.empty()) {
      log::warning("the JVM options given are ignored: the process had a JVM already");
    }
    log::info("JVM " + std::string(jvm->reused() ? "found" : "started") + " in "
              + std::to_string(static_cast<int>(jvm->startMs())) + " ms; "
              + std::to_string(impl->threads) + " bridge threads");

    Reply reply = impl->init(args, timeoutMs);
    if (!reply.ok) {
      *error = reply.describe();
      return nullptr;
    }
    impl->initialized = true;
    impl->initArgs = args;
    impl->initResult = reply.result;
    return bridge;
  } catch (abi::__forced_unwind&) {
    throw;
  } catch (const std::exception& e) {
    *error = std::string("dvdi INTERNAL: creating the bridge: ") + e.what();
  } catch (...) {
    *error = "dvdi INTERNAL: creating the bridge failed";
  }
  return nullptr;
}


void Bridge::call(
    const std::string& method,
    const std::string& request,
    const Callback& done,
    int timeoutMs)
{
  Impl* i = impl;
  int64_t tag = i->track(method, done, timeoutMs);
  try {
    i->enqueue([i, tag, method, request](JNIEnv* env) { i->submit(env, tag, method, request); });
  } catch (...) {
    // Out of memory for the queue: the one case where `done` runs on the
    // caller's thread, rather than never.
    i->finish(tag, Reply::failure("INTERNAL", "bridge call '" + method + "' could not be queued"));
  }
}


Reply Bridge::callSync(
    const std::string& method,
    const std::string& request,
    int timeoutMs)
{
  if (onBridgeThread) {
    return Reply::failure("INTERNAL", "Bridge::callSync('" + method
                          + "') on a bridge thread would deadlock; use call()");
  }
  struct Waiter
  {
    std::mutex mutex;
    std::condition_variable cv;
    bool done = false;
    Reply reply;
  };
  std::shared_ptr<Waiter> w(new Waiter());
  call(method, request, [w](const Reply& r) {
    std::lock_guard<std::mutex> lock(w->mutex);
    w->reply = r;
    w->done = true;
    w->cv.notify_all();
  }, timeoutMs);
  // The deadline completes the call (a TIMEOUT reply) if Java does not.
  std::unique_lock<std::mutex> lock(w->mutex);
  w->cv.wait(lock, [&]() { return w->done; });
  return w->reply;
}


const std::string& Bridge::initResult() const
{
  return impl->initResult;
}


const std::string& Bridge::jar() const
{
  return impl->jvm->jar();
}


const std::string& Bridge::libjvm() const
{
  return impl->jvm->libjvm();
}


bool Bridge::jvmReused() const
{
  return impl->jvm->reused();
}


double Bridge::jvmStartMs() const
{
  return impl->jvm->startMs();
}


int64_t Bridge::pending() const
{
  return static_cast<int64_t>(impl->calls.pending());
}


} // namespace dvdi {
