// dvdi-bench: numbers through the bridge with the real jar and the loop
// provider, on this machine. Needs root for the volume parts (it skips them
// otherwise). Everything lives in a temporary directory that is removed at
// the end; every container is cleaned up.
//
//   dvdi-bench [--jar PATH] [--libjvm PATH] [--jvm-option OPT]...
//              [--warm N] [--cold N] [--pings N]
//
// Prints what it measures, then one line per metric:
//   METRIC <name> <value> <unit>

#include <dlfcn.h>
#include <jni.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <fstream>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "bridge.hpp"
#include "support.hpp"

using nlohmann::json;

namespace t = dvdi::testing;

namespace {

const int TIMEOUT_MS = 10 * 60 * 1000;

struct Metric
{
  std::string name;
  double value;
  std::string unit;
};

std::vector<Metric> metrics;
bool failed = false;


void report(const std::string& name, double value, const std::string& unit)
{
  Metric m;
  m.name = name;
  m.value = value;
  m.unit = unit;
  metrics.push_back(m);
}


void problem(const std::string& what)
{
  fprintf(stderr, "dvdi-bench: FAILED: %s\n", what.c_str());
  failed = true;
}


double nowNs()
{
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1e9 + ts.tv_nsec;
}


double percentile(std::vector<double> values, double p)
{
  if (values.empty()) {
    return 0;
  }
  std::sort(values.begin(), values.end());
  size_t index = static_cast<size_t>(p / 100.0 * (values.size() - 1) + 0.5);
  return values[std::min(index, values.size() - 1)];
}


double mean(const std::vector<double>& values)
{
  double sum = 0;
  for (size_t i = 0; i < values.size(); i++) {
    sum += values[i];
  }
  return values.empty() ? 0 : sum / values.size();
}


long statusKb(const std::string& field)
{
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.compare(0, field.size() + 1, field + ":") == 0) {
      return atol(line.c_str() + field.size() + 1);
    }
  }
  return -1;
}


std::map<std::string, std::string> volume(const std::string& name)
{
  std::map<std::string, std::string> env;
  env["DVDI_VOLUME_NAME"] = name;
  env["DVDI_VOLUME_DRIVER"] = "loop";
  env["DVDI_VOLUME_CONTAINERPATH"] = "data";
  return env;
}


// Sequential asynchronous round trips of `method` through call(): the
// latency of each, in microseconds.
// JNI overhead without the bridge: this thread attaches to the bridge's JVM
// and calls Facade.call("ping", "{}") `iterations` times (a JNI call, two
// strings in, one out). Returns the mean nanoseconds per call, or a negative
// number with *error set.
double directPings(dvdi::Bridge* bridge, int iterations, std::string* error)
{
  typedef jint (JNICALL *GetCreatedJavaVMs)(JavaVM**, jsize, jsize*);
  void* handle = dlopen(bridge->libjvm().c_str(), RTLD_NOW | RTLD_NOLOAD);
  GetCreatedJavaVMs get = handle == nullptr ? nullptr
    : reinterpret_cast<GetCreatedJavaVMs>(dlsym(handle, "JNI_GetCreatedJavaVMs"));
  JavaVM* vm = nullptr;
  jsize n = 0;
  if (get == nullptr || get(&vm, 1, &n) != JNI_OK || n != 1) {
    *error = "no JVM found in " + bridge->libjvm();
    return -1;
  }
  JNIEnv* env = nullptr;
  if (vm->AttachCurrentThread(reinterpret_cast<void**>(&env), nullptr) != JNI_OK) {
    *error = "cannot attach to the JVM";
    return -1;
  }
  double nanos = -1;
  jclass facade = env->FindClass("org/dvdi/core/bridge/Facade");
  jmethodID call = facade == nullptr ? nullptr
    : env->GetStaticMethodID(facade, "call", "(Ljava/lang/String;Ljava/lang/String;)Ljava/lang/String;");
  if (call == nullptr) {
    env->ExceptionClear();
    *error = "Facade.call(String, String) not found";
  } else {
    double start = nowNs();
    for (int k = 0; k < iterations && error->empty(); k++) {
      jstring method = env->NewStringUTF("ping");
      jstring request = env->NewStringUTF("{}");
      jobject r = env->CallStaticObjectMethod(facade, call, method, request);
      if (env->ExceptionCheck() || r == nullptr) {
        env->ExceptionClear();
        *error = "Facade.call(\"ping\") failed";
      }
      env->DeleteLocalRef(r);
      env->DeleteLocalRef(request);
      env->DeleteLocalRef(method);
    }
    if (error->empty()) {
      nanos = (nowNs() - start) / (iterations > 0 ? iterations : 1);
    }
  }
  vm->DetachCurrentThread();
  return nanos;
}


