// The bridge against the real jar: one JVM for the whole binary (created
// once, with -Xcheck:jni), dvdi on temporary directories. Tests that mount
// loop devices need root and skip otherwise. At the end nothing may be left:
// no mount under the temporary mount root, no loop device on the pool, no
// call pending, no JNI warning.

#include <sched.h>
#include <sys/mount.h>
#include <sys/statvfs.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest-spi.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "bridge.hpp"
#include "mesos/translate.hpp"
#include "support.hpp"
#include "utf.hpp"

using nlohmann::json;

using dvdi::Bridge;
using dvdi::BridgeOptions;
using dvdi::Reply;

namespace testing_ = dvdi::testing;

namespace {

const int TIMEOUT_MS = 120000;

#define REQUIRE_ROOT()                                                         \
  do {                                                                         \
    if (!testing_::isRoot()) {                                                 \
      GTEST_SKIP() << "needs root (uid 0) for loop devices and mount(2)";      \
    }                                                                          \
  } while (false)


// The bridge, its directories and its log, for every test of the binary.
class BridgeEnvironment : public ::testing::Environment
{
public:
  static Bridge* bridge;
  static testing_::Dirs dirs;
  static BridgeOptions options;

  static std::vector<std::string> logLines()
  {
    std::lock_guard<std::mutex> lock(logMutex());
    return lines();
  }

  void SetUp() override
  {
    ASSERT_TRUE(dirs.make("dvdi-bridge-test-")) << "cannot make a temp dir";
    options.jar = testing_::jar();
    options.libjvm = testing_::libjvm();
    options.jvmOptions.push_back("-Xcheck:jni");
    options.initArgs = dirs.initArgs();
    options.threads = 2;
    options.log = [](int level, const std::string& message) {
      {
        std::lock_guard<std::mutex> lock(logMutex());
        lines().push_back(message);
      }
      if (level > 0 || ::getenv("DVDI_TEST_VERBOSE") != nullptr) {
        fprintf(stderr, "[dvdi %s] %s\n", level > 1 ? "E" : level > 0 ? "W" : "I", message.c_str());
      }
    };
    std::string error;
    bridge = Bridge::create(options, &error);
    ASSERT_NE(nullptr, bridge) << error;
  }

  // Whether TearDown found something left behind. gtest 1.12 does not count
  // failures in a global TearDown in RUN_ALL_TESTS' result: main() does.
  static bool leftSomething;

  void TearDown() override
  {
    if (bridge == nullptr) { // it never started: nothing can be mounted
      std::string error;
      if (!dirs.root.empty() && !testing_::removeTree(dirs.root, &error)) {
        fprintf(stderr, "%s\n", error.c_str());
      }
      return;
    }
    ::testing::TestPartResultArray failures;
    ::testing::ScopedFakeTestPartResultReporter reporter(
        ::testing::ScopedFakeTestPartResultReporter::INTERCEPT_ALL_THREADS, &failures);
    check();
    for (int i = 0; i < failures.size(); i++) {
      leftSomething = true;
      fprintf(stderr, "%s:%d: Failure at the end of the tests\n%s\n",
              failures.GetTestPartResult(i).file_name(), failures.GetTestPartResult(i).line_number(),
              failures.GetTestPartResult(i).message());
    }
    if (!leftSomething) {
      std::string error;
      if (!testing_::removeTree(dirs.root, &error)) {
        fprintf(stderr, "%s\n", error.c_str());
      }
    } else {
      fprintf(stderr, "keeping %s for inspection\n", dirs.root.c_str());
    }
  }

private:
  void check()
  {
    // Let the bridge threads finish what follows their last completions.
    usleep(200 * 1000);
    EXPECT_EQ(0, bridge->pending()) << "calls never completed";

    std::vector<std::string> mounts = testing_::mountsUnder(dirs.mounts);
    EXPECT_TRUE(mounts.empty()) << "left mounted: " << json(mounts).dump();
    std::vector<std::string> loops = testing_::loopsBackedBy(dirs.pool);
    EXPECT_TRUE(loops.empty()) << "left attached: " << json(loops).dump();

    std::vector<std::string> log = logLines();
    for (size_t i = 0; i < log.size(); i++) {
      EXPECT_EQ(std::string::npos, log[i].find("WARNING in native method"))
        << "-Xcheck:jni: " << log[i];
      EXPECT_EQ(std::string::npos, log[i].find("FATAL ERROR in native method")) << log[i];
    }
  }

