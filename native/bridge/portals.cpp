#include "portals.hpp"

#include "jni_util.hpp"

namespace dvdi {

const char* const FacadePortal::NAME = "org.dvdi.core.bridge.Facade";
const char* const NativePortal::NAME = "org.dvdi.core.bridge.Native";
const char* const ErrorPortal::DVDI_EXCEPTION = "org.dvdi.spi.DvdiException";

namespace {

// A method of a class the bridge needs, or false with *error naming both.
bool find(jmethodID id, const char* className, std::string* error)
{
  if (id == nullptr) {
    *error = std::string(className) + ": " + *error;
    return false;
  }
  return true;
}

} // namespace {


// ---------------------------------------------------------------- Facade

bool FacadePortal::load(JNIEnv* env, Jvm* jvm, std::string* error)
{
  clazz = jvm->loadClass(env, NAME, error);
  return clazz != nullptr
    && find(initMethod = jni::staticMethodId(env, clazz, "init", "([B)[B", error), NAME, error)
    && find(submitMethod = jni::staticMethodId(env, clazz, "submit", "(JLjava/lang/String;[B)V", error),
            NAME, error);
}


Reply FacadePortal::init(JNIEnv* env, const ErrorPortal& errors, const std::string& args) const
{
  jni::LocalFrame frame(env, 8);
  if (!frame.ok()) {
    return Reply::failure("INTERNAL", "Facade.init: " + frame.error());
  }
  std::string error;
  jbyteArray bytes = jni::newBytes(env, args, &error);
  if (bytes == nullptr) {
    return Reply::failure("INTERNAL", "Facade.init: " + error);
  }
  jobject result = env->CallStaticObjectMethod(clazz, initMethod, bytes);
  Reply reply;
  if (errors.take(env, "Facade.init", &reply)) {
    return reply;
  }
  std::string text;
  if (!jni::toBytes(env, static_cast<jbyteArray>(result), &text, &error)) {
    return Reply::failure("INTERNAL", "Facade.init: " + error);
  }
  return Reply::success(text);
}


bool FacadePortal::submit(
    JNIEnv* env,
    const ErrorPortal& errors,
    jlong tag,
    const std::string& method,
    const std::string& request,
    Reply* failure) const
{
  // One frame per call: the local references made here die with it.
  jni::LocalFrame frame(env, 8);
  if (!frame.ok()) {
    *failure = Reply::failure("INTERNAL", "bridge call '" + method + "': " + frame.error());
    return false;
  }
  std::string error;
  jstring jmethod = jni::newString(env, method, &error);
  jbyteArray bytes = jmethod == nullptr ? nullptr : jni::newBytes(env, request, &error);
  if (bytes == nullptr) {
    *failure = Reply::failure("INTERNAL", "bridge call '" + method + "': " + error);
    return false;
  }
  env->CallStaticVoidMethod(clazz, submitMethod, tag, jmethod, bytes);
  return !errors.take(env, "Facade.submit(" + method + ")", failure);
}


// ---------------------------------------------------------------- Native

bool NativePortal::registerNatives(
    JNIEnv* env, Jvm* jvm, Complete complete, Log log, std::string* error)
{
  jclass clazz = jvm->loadClass(env, NAME, error);
  if (clazz == nullptr) {
    return false;
  }
  JNINativeMethod methods[2];
  methods[0].name = const_cast<char*>("complete");
  methods[0].signature = const_cast<char*>("(JZLjava/lang/String;[B[B)V");
  methods[0].fnPtr = reinterpret_cast<void*>(complete);
  methods[1].name = const_cast<char*>("log");
  methods[1].signature = const_cast<char*>("(I[B)V");
  methods[1].fnPtr = reinterpret_cast<void*>(log);
  jint rc = env->RegisterNatives(clazz, methods, 2);
  std::string e;
  if (jni::describeException(env, &e) || rc != JNI_OK) {
    *error = std::string("RegisterNatives on ") + NAME + " failed" + (e.empty() ? "" : ": " + e);
    return false;
  }
  return true;
}


// ---------------------------------------------------------------- errors

bool ErrorPortal::load(JNIEnv* env, Jvm* jvm, std::string* error)
{
  dvdiException = jvm->loadClass(env, DVDI_EXCEPTION, error);
  if (dvdiException == nullptr) {
    return false;
  }
  getCode = jni::methodId(env, dvdiException, "getCode", "()Lorg/dvdi/spi/ErrorCode;", error);
  if (!find(getCode, DVDI_EXCEPTION, error)) {
    return false;
  }
  jni::LocalFrame frame(env, 4);
  if (!frame.ok()) {
    *error = frame.error();
    return false;
  }
  jclass enumClass = jni::findClass(env, "java/lang/Enum", error);
  jclass throwable = enumClass == nullptr ? nullptr : jni::findClass(env, "java/lang/Throwable", error);
  return throwable != nullptr
    && (enumName = jni::methodId(env, enumClass, "name", "()Ljava/lang/String;", error)) != nullptr
    && (getMessage = jni::methodId(env, throwable, "getMessage", "()Ljava/lang/String;", error)) != nullptr;
}


bool ErrorPortal::take(JNIEnv* env, const std::string& what, Reply* reply) const
{
  jthrowable t = jni::takeException(env);
  if (t == nullptr) {
    return false;
  }
  *reply = toReply(env, t, what);
  env->DeleteLocalRef(t);
  return true;
}


Reply ErrorPortal::toReply(JNIEnv* env, jthrowable t, const std::string& what) const
{
  if (!env->IsInstanceOf(t, dvdiException)) {
    return Reply::failure("INTERNAL", what + ": " + jni::describe(env, t));
  }
  std::string code = "INTERNAL";
  jobject codeObject = env->CallObjectMethod(t, getCode);
  if (env->ExceptionCheck()) {
    env->ExceptionClear();
  } else if (codeObject != nullptr) {
    jstring name = static_cast<jstring>(env->CallObjectMethod(codeObject, enumName));
    if (env->ExceptionCheck()) {
      env->ExceptionClear();
    } else if (name != nullptr) {
      code = jni::toUtf8(env, name);
      env->DeleteLocalRef(name);
    }
    env->DeleteLocalRef(codeObject);
  }
  std::string message;
  jstring m = static_cast<jstring>(env->CallObjectMethod(t, getMessage));
  if (env->ExceptionCheck()) {
    env->ExceptionClear();
  } else if (m != nullptr) {
    message = jni::toUtf8(env, m);
    env->DeleteLocalRef(m);
  }
  return Reply::failure(code, message);
}

} // namespace dvdi {