std::vector<double> roundTrips(dvdi::Bridge* bridge, int count)
{
  std::mutex mutex;
  std::condition_variable cv;
  bool done = false;
  bool ok = true;
  std::vector<double> out;
  out.reserve(count);
  for (int i = 0; i < count; i++) {
    double start = nowNs();
    {
      std::lock_guard<std::mutex> lock(mutex);
      done = false;
    }
    bridge->call("ping", "{}", [&](const dvdi::Reply& r) {
      std::lock_guard<std::mutex> lock(mutex);
      ok = ok && r.ok;
      done = true;
      cv.notify_one();
    });
    std::unique_lock<std::mutex> lock(mutex);
    cv.wait(lock, [&]() { return done; });
    out.push_back((nowNs() - start) / 1e3);
  }
  if (!ok) {
    problem("a ping failed");
  }
  return out;
}


class Bench
{
public:
  Bench(dvdi::Bridge* b, const t::Dirs& d) : bridge(b), dirs(d) {}

  dvdi::Reply prepare(const std::string& id, const std::string& name)
  {
    return bridge->callSync("prepare", t::prepareRequest(id, dirs.sandbox(id), volume(name)), TIMEOUT_MS);
  }

  dvdi::Reply cleanup(const std::string& id)
  {
    return bridge->callSync("cleanup", t::cleanupRequest(id), TIMEOUT_MS);
  }

  void warm(int iterations)
  {
    dvdi::Reply holder = prepare("holder", "warm");
    if (!holder.ok) {
      problem("prepare of the holder: " + holder.describe());
      return;
    }
    std::vector<double> both, prep, clean;
    // One sandbox for all iterations: the bind target exists after the first.
    std::string sandbox = dirs.sandbox("warm-user");
    for (int i = 0; i < iterations + 50; i++) {
      std::string id = "warm-" + std::to_string(i);
      double a = nowNs();
      dvdi::Reply p = bridge->callSync(
          "prepare", t::prepareRequest(id, sandbox, volume("warm")), TIMEOUT_MS);
      double b = nowNs();
      dvdi::Reply c = cleanup(id);
      double e = nowNs();
      if (!p.ok || !c.ok) {
        problem("warm iteration " + std::to_string(i) + ": " + p.describe() + " / " + c.describe());
        break;
      }
      if (i == 0 && !t::result(p)["volumes"][0].value("fast_path", false)) {
        problem("the warm prepare did not take the fast path: " + p.result);
      }
      if (i >= 50) { // the first 50 warm up the JIT
        prep.push_back((b - a) / 1e6);
        clean.push_back((e - b) / 1e6);
        both.push_back((e - a) / 1e6);
      }
    }
    dvdi::Reply c = cleanup("holder");
    if (!c.ok) {
      problem("cleanup of the holder: " + c.describe());
    }
    printf("warm prepare+cleanup of a mounted volume, N=%zu: p50 %.3f ms, p99 %.3f ms "
           "(prepare p50 %.3f ms, p99 %.3f ms; cleanup p50 %.3f ms)\n",
           both.size(), percentile(both, 50), percentile(both, 99),
           percentile(prep, 50), percentile(prep, 99), percentile(clean, 50));
    report("warm_prepare_cleanup_p50", percentile(both, 50), "ms");
    report("warm_prepare_cleanup_p99", percentile(both, 99), "ms");
    report("warm_prepare_p50", percentile(prep, 50), "ms");
    report("warm_prepare_p99", percentile(prep, 99), "ms");
  }

  void cold(int count)
  {
    std::vector<double> prep, clean;
    for (int i = 0; i < count; i++) {
      std::string id = "cold-" + std::to_string(i);
      double a = nowNs();
      dvdi::Reply p = prepare(id, id);
      double b = nowNs();
      dvdi::Reply c = cleanup(id);
      double e = nowNs();
      if (!p.ok || !c.ok) {
        problem("cold " + id + ": " + p.describe() + " / " + c.describe());
        break;
      }
      prep.push_back((b - a) / 1e6);
      clean.push_back((e - b) / 1e6);
    }
    printf("cold loop create+format+mount (new volume each time), N=%zu: p50 %.1f ms, p99 %.1f ms "
           "(its release: p50 %.1f ms)\n",
           prep.size(), percentile(prep, 50), percentile(prep, 99), percentile(clean, 50));
    report("cold_prepare_p50", percentile(prep, 50), "ms");
    report("cold_prepare_p99", percentile(prep, 99), "ms");
    report("cold_release_p50", percentile(clean, 50), "ms");
  }

