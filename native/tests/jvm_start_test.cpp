// Starting the JVM with options it refuses: Bridge::create returns nullptr
// with the JVM's reason, later calls report it too (no second JVM start in
// one process), and the process goes on - even when the JVM gives up half-way
// and would have called exit()/abort() (the bridge's abort/exit hook ends
// only the starting thread). Each scenario needs a process without a JVM:
// the death test runs in a fresh process (threadsafe style re-executes this
// binary).

#include <stdio.h>
#include <stdlib.h>

#include <string>

#include <gtest/gtest.h>

#include "bridge.hpp"
#include "support.hpp"

using dvdi::Bridge;
using dvdi::BridgeOptions;

namespace testing_ = dvdi::testing;

namespace {

BridgeOptions options(const testing_::Dirs& dirs, const std::string& jvmOption)
{
  BridgeOptions o;
  o.jar = testing_::jar();
  o.libjvm = testing_::libjvm();
  if (!jvmOption.empty()) {
    o.jvmOptions.push_back(jvmOption);
  }
  o.initArgs = dirs.initArgs();
  o.log = [](int level, const std::string& message) {
    if (level > 0) {
      fprintf(stderr, "[dvdi %d] %s\n", level, message.c_str());
    }
  };
  return o;
}


TEST(JvmStartDeathTest, JvmGivingUpWhileStartingLeavesTheProcessAlive)
{
  ::testing::FLAGS_gtest_death_test_style = "threadsafe";
  EXPECT_EXIT({
      testing_::Dirs dirs;
      if (!dirs.make("dvdi-jvm-start-test-")) {
        exit(3);
      }
      std::string error;
      // Metaspace too small for java.base: HotSpot gives up during
      // initialisation (vm_exit_during_initialization).
      Bridge* b = Bridge::create(options(dirs, "-XX:MaxMetaspaceSize=1k"), &error);
      std::string again;
      Bridge* c = Bridge::create(options(dirs, ""), &again);
      std::string rm;
      testing_::removeTree(dirs.root, &rm);
      fprintf(stderr, "survived: %s | %s\n", error.c_str(), again.c_str());
      exit(b == nullptr && c == nullptr ? 0 : 4);
    },
    ::testing::ExitedWithCode(0),
    "survived: .*gave up while starting.*\\| .*gave up while starting");
}


TEST(JvmStart, RefusedOptionIsAnErrorAndFinalForTheProcess)
{
  testing_::Dirs dirs;
  ASSERT_TRUE(dirs.make("dvdi-jvm-start-test-"));
  testing_::RemoveAtExit remove(dirs.root);
  std::string error;
  EXPECT_EQ(nullptr, Bridge::create(options(dirs, "-XX:+NoSuchDvdiFlag"), &error));
  EXPECT_NE(std::string::npos, error.find("JNI_CreateJavaVM failed")) << error;
  EXPECT_NE(std::string::npos, error.find("-XX:+NoSuchDvdiFlag")) << error;

  // HotSpot would accept a second start, but not cleanly (its arguments are
  // not reset): the bridge does not try again.
  EXPECT_EQ(nullptr, Bridge::create(options(dirs, ""), &error));
  EXPECT_NE(std::string::npos, error.find("cannot be started again")) << error;
  EXPECT_NE(std::string::npos, error.find("-XX:+NoSuchDvdiFlag")) << error;
}

} // namespace {
