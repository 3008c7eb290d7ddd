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


TEST(ModuleParameters, BadOnesNameTheParameterAndTheRule)
{
  struct Case
  {
    std::map<std::string, std::string> params;
    std::string expected;
  };
  std::vector<Case> cases = {
    {{{"statedir", "/s"}}, "unknown module parameter 'statedir'; known: jar, libjvm"},
    {{{"bridge_threads", "0"}}, "'bridge_threads' is '0': must be a whole number from 1 to 16"},
    {{{"bridge_threads", "two"}}, "'bridge_threads' is 'two'"},
    {{{"jvm_options", "Xmx64m"}}, "'jvm_options' has 'Xmx64m': JVM options start with '-'"},
    {{{"settings", "a=b;nokey"}}, "'settings' has 'nokey': items are key=value"},
    {{{"jar", "relative.jar"}}, "'jar' is 'relative.jar': must be the absolute path"},
    {{{"jar", "/no/such/dvdi.jar"}}, "/no/such/dvdi.jar does not exist"},
    {{{"libjvm", "/no/libjvm.so"}}, "'libjvm': /no/libjvm.so does not exist"},
    {{{"state_dir", ""}}, "'state_dir' is empty"},
  };
  for (const Case& c : cases) {
    ModuleConfig config;
    std::string error;
    EXPECT_FALSE(parse(c.params, &config, &error)) << c.expected;
    EXPECT_NE(std::string::npos, error.find(c.expected)) << error;
  }
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


TEST(Translate, LaunchInfoOfPrepareResults)
{
  std::string li;
  std::string error;
  ASSERT_TRUE(launchInfoOf(
      "{\"launch_info\":{\"clone_namespaces\":[131072],\"mounts\":[{\"source\":\"/v\",\"target\":\"/t\",\"flags\":20481}]},"
      "\"volumes\":[]}", &li, &error));
  nlohmann::json j = nlohmann::json::parse(li);
  EXPECT_EQ(131072, j["clone_namespaces"][0]);
  EXPECT_EQ(20481, j["mounts"][0]["flags"]);

  ASSERT_TRUE(launchInfoOf("{\"volumes\":[]}", &li, &error));
  EXPECT_EQ("", li) << "no volumes: no launch info";

  EXPECT_FALSE(launchInfoOf("[1]", &li, &error));
  EXPECT_NE(std::string::npos, error.find("dvdi INTERNAL"));
  EXPECT_FALSE(launchInfoOf("{\"launch_info\":7}", &li, &error));
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
