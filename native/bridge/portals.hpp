// "Portals" (RocksJava's word): one small class per Java class the bridge
// uses, holding its jclass (a global reference, never deleted: the JVM lives
// as long as the process) and the jmethodIDs, looked up once.
//
// Each load() runs on an attached thread, returns false with *error (and no
// exception pending) when the class or a method is missing: that means the
// jar does not match this bridge.

#ifndef DVDI_BRIDGE_PORTALS_HPP
#define DVDI_BRIDGE_PORTALS_HPP

#include <jni.h>

#include <string>

#include "bridge.hpp"
#include "jvm.hpp"

namespace dvdi {

class ErrorPortal;

// org.dvdi.core.bridge.Facade: the static entry points.
//   static byte[] init(byte[] argsUtf8) throws Exception
//   static void submit(long tag, String method, byte[] requestUtf8) (never throws)
class FacadePortal
{
public:
  static const char* const NAME;

  bool load(JNIEnv* env, Jvm* jvm, std::string* error);

  // Facade.init; on a Java exception returns its Reply (init failed).
  Reply init(JNIEnv* env, const ErrorPortal& errors, const std::string& args) const;

  // Facade.submit; false with *failure set if the call could not be made
  // (Java then never completes `tag`).
  bool submit(
      JNIEnv* env,
      const ErrorPortal& errors,
      jlong tag,
      const std::string& method,
      const std::string& request,
      Reply* failure) const;

private:
  jclass clazz = nullptr;
  jmethodID initMethod = nullptr;
  jmethodID submitMethod = nullptr;
};


// org.dvdi.core.bridge.Native: the natives the bridge implements,
//   static native void complete(long tag, boolean ok, String code, byte[] message, byte[] result)
//   static native void log(int level, byte[] message)
// registered with RegisterNatives (before Facade.init, which may log).
class NativePortal
{
public:
  static const char* const NAME;

  typedef void (JNICALL *Complete)(JNIEnv*, jclass, jlong, jboolean, jstring, jbyteArray, jbyteArray);
  typedef void (JNICALL *Log)(JNIEnv*, jclass, jint, jbyteArray);

  bool registerNatives(JNIEnv* env, Jvm* jvm, Complete complete, Log log, std::string* error);
};


// org.dvdi.spi.DvdiException (getCode()) and org.dvdi.spi.ErrorCode (an enum,
// name()), java.lang.Throwable (getMessage()): a Java failure as a Reply.
class ErrorPortal
{
public:
  static const char* const DVDI_EXCEPTION;

  bool load(JNIEnv* env, Jvm* jvm, std::string* error);

  // If an exception is pending: clears it, sets *reply to a failure (a
  // DvdiException's code and message; anything else INTERNAL with
  // "<class>: <message>", prefixed with `what`), and returns true.
  bool take(JNIEnv* env, const std::string& what, Reply* reply) const;

  Reply toReply(JNIEnv* env, jthrowable t, const std::string& what) const;

private:
  jclass dvdiException = nullptr;
  jmethodID getCode = nullptr;
  jmethodID enumName = nullptr;
  jmethodID getMessage = nullptr;
};

} // namespace dvdi {

#endif // DVDI_BRIDGE_PORTALS_HPP