  static std::mutex& logMutex()
  {
    static std::mutex* m = new std::mutex();
    return *m;
  }

  static std::vector<std::string>& lines()
  {
    static std::vector<std::string>* l = new std::vector<std::string>();
    return *l;
  }
};

Bridge* BridgeEnvironment::bridge = nullptr;
bool BridgeEnvironment::leftSomething = false;
testing_::Dirs BridgeEnvironment::dirs;
BridgeOptions BridgeEnvironment::options;


class BridgeTest : public ::testing::Test
{
protected:
  void SetUp() override
  {
    bridge = BridgeEnvironment::bridge;
    ASSERT_NE(nullptr, bridge) << "the bridge did not start";
  }

  const testing_::Dirs& dirs() const { return BridgeEnvironment::dirs; }

  Reply prepare(const std::string& id, const std::map<std::string, std::string>& env)
  {
    return bridge->callSync(
        "prepare", testing_::prepareRequest(id, dirs().sandbox(id), env), TIMEOUT_MS);
  }

  Reply cleanup(const std::string& id)
  {
    return bridge->callSync("cleanup", testing_::cleanupRequest(id), TIMEOUT_MS);
  }

  std::string hostPath(const std::string& name) const
  {
    return dirs().mounts + "/loop/" + name;
  }

