// The Mesos adapter's Mesos-independent parts: module parameters and the
// translation between Mesos messages (as JSON) and the bridge. No JVM, no Mesos.

#include <stdlib.h>

#include <map>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "mesos/module_params.hpp"
#include "mesos/translate.hpp"

namespace dvdi {
namespace {

std::string jar()
{
  const char* j = getenv("DVDI_JAR");
  return j ? j : "";
}

bool parse(const std::map<std::string, std::string>& p, ModuleConfig* c, std::string* error)
{
  return parseModuleParameters(p, jar(), c, error);
}


TEST(ModuleParameters, DefaultsMakeAnInitRequestWithNativeLogging)
{
  ModuleConfig c;
  std::string error;
  ASSERT_TRUE(parse({}, &c, &error)) << error;
  EXPECT_EQ(jar(), c.bridge.jar);
  EXPECT_EQ(2, c.bridge.threads);
  nlohmann::json init = nlohmann::json::parse(c.bridge.initArgs);
  EXPECT_EQ("", init["config_file"]);
  EXPECT_TRUE(init["settings"].empty());
  EXPECT_TRUE(init["native_log"].get<bool>());
  EXPECT_EQ(10 * 60 * 1000, c.prepareTimeoutMs);
  EXPECT_EQ(10 * 60 * 1000, c.cleanupTimeoutMs);
}


TEST(ModuleParameters, finding8_PrepareAndCleanupTimeoutsAreDurations)
{
  struct Case
  {
    std::string value;
    int ms;
  };
  for (const Case& t : std::vector<Case>{{"90s", 90000}, {"2m", 120000}, {"500ms", 500}, {"1h", 3600000},
                                         {"45", 45000}, {"24h", 24 * 3600000}}) {
    ModuleConfig c;
    std::string error;
    ASSERT_TRUE(parse({{"prepare_timeout", t.value}, {"cleanup_timeout", t.value}}, &c, &error)) << error;
    EXPECT_EQ(t.ms, c.prepareTimeoutMs) << t.value;
    EXPECT_EQ(t.ms, c.cleanupTimeoutMs) << t.value;
    nlohmann::json init = nlohmann::json::parse(c.bridge.initArgs);
    EXPECT_TRUE(init["settings"].empty()) << "the adapter's own, not a dvdi setting";
  }
}


TEST(ModuleParameters, RecoverTimeoutIsDvdisRecoverBoundPlusAMarginUnlessGiven)
{
  ModuleConfig c;
  std::string error;
  ASSERT_TRUE(parse({}, &c, &error)) << error;
  EXPECT_EQ(0, c.recoverTimeoutMs) << "not given";
  EXPECT_EQ(510000 + ModuleConfig::RECOVER_MARGIN_MS,
            recoverTimeoutMs("{\"instance_id\":\"a\",\"recover_bound_ms\":510000}", c.recoverTimeoutMs));
  EXPECT_EQ(DEFAULT_RECOVER_TIMEOUT_MS, recoverTimeoutMs("{\"instance_id\":\"a\"}", 0)) << "an older jar";
  EXPECT_EQ(DEFAULT_RECOVER_TIMEOUT_MS, recoverTimeoutMs("not json", 0));
  EXPECT_EQ(DEFAULT_RECOVER_TIMEOUT_MS, recoverTimeoutMs("{\"recover_bound_ms\":-5}", 0));

  ModuleConfig given;
  ASSERT_TRUE(parse({{"recover_timeout", "20m"}}, &given, &error)) << error;
  EXPECT_EQ(20 * 60000, recoverTimeoutMs("{\"recover_bound_ms\":510000}", given.recoverTimeoutMs));

  ModuleConfig bad;
  ASSERT_FALSE(parse({{"recover_timeout", "soon"}}, &bad, &error));
  EXPECT_NE(std::string::npos, error.find("'recover_timeout'")) << error;
}


TEST(ModuleParameters, MapToSettingsAndBridgeOptions)
{
  ModuleConfig c;
  std::string error;
  ASSERT_TRUE(parse({{"state_dir", "/s"}, {"mount_root", "/m"}, {"instance_id", "agent1"},
                     {"default_driver", "loop"}, {"config_file", "/etc/x.properties"},
                     {"settings", " providers.loop.pool=/p ; timeout.mount=30s;"},
                     {"jvm_options", "-Xmx96m  -Xcheck:jni"}, {"bridge_threads", "4"},
                     {"work_dir", "/tmp/mesos"}},
                    &c, &error)) << error;
  nlohmann::json init = nlohmann::json::parse(c.bridge.initArgs);
  EXPECT_EQ("/etc/x.properties", init["config_file"]);
  EXPECT_EQ("/s", init["settings"]["state.dir"]);
  EXPECT_EQ("/m", init["settings"]["mount.root"]);
  EXPECT_EQ("agent1", init["settings"]["instance.id"]);
  EXPECT_EQ("loop", init["settings"]["driver.default"]);
  EXPECT_EQ("/p", init["settings"]["providers.loop.pool"]);
  EXPECT_EQ("30s", init["settings"]["timeout.mount"]);
  EXPECT_EQ((std::vector<std::string>{"-Xmx96m", "-Xcheck:jni"}), c.bridge.jvmOptions);
  EXPECT_EQ(4, c.bridge.threads);
  ASSERT_EQ(1u, c.warnings.size());
  EXPECT_NE(std::string::npos, c.warnings[0].find("'work_dir'"));
}


// Parameters the module refuses, and (a part of) the error each gives.
struct Refused
{
  std::map<std::string, std::string> params;
  std::string expected;
};

void expectRefused(const std::vector<Refused>& cases)
{
  for (const Refused& c : cases) {
    ModuleConfig config;
    std::string error;
    EXPECT_FALSE(parse(c.params, &config, &error)) << c.expected;
    EXPECT_NE(std::string::npos, error.find(c.expected)) << error;
  }
}


TEST(ModuleParameters, BadOnesNameTheParameterAndTheRule)
{
  expectRefused({
    {{{"statedir", "/s"}}, "unknown module parameter 'statedir'; known: jar, libjvm"},
    {{{"bridge_threads", "0"}}, "'bridge_threads' is '0': must be a whole number from 1 to 16"},
    {{{"bridge_threads", "two"}}, "'bridge_threads' is 'two'"},
    {{{"jvm_options", "Xmx64m"}}, "'jvm_options' has 'Xmx64m': JVM options start with '-'"},
    {{{"settings", "a=b;nokey"}}, "'settings' has 'nokey': items are key=value"},
    {{{"jar", "relative.jar"}}, "'jar' is 'relative.jar': must be the absolute path"},
    {{{"jar", "/no/such/dvdi.jar"}}, "/no/such/dvdi.jar does not exist"},
    {{{"libjvm", "/no/libjvm.so"}}, "'libjvm': /no/libjvm.so does not exist"},
    {{{"state_dir", ""}}, "'state_dir' is empty"},
    {{{"prepare_timeout", "0s"}}, "'prepare_timeout' is '0s': must be a duration like 500ms, 30s, 2m or 1h, from 1ms to 24h"},
    {{{"prepare_timeout", "ten"}}, "'prepare_timeout' is 'ten': must be a duration"},
    {{{"cleanup_timeout", "-5s"}}, "'cleanup_timeout' is '-5s': must be a duration"},
    {{{"cleanup_timeout", "25h"}}, "'cleanup_timeout' is '25h': must be a duration"},
    {{{"cleanup_timeout", "99999999999999999999s"}}, "'cleanup_timeout' is '99999999999999999999s'"},
    {{{"cleanup_timeout", "5 s"}}, "'cleanup_timeout' is '5 s'"},
  });
}


TEST(ModuleParameters, finding12_TextThatIsNotUtf8IsRefusedNamingTheParameter)
{
  expectRefused({
    {{{"settings", "providers.loop.pool=/p\xFF"}}, "module parameter 'settings' is not valid UTF-8: 'providers.loop.pool=/p\\xff'"},
    {{{"state_dir", "/s\xC3"}}, "module parameter 'state_dir' is not valid UTF-8: '/s\\xc3'"},
    {{{"config_file", "/etc/\xFE\n"}}, "module parameter 'config_file' is not valid UTF-8: '/etc/\\xfe\\x0a'"},
    {{{"state\xFF" "dir\n", "/s"}}, "unknown module parameter 'state\\xffdir\\x0a'"},
  });
}


TEST(Translate, Requests)
{
  EXPECT_EQ("{\"container_id\":{\"value\":\"c\"},\"container_config\":{\"directory\":\"/s\"}}",
            prepareRequest("{\"value\":\"c\"}", "{\"directory\":\"/s\"}"));
  EXPECT_EQ("{\"container_id\":{\"value\":\"c\"}}", cleanupRequest("{\"value\":\"c\"}"));
  nlohmann::json r = nlohmann::json::parse(recoverRequest(
      {"{\"container_id\":{\"value\":\"a\"}}", "{\"container_id\":{\"value\":\"b\"}}"}, {"{\"value\":\"o\"}"}));
  EXPECT_EQ(2u, r["states"].size());
  EXPECT_EQ("b", r["states"][1]["container_id"]["value"]);
  EXPECT_EQ("o", r["orphans"][0]["value"]);
  EXPECT_EQ("{\"states\":[],\"orphans\":[]}", recoverRequest({}, {}));
}


TEST(Translate, finding12_TaskTextThatIsNotUtf8IsAnInvalidRequestShownEscaped)
{
  std::string error;
  EXPECT_TRUE(checkUtf8({{"DVDI_VOLUME_NAME", "caf\xC3\xA9\xF0\x9F\x98\x80"}, {"DVDI_VOLUME_READONLY", "true"}}, &error));
  EXPECT_TRUE(checkUtf8({}, &error));

  EXPECT_FALSE(checkUtf8({{"DVDI_VOLUME_NAME", "ok"}, {"DVDI_VOLUME_CONTAINERPATH1", "data\xFF\n"}}, &error));
  EXPECT_EQ("dvdi INVALID_REQUEST: DVDI_VOLUME_CONTAINERPATH1 is not valid UTF-8: 'data\\xff\\x0a'", error);

  EXPECT_FALSE(checkUtf8({{"DVDI_VOLUME_NAME\xC0", "v"}}, &error));
  EXPECT_EQ("dvdi INVALID_REQUEST: the name of variable 'DVDI_VOLUME_NAME\\xc0' is not valid UTF-8", error);

  EXPECT_FALSE(checkUtf8({{"container_info.volumes[0].source.docker_volume.name", std::string(500, '\xFF')}}, &error));
  EXPECT_EQ(0u, error.find("dvdi INVALID_REQUEST: container_info.volumes[0].source.docker_volume.name is not valid"));
  EXPECT_LT(error.size(), 1000u) << "the echo is capped";
  // The error itself can go into JSON (and a log line).
  EXPECT_NO_THROW(nlohmann::json(error).dump());
  EXPECT_EQ(std::string::npos, error.find('\n'));

  EXPECT_TRUE(isDvdiVariable("DVDI_VOLUME_NAME"));
  EXPECT_TRUE(isDvdiVariable("DVDI_VOLUME_FOO"));
  EXPECT_FALSE(isDvdiVariable("DVDI_HOSTPATH")) << "dvdi's export, not read";
  EXPECT_FALSE(isDvdiVariable("PATH"));
  EXPECT_FALSE(isDvdiVariable("DVDI"));
}




TEST(Translate, LaunchInfoOfPrepareResults)
{
  std::string li;
  std::string error;
  ASSERT_TRUE(launchInfoOf(
      "{\"launch_info\":{\"clone_namespaces\":[131072],\"mounts\":[{\"source\":\"/v\",\"target\":\"/t\",\"flags\":20481}]},"
      "\"volumes\":[]}", &li, &error));
  nlohmann::json j = nlohmann::json::parse(li);
  EXPECT_EQ(131072, j["clone_namespaces"][0]);
  ASSERT_EQ(2u, j["mounts"].size()) << li << " (a read-only bind and its remount)";
  EXPECT_EQ(20481, j["mounts"][0]["flags"]);

  ASSERT_TRUE(launchInfoOf("{\"volumes\":[]}", &li, &error));
  EXPECT_EQ("", li) << "no volumes: no launch info";

  EXPECT_FALSE(launchInfoOf("[1]", &li, &error));
  EXPECT_NE(std::string::npos, error.find("dvdi INTERNAL"));
  EXPECT_FALSE(launchInfoOf("{\"launch_info\":7}", &li, &error));
  EXPECT_FALSE(launchInfoOf("{\"launch_info\":{\"mounts\":{}}}", &li, &error));
  EXPECT_NE(std::string::npos, error.find("mounts")) << error;
}


// A prepare result with a read-only bind (MS_BIND|MS_REC|MS_RDONLY) and a
// read-write one (MS_BIND|MS_REC), as Java sends them.
const char* const RO_AND_RW =
  "{\"launch_info\":{\"clone_namespaces\":[131072],\"mounts\":["
  "{\"source\":\"/v/ro\",\"target\":\"/s/ro\",\"flags\":20481},"
  "{\"source\":\"/v/rw\",\"target\":\"/s/rw\",\"flags\":20480}]},\"volumes\":[]}";

nlohmann::json mounts()
{
  std::string li;
  std::string error;
  EXPECT_TRUE(launchInfoOf(RO_AND_RW, &li, &error)) << error;
  return nlohmann::json::parse(li, nullptr, false)["mounts"];
}


TEST(Translate, finding7_ReadOnlyBindIsRemountedReadOnlyNosuidNodev)
{
  // MS_REMOUNT|MS_BIND|MS_RDONLY|MS_NOSUID|MS_NODEV, no source, right after the
  // bind: read-only on Mesos 1.5-1.7 (which never remount), nosuid,nodev again
  // after Mesos 1.8+'s own remount (which drops them).
  const nlohmann::json remount = {{"target", "/s/ro"}, {"flags", 32 | 4096 | 1 | 2 | 4}};
  nlohmann::json m = mounts();
  ASSERT_EQ(3u, m.size()) << m.dump();
  EXPECT_EQ("/v/ro", m[0]["source"]);
  EXPECT_EQ(20481, m[0]["flags"]);
  EXPECT_EQ(remount, m[1]) << "right after its bind";
  EXPECT_EQ("/v/rw", m[2]["source"]);
  EXPECT_EQ(20480, m[2]["flags"]) << "a read-write bind keeps the volume's nosuid,nodev by itself";
}


TEST(Translate, CleanupFailuresAndRecoverSummary)
{
  EXPECT_EQ((std::vector<std::string>{"loop/a: dvdi VOLUME_BUSY: still in use"}),
            cleanupFailures("{\"known\":true,\"released\":[],\"failures\":[\"loop/a: dvdi VOLUME_BUSY: still in use\"]}"));
  EXPECT_TRUE(cleanupFailures("{\"known\":false,\"released\":[],\"failures\":[]}").empty());
  EXPECT_TRUE(cleanupFailures("garbage").empty());
  EXPECT_EQ("released_containers: [\"c2\"]; released_volumes: [\"loop/v\"]",
            recoverSummary("{\"kept_containers\":[],\"released_containers\":[\"c2\"],\"released_volumes\":[\"loop/v\"]}"));
  EXPECT_EQ("nothing to recover", recoverSummary("{\"kept_containers\":[]}"));
}

} // namespace {
} // namespace dvdi {
