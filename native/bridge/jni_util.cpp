#include "jni_util.hpp"

#include <vector>

#include "utf.hpp"

namespace dvdi {
namespace jni {

LocalFrame::LocalFrame(JNIEnv* _env, jint capacity)
  : env(_env), pushed(false)
{
  if (env->PushLocalFrame(capacity) == 0) {
    pushed = true;
  } else if (!describeException(env, &failure)) {
    failure = "PushLocalFrame failed";
  }
}


LocalFrame::~LocalFrame()
{
  if (pushed) {
    env->PopLocalFrame(nullptr);
  }
}


jclass findClass(JNIEnv* env, const char* name, std::string* error)
{
  jclass c = env->FindClass(name);
  std::string e;
  if (describeException(env, &e) || c == nullptr) {
    *error = std::string("cannot find class ") + name + (e.empty() ? "" : ": " + e);
    return nullptr;
  }
  return c;
}


namespace {

jmethodID checkMethod(
    JNIEnv* env,
    jmethodID id,
    const char* kind,
    const char* name,
    const char* signature,
    std::string* error)
{
  std::string e;
  if (describeException(env, &e) || id == nullptr) {
    *error = std::string("no ") + kind + name + signature + (e.empty() ? "" : ": " + e);
    return nullptr;
  }
  return id;
}

} // namespace {


jmethodID methodId(
    JNIEnv* env,
    jclass clazz,
    const char* name,
    const char* signature,
    std::string* error)
{
  return checkMethod(env, env->GetMethodID(clazz, name, signature), "method ", name, signature, error);
}


jmethodID staticMethodId(
    JNIEnv* env,
    jclass clazz,
    const char* name,
    const char* signature,
    std::string* error)
{
  return checkMethod(
      env, env->GetStaticMethodID(clazz, name, signature), "static method ", name, signature, error);
}


jthrowable takeException(JNIEnv* env)
{
  jthrowable t = env->ExceptionOccurred();
  if (t != nullptr) {
    env->ExceptionClear();
  }
  return t;
}


namespace {

// Calls a no-argument String method of `object`; "" if it fails.
std::string callString(JNIEnv* env, jobject object, jclass clazz, const char* method)
{
  std::string out;
  jmethodID id = env->GetMethodID(clazz, method, "()Ljava/lang/String;");
  if (id == nullptr) {
    env->ExceptionClear();
    return out;
  }
  jstring s = static_cast<jstring>(env->CallObjectMethod(object, id));
  if (env->ExceptionCheck()) {
    env->ExceptionClear();
    return out;
  }
  if (s != nullptr) {
    out = toUtf8(env, s);
    env->DeleteLocalRef(s);
  }
  return out;
}

} // namespace {


std::string describe(JNIEnv* env, jthrowable t)
{
  if (t == nullptr) {
    return "unknown Java exception";
  }
  std::string name = "java.lang.Throwable";
  jclass clazz = env->GetObjectClass(t);
  jclass classClass = env->FindClass("java/lang/Class");
  if (classClass == nullptr) {
    env->ExceptionClear();
  } else {
    std::string n = callString(env, clazz, classClass, "getName");
    if (!n.empty()) {
      name = n;
    }
    env->DeleteLocalRef(classClass);
  }
  jclass throwable = env->FindClass("java/lang/Throwable");
  std::string message;
  if (throwable == nullptr) {
    env->ExceptionClear();
  } else {
    message = callString(env, t, throwable, "getMessage");
    env->DeleteLocalRef(throwable);
  }
  env->DeleteLocalRef(clazz);
  return message.empty() ? name : name + ": " + message;
}


bool describeException(JNIEnv* env, std::string* description)
{
  jthrowable t = takeException(env);
  if (t == nullptr) {
    return false;
  }
  *description = describe(env, t);
  env->DeleteLocalRef(t);
  return true;
}


std::string toUtf8(JNIEnv* env, jstring s)
{
  if (s == nullptr) {
    return std::string();
  }
  jsize length = env->GetStringLength(s);
  std::vector<jchar> chars(static_cast<size_t>(length) + 1);
  env->GetStringRegion(s, 0, length, chars.data());
  if (env->ExceptionCheck()) {
    env->ExceptionClear();
    return std::string();
  }
  return utf::fromUtf16(reinterpret_cast<const uint16_t*>(chars.data()), length);
}


bool toBytes(JNIEnv* env, jbyteArray a, std::string* out, std::string* error)
{
  out->clear();
  if (a == nullptr) {
    return true;
  }
  jsize length = env->GetArrayLength(a);
  out->resize(static_cast<size_t>(length));
  if (length > 0) {
    env->GetByteArrayRegion(a, 0, length, reinterpret_cast<jbyte*>(&(*out)[0]));
  }
  std::string e;
  if (describeException(env, &e)) {
    *error = "reading a byte[] from Java: " + e;
    out->clear();
    return false;
  }
  return true;
}


jbyteArray newBytes(JNIEnv* env, const std::string& bytes, std::string* error)
{
  jbyteArray a = env->NewByteArray(static_cast<jsize>(bytes.size()));
  std::string e;
  if (a == nullptr) {
    *error = "allocating a byte[" + std::to_string(bytes.size()) + "]: "
      + (describeException(env, &e) ? e : std::string("failed"));
    return nullptr;
  }
  if (!bytes.empty()) {
    env->SetByteArrayRegion(
        a, 0, static_cast<jsize>(bytes.size()),
        reinterpret_cast<const jbyte*>(bytes.data()));
    if (describeException(env, &e)) {
      *error = "filling a byte[]: " + e;
      env->DeleteLocalRef(a);
      return nullptr;
    }
  }
  return a;
}


jstring newString(JNIEnv* env, const std::string& utf8, std::string* error)
{
  std::u16string chars = utf::toUtf16(utf8);
  jstring s = env->NewString(
      reinterpret_cast<const jchar*>(chars.data()),
      static_cast<jsize>(chars.size()));
  std::string e;
  if (s == nullptr) {
    *error = "making a Java string: "
      + (describeException(env, &e) ? e : std::string("failed"));
  }
  return s;
}

} // namespace jni {
} // namespace dvdi {
