// Small JNI helpers shared by the bridge's sources: local frames, UTF-8
// byte arrays and strings, and taking a pending exception.
//
// Rule (libhdfs's): every helper that calls JNI checks for a pending Java
// exception right after, and clears it before returning; the caller gets a
// null result or a description, never a pending exception.

#ifndef DVDI_BRIDGE_JNI_UTIL_HPP
#define DVDI_BRIDGE_JNI_UTIL_HPP

#include <jni.h>

#include <string>

namespace dvdi {
namespace jni {

// A JNI local reference frame for the scope of one bridge call: local
// references made inside are freed when it ends. ok() is false if the frame
// could not be pushed (the OutOfMemoryError is cleared and described in
// error()).
class LocalFrame
{
public:
  LocalFrame(JNIEnv* env, jint capacity);
  ~LocalFrame();

  bool ok() const { return pushed; }
  const std::string& error() const { return failure; }

private:
  LocalFrame(const LocalFrame&);
  LocalFrame& operator=(const LocalFrame&);

  JNIEnv* env;
  bool pushed;
  std::string failure;
};


// FindClass (from the bootstrap/system loader: java.* classes), or nullptr
// with *error and no exception pending.
jclass findClass(JNIEnv* env, const char* name, std::string* error);

// GetMethodID, or nullptr with *error and no exception pending.
jmethodID methodId(
    JNIEnv* env,
    jclass clazz,
    const char* name,
    const char* signature,
    std::string* error);

// GetStaticMethodID, or nullptr with *error and no exception pending.
jmethodID staticMethodId(
    JNIEnv* env,
    jclass clazz,
    const char* name,
    const char* signature,
    std::string* error);

// If an exception is pending: clears it and returns it as a local reference
// (the caller owns it); else returns nullptr.
jthrowable takeException(JNIEnv* env);

// Clears a pending exception and describes it as "<class>: <message>"
// ("<class>" if it has no message). Returns false if none was pending.
bool describeException(JNIEnv* env, std::string* description);

// "<class>: <message>" of `t` (no exception is pending after).
std::string describe(JNIEnv* env, jthrowable t);

// The UTF-8 text of a Java string (converted from its UTF-16, so characters
// outside the BMP survive). "" for null.
std::string toUtf8(JNIEnv* env, jstring s);

// The bytes of a Java byte[] (UTF-8 text from the Java side). "" for null.
// Returns false (with the exception cleared and described) on failure.
bool toBytes(JNIEnv* env, jbyteArray a, std::string* out, std::string* error);

// A new byte[] with `bytes`, or nullptr with the exception cleared and
// described in *error.
jbyteArray newBytes(JNIEnv* env, const std::string& bytes, std::string* error);

// A new Java string from UTF-8, or nullptr with *error set.
jstring newString(JNIEnv* env, const std::string& utf8, std::string* error);

} // namespace jni {
} // namespace dvdi {

#endif // DVDI_BRIDGE_JNI_UTIL_HPP