  Bridge* bridge = nullptr;
};


std::map<std::string, std::string> volume(const std::string& name, const std::string& path = "")
{
  std::map<std::string, std::string> env;
  env["DVDI_VOLUME_NAME"] = name;
  env["DVDI_VOLUME_DRIVER"] = "loop";
  if (!path.empty()) {
    env["DVDI_VOLUME_CONTAINERPATH"] = path;
  }
  return env;
}


bool contains(const json& array, const std::string& value)
{
  return array.is_array() && std::find(array.begin(), array.end(), json(value)) != array.end();
}


// ---------------------------------------------------------------- no root needed

TEST_F(BridgeTest, InitDescribesTheDvdiItStarted)
{
  json init = json::parse(bridge->initResult(), nullptr, false);
  ASSERT_TRUE(init.is_object()) << bridge->initResult();
  EXPECT_EQ(dirs().state, init.value("state_dir", ""));
  EXPECT_EQ(dirs().mounts, init.value("mount_root", ""));
  EXPECT_TRUE(contains(init["providers"], "loop")) << init.dump();
  EXPECT_FALSE(bridge->jvmReused());
  EXPECT_GT(bridge->jvmStartMs(), 0);
}


TEST_F(BridgeTest, PingRoundTrip)
{
  Reply r = bridge->callSync("ping", "", TIMEOUT_MS);
  ASSERT_TRUE(r.ok) << r.describe();
  EXPECT_EQ("{}", r.result);
  EXPECT_EQ("", r.code);
}


TEST_F(BridgeTest, CallbackRunsOnceAndNotOnTheCallersThread)
{
  testing_::Collector c(50);
  std::vector<std::thread::id> threads(50);
  std::mutex mutex;
  for (size_t i = 0; i < 50; i++) {
    dvdi::Callback record = c.callback(i);
    bridge->call("ping", "{}", [&threads, &mutex, i, record](const Reply& r) {
      {
        std::lock_guard<std::mutex> lock(mutex);
        threads[i] = std::this_thread::get_id();
      }
      record(r);
    });
  }
  ASSERT_TRUE(c.waitAll(TIMEOUT_MS)) << c.completed() << " of 50 completed";
  EXPECT_EQ(0u, c.duplicates());
  std::lock_guard<std::mutex> lock(mutex);
  for (size_t i = 0; i < 50; i++) {
    EXPECT_TRUE(c.replies()[i].ok) << c.replies()[i].describe();
    EXPECT_NE(std::this_thread::get_id(), threads[i]);
  }
}


TEST_F(BridgeTest, UnknownMethodIsAnInvalidRequest)
{
  Reply r = bridge->callSync("frobnicate", "{}", TIMEOUT_MS);
  EXPECT_FALSE(r.ok);
  EXPECT_EQ("INVALID_REQUEST", r.code);
  EXPECT_NE(std::string::npos, r.message.find("frobnicate")) << r.message;
}


TEST_F(BridgeTest, VolumeNameWithASlashIsRefusedNamingTheVariable)
{
  Reply r = prepare("bad-name", volume("a/b"));
  EXPECT_FALSE(r.ok);
  EXPECT_EQ("INVALID_REQUEST", r.code);
  EXPECT_NE(std::string::npos, r.message.find("DVDI_VOLUME_NAME")) << r.message;
}


TEST_F(BridgeTest, UnknownDvdiVariableIsRefusedNamingIt)
{
  std::map<std::string, std::string> env = volume("fine");
  env["DVDI_VOLUME_FOO"] = "1";
  Reply r = prepare("bad-var", env);
  EXPECT_FALSE(r.ok);
  EXPECT_EQ("INVALID_REQUEST", r.code);
  EXPECT_NE(std::string::npos, r.message.find("DVDI_VOLUME_FOO")) << r.message;
}


TEST_F(BridgeTest, TextOutsideTheBmpCrossesIntactBothWays)
{
  // U+1F600 is 4 bytes in UTF-8 and a surrogate pair in Java: modified UTF-8
  // (NewStringUTF/GetStringUTFChars) would mangle it.
  const std::string name = "vol\xF0\x9F\x98\x80";
  Reply r = prepare("utf8", volume(name));
  EXPECT_FALSE(r.ok);
  EXPECT_EQ("INVALID_REQUEST", r.code);
  EXPECT_NE(std::string::npos, r.message.find(name)) << r.message;

  Reply m = bridge->callSync("caf\xC3\xA9\xF0\x9F\x98\x80", "{}", TIMEOUT_MS);
  EXPECT_EQ("INVALID_REQUEST", m.code);
  EXPECT_NE(std::string::npos, m.message.find("caf\xC3\xA9\xF0\x9F\x98\x80")) << m.message;
}


TEST_F(BridgeTest, finding12_BytesThatAreNotUtf8FailAsAReplyNotACrash)
{
  // Made by hand: nlohmann::json's dump() throws on such text. Java reads
  // the bytes as U+FFFD; the adapter refuses them before (checkUtf8).
  const std::string request = "{\"container_id\":{\"value\":\"bad-utf8\"},\"container_config\":{"
    "\"directory\":\"" + dirs().sandbox("bad-utf8") + "\",\"command_info\":{\"environment\":{\"variables\":["
    "{\"name\":\"DVDI_VOLUME_NAME\",\"type\":\"VALUE\",\"value\":\"a\xFF\"},"
    "{\"name\":\"DVDI_VOLUME_DRIVER\",\"type\":\"VALUE\",\"value\":\"loop\"}]}}}}";
  Reply r = bridge->callSync("prepare", request, TIMEOUT_MS);
  EXPECT_FALSE(r.ok);
  EXPECT_EQ("INVALID_REQUEST", r.code) << r.describe();
  EXPECT_TRUE(dvdi::utf::valid(r.message)) << r.message;
  EXPECT_NO_THROW(json(r.describe()).dump());

  Reply m = bridge->callSync("ping\xC3", "{}", TIMEOUT_MS);
  EXPECT_EQ("INVALID_REQUEST", m.code) << m.describe();
  EXPECT_TRUE(dvdi::utf::valid(m.message)) << m.message;
  EXPECT_FALSE(testing_::result(cleanup("bad-utf8")).value("known", true));
}


TEST_F(BridgeTest, MalformedJsonFailsAsAReplyNotACrash)
{
  Reply r = bridge->callSync("prepare", "{not json", TIMEOUT_MS);
  EXPECT_FALSE(r.ok);
  EXPECT_FALSE(r.code.empty());
  EXPECT_FALSE(r.message.empty());
}


TEST_F(BridgeTest, MetricsAreAFlatObjectOfNumbers)
{
  Reply r = bridge->callSync("metrics", "{}", TIMEOUT_MS);
  ASSERT_TRUE(r.ok) << r.describe();
  json m = testing_::result(r);
  ASSERT_TRUE(m.is_object()) << r.result;
  EXPECT_TRUE(m.contains("volumes_mounted")) << r.result;
  for (json::iterator it = m.begin(); it != m.end(); ++it) {
    EXPECT_TRUE(it.value().is_number()) << it.key();
  }
}


TEST_F(BridgeTest, CreateReturnsTheOneBridgeOfTheProcess)
{
  std::string error;
  EXPECT_EQ(bridge, Bridge::create(BridgeEnvironment::options, &error)) << error;

  BridgeOptions other = BridgeEnvironment::options;
  other.initArgs = dirs().initArgs(json{{"workers", "4"}});
  EXPECT_EQ(nullptr, Bridge::create(other, &error));
  EXPECT_NE(std::string::npos, error.find("INVALID_CONFIG")) << error;

  // A copy of the jar at another path is another jar.
  std::string copy = dirs().root + "/copy.jar";
  ASSERT_EQ(0, system(("cp '" + BridgeEnvironment::options.jar + "' '" + copy + "'").c_str()));
  other = BridgeEnvironment::options;
  other.jar = copy;
  EXPECT_EQ(nullptr, Bridge::create(other, &error));
  EXPECT_NE(std::string::npos, error.find("jar")) << error;
  ::unlink(copy.c_str());

  // And it still works.
  EXPECT_TRUE(bridge->callSync("ping", "", TIMEOUT_MS).ok);
}


TEST_F(BridgeTest, CallSyncTimesOutWithATimeoutReply)
{
  REQUIRE_ROOT();
  // A cold prepare (create, format, mount) takes far more than 1 ms.
  Reply r = bridge->callSync(
      "prepare", testing_::prepareRequest("slow", dirs().sandbox("slow"), volume("slow")), 1);
  EXPECT_FALSE(r.ok);
  EXPECT_EQ("TIMEOUT", r.code);
  // The call goes on; wait for it to settle, then clean up.
  for (int i = 0; i < 1200 && bridge->pending() > 0; i++) {
    usleep(100 * 1000);
  }
  Reply c = cleanup("slow");
  EXPECT_TRUE(c.ok) << c.describe();
  EXPECT_EQ(0, testing_::mountCount(hostPath("slow")));
}


TEST_F(BridgeTest, finding8_CallPastItsDeadlineTimesOutOnceAndItsLateReplyIsIgnored)
{
  REQUIRE_ROOT();
  // A cold prepare (create, format, mount) takes far more than 1 ms: Java's
  // reply comes after the deadline, as a lost-then-found completion would.
  const size_t before = BridgeEnvironment::logLines().size();
  testing_::Collector c(1);
  bridge->call("prepare", testing_::prepareRequest("late", dirs().sandbox("late"), volume("late")),
               c.callback(0), 1);
  ASSERT_TRUE(c.waitAll(TIMEOUT_MS)) << "the deadline completes the call";
  Reply r = c.replies()[0];
  EXPECT_FALSE(r.ok);
  EXPECT_EQ("TIMEOUT", r.code) << r.describe();
  EXPECT_NE(std::string::npos, r.message.find("'prepare' got no reply from Java within 1 ms")) << r.message;

  // Java finishes; its reply is recognised as late and dropped.
  for (int i = 0; i < 1200 && bridge->pending() > 0; i++) {
    usleep(100 * 1000);
  }
  EXPECT_EQ(0, bridge->pending());
  EXPECT_EQ(1u, c.completed());
  EXPECT_EQ(0u, c.duplicates()) << "no second completion";
  std::vector<std::string> log = BridgeEnvironment::logLines();
  bool late = false;
  for (size_t i = before; i < log.size(); i++) {
    late = late || (log[i].find("late reply of bridge call") != std::string::npos
                    && log[i].find("'prepare'") != std::string::npos);
  }
  EXPECT_TRUE(late) << "the late reply is logged";

  Reply cleaned = cleanup("late");
  EXPECT_TRUE(cleaned.ok) << cleaned.describe();
  EXPECT_EQ(0, testing_::mountCount(hostPath("late")));
}


TEST_F(BridgeTest, CallWithADeadlineThatJavaMeetsCompletesWithItsReply)
{
  testing_::Collector c(20);
  for (size_t i = 0; i < 20; i++) {
    bridge->call("ping", "{}", c.callback(i), TIMEOUT_MS);
  }
  ASSERT_TRUE(c.waitAll(TIMEOUT_MS));
  for (const Reply& r : c.replies()) {
    EXPECT_TRUE(r.ok) << r.describe();
  }
  EXPECT_EQ(0u, c.duplicates());
  EXPECT_EQ(0, bridge->pending());
}


// ---------------------------------------------------------------- root: loop volumes

TEST_F(BridgeTest, PrepareAndCleanupALoopVolume)
{
  REQUIRE_ROOT();
  const std::string sandbox = dirs().sandbox("single");
  Reply r = prepare("single", volume("single", "data"));
  ASSERT_TRUE(r.ok) << r.describe();
  json p = testing_::result(r);

  ASSERT_TRUE(p.contains("launch_info")) << r.result;
  const json& li = p["launch_info"];
  EXPECT_EQ(json::array({131072}), li["clone_namespaces"]) << r.result;
  ASSERT_EQ(1u, li["mounts"].size()) << r.result;
  const json& m = li["mounts"][0];
  EXPECT_EQ(hostPath("single"), m.value("source", ""));
  EXPECT_EQ(sandbox + "/data", m.value("target", ""));
  EXPECT_EQ(MS_BIND | MS_REC, m.value("flags", 0));

  ASSERT_EQ(1u, p["volumes"].size());
  EXPECT_EQ("loop", p["volumes"][0].value("driver", ""));
  EXPECT_EQ("single", p["volumes"][0].value("name", ""));
  EXPECT_FALSE(p["volumes"][0].value("fast_path", true));
  EXPECT_FALSE(p["volumes"][0].value("read_only", true));

  EXPECT_EQ(1, testing_::mountCount(hostPath("single"))) << "the host path is a mount point";
  EXPECT_EQ(1u, testing_::loopsBackedBy(dirs().pool).size());

  Reply c = cleanup("single");
  ASSERT_TRUE(c.ok) << c.describe();
  json cr = testing_::result(c);
  EXPECT_TRUE(cr.value("known", false));
  EXPECT_EQ(json::array({"loop/single"}), cr["released"]) << c.result;
  EXPECT_EQ(0, testing_::mountCount(hostPath("single")));
  EXPECT_TRUE(testing_::loopsBackedBy(dirs().pool).empty());

  // An unknown container is fine.
  Reply again = cleanup("single");
  ASSERT_TRUE(again.ok) << again.describe();
  EXPECT_FALSE(testing_::result(again).value("known", true));
}


TEST_F(BridgeTest, ReadOnlyVolumeIsBoundReadOnly)
{
  REQUIRE_ROOT();
  std::map<std::string, std::string> env = volume("ro", "ro");
  env["DVDI_VOLUME_READONLY"] = "true";
  Reply r = prepare("ro", env);
  ASSERT_TRUE(r.ok) << r.describe();
  json p = testing_::result(r);
  EXPECT_EQ(MS_BIND | MS_REC | MS_RDONLY, p["launch_info"]["mounts"][0].value("flags", 0)) << r.result;
  EXPECT_TRUE(p["volumes"][0].value("read_only", false));
  ASSERT_TRUE(cleanup("ro").ok);
  EXPECT_EQ(0, testing_::mountCount(hostPath("ro")));
}


// Applies the launch info's mounts in a child process, in a new mount namespace
// with / rslave, as Mesos's launcher does: one mount(2) per entry, in order
// (1.5-1.7), and with fs::mount's read-only remount after a read-only bind
// (MS_BIND|MS_RDONLY|MS_REC only) when mesos18 (1.8+). Returns 0 when the
// target ends read-only, nosuid and nodev, 1 when it does not, 2 when a mount
// failed.
int applyAsTheLauncherDoes(const json& launchInfo, const std::string& target, bool mesos18)
{
  pid_t pid = ::fork();
  if (pid == 0) {
    if (::unshare(CLONE_NEWNS) != 0 || ::mount(nullptr, "/", nullptr, MS_SLAVE | MS_REC, nullptr) != 0) {
      _exit(2);
    }
    for (const json& m : launchInfo["mounts"]) {
      std::string source = m.value("source", std::string());
      std::string to = m.value("target", std::string());
      unsigned long flags = m.value("flags", 0ul);
      if (::mount(source.empty() ? nullptr : source.c_str(), to.c_str(), nullptr, flags, nullptr) != 0) {
        _exit(2);
      }
      if (mesos18 && (flags & (MS_BIND | MS_RDONLY | MS_REMOUNT)) == (MS_BIND | MS_RDONLY) &&
          ::mount(nullptr, to.c_str(), nullptr, MS_REMOUNT | (flags & (MS_BIND | MS_RDONLY | MS_REC)), nullptr) != 0) {
        _exit(2);
      }
    }
    struct statvfs fs;
    const unsigned long want = ST_RDONLY | ST_NOSUID | ST_NODEV;
    _exit(::statvfs(target.c_str(), &fs) == 0 && (fs.f_flag & want) == want ? 0 : 1);
  }
  int status = 0;
  ::waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 3;
}


TEST_F(BridgeTest, finding7_ReadOnlyBindIsReadOnlyNosuidNodevUnderTheLaunchersOfMesos1_6And1_8)
{
  REQUIRE_ROOT();
  std::map<std::string, std::string> env = volume("ro16", "ro16");
  env["DVDI_VOLUME_READONLY"] = "true";
  Reply r = prepare("ro16", env);
  ASSERT_TRUE(r.ok) << r.describe();
  const std::string target = dirs().sandbox("ro16") + "/ro16";

  std::string li;
  std::string error;
  ASSERT_TRUE(dvdi::launchInfoOf(r.result, &li, &error)) << error;
  EXPECT_EQ(0, applyAsTheLauncherDoes(json::parse(li), target, false)) << "Mesos 1.5-1.7: " << li;
  EXPECT_EQ(0, applyAsTheLauncherDoes(json::parse(li), target, true)) << "Mesos 1.8+: " << li;
  json bindOnly = json::parse(li);
  bindOnly["mounts"].erase(1);
  EXPECT_EQ(1, applyAsTheLauncherDoes(bindOnly, target, false))
    << "the kernel ignores MS_RDONLY on a first bind";
  EXPECT_EQ(1, applyAsTheLauncherDoes(bindOnly, target, true))
    << "Mesos 1.8+'s own remount drops nosuid,nodev";

  EXPECT_EQ(0, testing_::mountCount(target)) << "nothing reached the host's mount namespace";
  ASSERT_TRUE(cleanup("ro16").ok);
  EXPECT_EQ(0, testing_::mountCount(hostPath("ro16")));
}


TEST_F(BridgeTest, VolumeWithoutContainerPathExportsItsHostPath)
{
  REQUIRE_ROOT();
  Reply r = prepare("nopath", volume("nopath"));
  ASSERT_TRUE(r.ok) << r.describe();
  json li = testing_::result(r)["launch_info"];
  EXPECT_FALSE(li.contains("mounts")) << li.dump();
  ASSERT_TRUE(li.contains("environment")) << li.dump();
  json var = li["environment"]["variables"][0];
  EXPECT_EQ("DVDI_HOSTPATH", var.value("name", ""));
  EXPECT_EQ(hostPath("nopath"), var.value("value", ""));
  ASSERT_TRUE(cleanup("nopath").ok);
}


TEST_F(BridgeTest, NoVolumesMeansNoLaunchInfo)
{
  Reply r = prepare("novolumes", std::map<std::string, std::string>());
  ASSERT_TRUE(r.ok) << r.describe();
  json p = testing_::result(r);
  EXPECT_FALSE(p.contains("launch_info")) << r.result;
  EXPECT_TRUE(p["volumes"].empty());
  ASSERT_TRUE(cleanup("novolumes").ok);
}


TEST_F(BridgeTest, SharedVolumeIsReleasedAfterBothCleanups)
{
  REQUIRE_ROOT();
  Reply a = prepare("share-a", volume("shared", "data"));
  ASSERT_TRUE(a.ok) << a.describe();
  Reply b = prepare("share-b", volume("shared", "data"));
  ASSERT_TRUE(b.ok) << b.describe();
  EXPECT_TRUE(testing_::result(b)["volumes"][0].value("fast_path", false)) << b.result;
  EXPECT_EQ(1, testing_::mountCount(hostPath("shared")));

  Reply ca = cleanup("share-a");
  ASSERT_TRUE(ca.ok) << ca.describe();
  EXPECT_TRUE(testing_::result(ca)["released"].empty()) << ca.result;
  EXPECT_EQ(1, testing_::mountCount(hostPath("shared"))) << "still used by share-b";

  Reply cb = cleanup("share-b");
  ASSERT_TRUE(cb.ok) << cb.describe();
  EXPECT_EQ(json::array({"loop/shared"}), testing_::result(cb)["released"]) << cb.result;
  EXPECT_EQ(0, testing_::mountCount(hostPath("shared")));
}


TEST_F(BridgeTest, MultiVolumeRequestIsAllOrNothing)
{
  REQUIRE_ROOT();
  std::map<std::string, std::string> env;
  env["DVDI_VOLUME_NAME"] = "first";
  env["DVDI_VOLUME_NAME1"] = "second";
  env["DVDI_VOLUME_NAME2"] = "missing";
  env["DVDI_VOLUME_EXPLICITCREATE2"] = "true";
  Reply r = prepare("aon", env);
  EXPECT_FALSE(r.ok);
  EXPECT_EQ("VOLUME_NOT_FOUND", r.code) << r.describe();
  EXPECT_NE(std::string::npos, r.message.find("loop/missing")) << r.message;
  EXPECT_EQ(0, testing_::mountCount(hostPath("first")));
  EXPECT_EQ(0, testing_::mountCount(hostPath("second")));
  EXPECT_TRUE(testing_::mountsUnder(dirs().mounts).empty());
  // The container is forgotten.
  EXPECT_FALSE(testing_::result(cleanup("aon")).value("known", true));
}


TEST_F(BridgeTest, RecoverReleasesTheVolumesOfContainersThatAreGone)
{
  REQUIRE_ROOT();
  ASSERT_TRUE(prepare("rec-1", volume("rec-1")).ok);
  ASSERT_TRUE(prepare("rec-2", volume("rec-2")).ok);

  json request;
  request["states"] = json::array({json{{"container_id", testing_::containerId("rec-1")}}});
  request["orphans"] = json::array();
  Reply r = bridge->callSync("recover", request.dump(), TIMEOUT_MS);
  ASSERT_TRUE(r.ok) << r.describe();
  json rr = testing_::result(r);
  EXPECT_TRUE(contains(rr["kept_containers"], "rec-1")) << r.result;
  EXPECT_TRUE(contains(rr["released_containers"], "rec-2")) << r.result;
  EXPECT_TRUE(contains(rr["kept_volumes"], "loop/rec-1")) << r.result;
  // rec-2's volume is released by cleaning up rec-2; "released_volumes" lists
  // only volumes that had no user (the Java side does not add those released
  // through a container's cleanup), so the kernel is what is checked here.
  EXPECT_EQ(1, testing_::mountCount(hostPath("rec-1")));
  EXPECT_EQ(0, testing_::mountCount(hostPath("rec-2")));

  Reply c = cleanup("rec-1");
  ASSERT_TRUE(c.ok) << c.describe();
  EXPECT_EQ(0, testing_::mountCount(hostPath("rec-1")));
}


TEST_F(BridgeTest, HundredConcurrentPreparesOverTwentyVolumes)
{
  REQUIRE_ROOT();
  const size_t N = 100;
  const size_t VOLUMES = 20;
  std::vector<std::string> ids;
  for (size_t i = 0; i < N; i++) {
    ids.push_back("many-" + std::to_string(i));
    dirs().sandbox(ids.back());
  }

  testing_::Collector prepared(N);
  for (size_t i = 0; i < N; i++) {
    bridge->call("prepare",
                 testing_::prepareRequest(ids[i], dirs().sandbox(ids[i]),
                                          volume("many-" + std::to_string(i % VOLUMES), "data")),
                 prepared.callback(i));
  }
  ASSERT_TRUE(prepared.waitAll(TIMEOUT_MS)) << prepared.completed() << " of " << N << " prepares completed";
  EXPECT_EQ(0u, prepared.duplicates());
  std::vector<Reply> replies = prepared.replies();
  for (size_t i = 0; i < N; i++) {
    EXPECT_TRUE(replies[i].ok) << ids[i] << ": " << replies[i].describe();
  }
  for (size_t v = 0; v < VOLUMES; v++) {
    EXPECT_EQ(1, testing_::mountCount(hostPath("many-" + std::to_string(v))))
      << "volume many-" << v << " must be mounted exactly once while used";
  }
  EXPECT_EQ(VOLUMES, testing_::loopsBackedBy(dirs().pool).size());

  testing_::Collector cleaned(N);
  for (size_t i = 0; i < N; i++) {
    bridge->call("cleanup", testing_::cleanupRequest(ids[i]), cleaned.callback(i));
  }
  ASSERT_TRUE(cleaned.waitAll(TIMEOUT_MS)) << cleaned.completed() << " of " << N << " cleanups completed";
  EXPECT_EQ(0u, cleaned.duplicates());
  std::multiset<std::string> released;
  replies = cleaned.replies();
  for (size_t i = 0; i < N; i++) {
    ASSERT_TRUE(replies[i].ok) << ids[i] << ": " << replies[i].describe();
    json c = testing_::result(replies[i]);
    EXPECT_TRUE(c["failures"].empty()) << c.dump();
    for (size_t k = 0; k < c["released"].size(); k++) {
      released.insert(c["released"][k].get<std::string>());
    }
  }
  EXPECT_EQ(VOLUMES, released.size()) << "each volume released once, by its last user";
  EXPECT_EQ(VOLUMES, std::set<std::string>(released.begin(), released.end()).size());
  EXPECT_TRUE(testing_::mountsUnder(dirs().mounts).empty());
  EXPECT_TRUE(testing_::loopsBackedBy(dirs().pool).empty());
}

} // namespace {


int main(int argc, char** argv)
{
  ::testing::InitGoogleTest(&argc, argv);
  ::testing::AddGlobalTestEnvironment(new BridgeEnvironment());
  int rc = RUN_ALL_TESTS();
  return rc != 0 || BridgeEnvironment::leftSomething ? 1 : 0;
}