  // The volumes cold() made, again: they exist and have a filesystem, nothing is mounted.
  void existing(int count)
  {
    std::vector<double> prep;
    for (int i = 0; i < count; i++) {
      std::string id = "again-" + std::to_string(i);
      double a = nowNs();
      dvdi::Reply p = prepare(id, "cold-" + std::to_string(i));
      double b = nowNs();
      dvdi::Reply c = cleanup(id);
      if (!p.ok || !c.ok) {
        problem("existing " + id + ": " + p.describe() + " / " + c.describe());
        break;
      }
      prep.push_back((b - a) / 1e6);
    }
    printf("existing loop volume (formatted, not mounted) attach+mount, N=%zu: p50 %.1f ms, p99 %.1f ms\n",
           prep.size(), percentile(prep, 50), percentile(prep, 99));
    report("existing_prepare_p50", percentile(prep, 50), "ms");
    report("existing_prepare_p99", percentile(prep, 99), "ms");
  }

  void concurrent(size_t containers, size_t volumes)
  {
    t::Collector prepared(containers);
    std::vector<std::string> ids;
    for (size_t i = 0; i < containers; i++) {
      ids.push_back("conc-" + std::to_string(i));
      dirs.sandbox(ids.back());
    }
    double a = nowNs();
    for (size_t i = 0; i < containers; i++) {
      bridge->call("prepare",
                   t::prepareRequest(ids[i], dirs.sandbox(ids[i]),
                                     volume("conc-" + std::to_string(i % volumes))),
                   prepared.callback(i));
    }
    bool all = prepared.waitAll(TIMEOUT_MS);
    double b = nowNs();
    size_t ok = 0;
    std::vector<dvdi::Reply> replies = prepared.replies();
    for (size_t i = 0; i < replies.size(); i++) {
      ok += replies[i].ok ? 1 : 0;
    }
    for (size_t v = 0; v < volumes; v++) {
      int n = t::mountCount(dirs.mounts + "/loop/conc-" + std::to_string(v));
      if (n != 1) {
        problem("volume conc-" + std::to_string(v) + " is mounted " + std::to_string(n) + " times");
      }
    }
    t::Collector cleaned(containers);
    double c = nowNs();
    for (size_t i = 0; i < containers; i++) {
      bridge->call("cleanup", t::cleanupRequest(ids[i]), cleaned.callback(i));
    }
    bool allCleaned = cleaned.waitAll(TIMEOUT_MS);
    double d = nowNs();
    if (!all || ok != containers || !allCleaned || prepared.duplicates() + cleaned.duplicates() > 0) {
      problem(std::to_string(prepared.completed()) + " prepares completed, " + std::to_string(ok)
              + " ok; " + std::to_string(cleaned.completed()) + " cleanups completed");
    }
    if (!t::mountsUnder(dirs.mounts).empty()) {
      problem("mounts left after the concurrent cleanups");
    }
    printf("%zu concurrent prepares over %zu new volumes: %.0f ms in all (all ok: %s); "
           "their cleanups: %.0f ms\n",
           containers, volumes, (b - a) / 1e6, ok == containers ? "yes" : "NO", (d - c) / 1e6);
    report("concurrent_100x20_prepare_total", (b - a) / 1e6, "ms");
    report("concurrent_100x20_cleanup_total", (d - c) / 1e6, "ms");
  }

private:
  dvdi::Bridge* bridge;
  const t::Dirs& dirs;
};

} // namespace {


