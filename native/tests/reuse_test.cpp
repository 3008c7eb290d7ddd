// A process that has a JVM already (started here the way a host application
// would, with its own class path and no dvdi jar): the bridge reuses it,
// loads the jar through a URLClassLoader, registers its natives on that
// loader's Native class, and works as usual.

#include <dlfcn.h>
#include <jni.h>
#include <stdio.h>
#include <unistd.h>

#include <string>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "bridge.hpp"
#include "jvm.hpp"
#include "support.hpp"

using dvdi::Bridge;
using dvdi::BridgeOptions;

namespace testing_ = dvdi::testing;

namespace {

typedef jint (JNICALL *CreateJavaVM)(JavaVM**, void**, void*);


// The host's JVM: created on a thread of its own, as the bridge would.
bool startHostJvm(std::string* error)
{
  std::string libjvm;
  if (!dvdi::findLibjvm(testing_::libjvm(), &libjvm, error)) {
    return false;
  }
  void* handle = dlopen(libjvm.c_str(), RTLD_NOW | RTLD_GLOBAL);
  if (handle == nullptr) {
    *error = dlerror();
    return false;
  }
  CreateJavaVM create = reinterpret_cast<CreateJavaVM>(dlsym(handle, "JNI_CreateJavaVM"));
  bool ok = false;
  std::string e;
  if (!dvdi::startThread("host-jvm", 8 << 20, [&]() {
        JavaVMOption options[3];
        options[0].optionString = const_cast<char*>("-Xrs");
        options[1].optionString = const_cast<char*>("-Xcheck:jni");
        options[2].optionString = const_cast<char*>("-Djava.class.path=/nonexistent-host-app.jar");
        JavaVMInitArgs args;
        args.version = JNI_VERSION_1_8;
        args.nOptions = 3;
        args.options = options;
        args.ignoreUnrecognized = JNI_FALSE;
        JavaVM* vm = nullptr;
        JNIEnv* env = nullptr;
        jint rc = create(&vm, reinterpret_cast<void**>(&env), &args);
        if (rc == JNI_OK) {
          vm->DetachCurrentThread();
          ok = true;
        } else {
          e = "JNI_CreateJavaVM: " + std::to_string(rc);
        }
      }, error)) {
    return false;
  }
  // The thread is detached: wait for it by polling its result.
  for (int i = 0; i < 600 && !ok && e.empty(); i++) {
    usleep(100 * 1000);
  }
  *error = e;
  return ok;
}


TEST(Reuse, BridgeUsesTheJvmTheProcessHas)
{
  testing_::Dirs dirs;
  ASSERT_TRUE(dirs.make("dvdi-reuse-test-"));
  testing_::RemoveAtExit remove(dirs.root);

  std::string error;
  ASSERT_TRUE(startHostJvm(&error)) << error;
  BridgeOptions o;
  o.jar = testing_::jar();
  o.libjvm = testing_::libjvm();
  o.initArgs = dirs.initArgs();
  Bridge* bridge = Bridge::create(o, &error);
  ASSERT_NE(nullptr, bridge) << error;
  EXPECT_TRUE(bridge->jvmReused());

  dvdi::Reply ping = bridge->callSync("ping", "", 60000);
  EXPECT_TRUE(ping.ok) << ping.describe();
  dvdi::Reply bad = bridge->callSync("nope", "{}", 60000);
  EXPECT_EQ("INVALID_REQUEST", bad.code) << bad.describe();
  nlohmann::json init = nlohmann::json::parse(bridge->initResult(), nullptr, false);
  EXPECT_EQ(dirs.state, init.value("state_dir", "")) << bridge->initResult();
}

} // namespace {
