// Bridge::create with a configuration Java refuses: create() returns nullptr
// with the code (the process goes on), and a later create() with a good
// configuration starts dvdi in the same JVM. Its own binary: it needs a
// process whose bridge has not been initialised yet.

#include <unistd.h>

#include <string>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "bridge.hpp"
#include "support.hpp"

using nlohmann::json;

using dvdi::Bridge;
using dvdi::BridgeOptions;
using dvdi::Reply;

namespace testing_ = dvdi::testing;

namespace {

class ConfigTest : public ::testing::Test
{
protected:
  static void SetUpTestSuite()
  {
    ASSERT_TRUE(dirs.make("dvdi-config-test-"));
  }

  static void TearDownTestSuite()
  {
    std::string error;
    EXPECT_TRUE(testing_::removeTree(dirs.root, &error)) << error;
  }

  BridgeOptions options(const std::string& initArgs) const
  {
    BridgeOptions o;
    o.jar = testing_::jar();
    o.libjvm = testing_::libjvm();
    o.jvmOptions.push_back("-Xcheck:jni");
    o.initArgs = initArgs;
    o.log = [](int level, const std::string& message) {
      if (level > 0 || ::getenv("DVDI_TEST_VERBOSE") != nullptr) {
        fprintf(stderr, "[dvdi %d] %s\n", level, message.c_str());
      }
    };
    return o;
  }

  static testing_::Dirs dirs;
};

testing_::Dirs ConfigTest::dirs;


TEST_F(ConfigTest, MissingJarFailsClearlyBeforeAnythingStarts)
{
  BridgeOptions o = options(dirs.initArgs());
  o.jar = dirs.root + "/no-such.jar";
  std::string error;
  EXPECT_EQ(nullptr, Bridge::create(o, &error));
  EXPECT_NE(std::string::npos, error.find("INVALID_CONFIG")) << error;
  EXPECT_NE(std::string::npos, error.find("no-such.jar")) << error;
}


TEST_F(ConfigTest, ClassPathMayNotBeOverridden)
{
  BridgeOptions o = options(dirs.initArgs());
  o.jvmOptions.push_back("-Djava.class.path=/elsewhere.jar");
  std::string error;
  EXPECT_EQ(nullptr, Bridge::create(o, &error));
  EXPECT_NE(std::string::npos, error.find("class path")) << error;
}


TEST_F(ConfigTest, UnknownSettingIsInvalidConfigThenAGoodConfigWorks)
{
  std::string error;
  BridgeOptions bad = options(dirs.initArgs(json{{"no.such.key", "1"}}));
  EXPECT_EQ(nullptr, Bridge::create(bad, &error));
  EXPECT_NE(std::string::npos, error.find("dvdi INVALID_CONFIG")) << error;
  EXPECT_NE(std::string::npos, error.find("no.such.key")) << error;

  // Again: still refused, nothing else broke.
  EXPECT_EQ(nullptr, Bridge::create(bad, &error));
  EXPECT_NE(std::string::npos, error.find("INVALID_CONFIG")) << error;

  BridgeOptions good = options(dirs.initArgs());
  Bridge* bridge = Bridge::create(good, &error);
  ASSERT_NE(nullptr, bridge) << error;
  json init = json::parse(bridge->initResult(), nullptr, false);
  EXPECT_EQ(dirs.state, init.value("state_dir", "")) << bridge->initResult();

  Reply ping = bridge->callSync("ping", "", 60000);
  EXPECT_TRUE(ping.ok) << ping.describe();

  EXPECT_EQ(bridge, Bridge::create(good, &error)) << error;
  // Now that dvdi runs, other parameters are refused.
  EXPECT_EQ(nullptr, Bridge::create(bad, &error));
  EXPECT_NE(std::string::npos, error.find("INVALID_CONFIG")) << error;
}

} // namespace {