int main(int argc, char** argv)
{
  dvdi::BridgeOptions options;
  options.jar = t::jar();
  options.libjvm = t::libjvm();
  int warm = 2000;
  int cold = 20;
  int pings = 20000;
  for (int i = 1; i < argc; i++) {
    std::string arg = argv[i];
    std::string value = i + 1 < argc ? argv[i + 1] : "";
    if (arg == "--jar" && i + 1 < argc) {
      options.jar = value;
    } else if (arg == "--libjvm" && i + 1 < argc) {
      options.libjvm = value;
    } else if (arg == "--jvm-option" && i + 1 < argc) {
      options.jvmOptions.push_back(value);
    } else if (arg == "--warm" && i + 1 < argc) {
      warm = atoi(value.c_str());
    } else if (arg == "--cold" && i + 1 < argc) {
      cold = atoi(value.c_str());
    } else if (arg == "--pings" && i + 1 < argc) {
      pings = atoi(value.c_str());
    } else {
      fprintf(stderr, "usage: dvdi-bench [--jar PATH] [--libjvm PATH] [--jvm-option OPT]... "
              "[--warm N] [--cold N] [--pings N]\n");
      return 2;
    }
    i++;
  }

  t::Dirs dirs;
  if (!dirs.make("dvdi-bench-")) {
    fprintf(stderr, "dvdi-bench: cannot make a temp dir\n");
    return 1;
  }
  options.initArgs = dirs.initArgs();
  options.log = [](int level, const std::string& message) {
    if (level > 0) {
      fprintf(stderr, "dvdi-bench: [%s] %s\n", level > 1 ? "error" : "warning", message.c_str());
    }
  };

  printf("dvdi-bench: jar %s; %ld CPUs; %s\n", options.jar.c_str(), sysconf(_SC_NPROCESSORS_ONLN),
         t::isRoot() ? "root" : "not root: volume benchmarks skipped");
  long rssBefore = statusKb("VmRSS");

  double a = nowNs();
  std::string error;
  dvdi::Bridge* bridge = dvdi::Bridge::create(options, &error);
  double b = nowNs();
  if (bridge == nullptr) {
    fprintf(stderr, "dvdi-bench: %s\n", error.c_str());
    return 1;
  }
  printf("JVM start to ready (Bridge::create incl. Facade.init): %.1f ms (JNI_CreateJavaVM and class loader: %.1f ms)\n",
         (b - a) / 1e6, bridge->jvmStartMs());
  report("jvm_start_to_ready", (b - a) / 1e6, "ms");
  report("jvm_create", bridge->jvmStartMs(), "ms");
  report("rss_after_start", statusKb("VmRSS") / 1024.0, "MB");

  // (a) JNI overhead: Facade.call("ping") in a tight loop on a thread of this program's own.
  error.clear();
  directPings(bridge, 20000, &error); // warm-up
  double direct = error.empty() ? directPings(bridge, 200000, &error) : -1;
  if (direct < 0) {
    problem("direct ping benchmark: " + error);
  }
  printf("JNI call, direct: Facade.call(\"ping\", \"{}\") from an attached thread: %.2f us per call\n", direct / 1e3);
  report("jni_direct_call", direct / 1e3, "us");

  // (b) Full asynchronous round trip through call().
  roundTrips(bridge, pings / 4); // warm-up
  std::vector<double> rt = roundTrips(bridge, pings);
  printf("JNI call, asynchronous round trip through Bridge::call (N=%d): p50 %.1f us, p99 %.1f us, mean %.1f us\n",
         pings, percentile(rt, 50), percentile(rt, 99), mean(rt));
  report("call_round_trip_p50", percentile(rt, 50), "us");
  report("call_round_trip_p99", percentile(rt, 99), "us");

  if (t::isRoot()) {
    Bench bench(bridge, dirs);
    bench.warm(warm);
    bench.cold(cold);
    bench.existing(cold);
    bench.concurrent(100, 20);
  }

  long rss = statusKb("VmRSS");
  long hwm = statusKb("VmHWM");
  printf("RSS of the process after all that: %.1f MB (peak %.1f MB; %.1f MB before the JVM)\n",
         rss / 1024.0, hwm / 1024.0, rssBefore / 1024.0);
  report("rss", rss / 1024.0, "MB");
  report("rss_peak", hwm / 1024.0, "MB");

  dvdi::Reply m = bridge->callSync("metrics", "{}", TIMEOUT_MS);
  if (m.ok && t::result(m).value("volumes_mounted", -1) != 0) {
    problem("volumes still mounted according to dvdi: " + m.result);
  }
  std::vector<std::string> mounts = t::mountsUnder(dirs.mounts);
  std::vector<std::string> loops = t::loopsBackedBy(dirs.pool);
  if (!mounts.empty() || !loops.empty()) {
    problem("left behind: mounts " + json(mounts).dump() + ", loop devices " + json(loops).dump()
            + "; keeping " + dirs.root);
  } else if (!t::removeTree(dirs.root, &error)) {
    problem(error);
  }

  for (size_t i = 0; i < metrics.size(); i++) {
    printf("METRIC %s %.3f %s\n", metrics[i].name.c_str(), metrics[i].value, metrics[i].unit.c_str());
  }
  fflush(stdout);
  return failed ? 1 : 0;
}
