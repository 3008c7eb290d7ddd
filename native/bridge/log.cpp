#include "log.hpp"

#include <unistd.h>

#include <mutex>

namespace dvdi {
namespace log {

namespace {

// Heap-allocated and never freed: JVM threads may log while the process
// runs its static destructors at exit.
std::mutex& sinkMutex()
{
  static std::mutex* m = new std::mutex();
  return *m;
}


LogSink& sink()
{
  static LogSink* s = new LogSink();
  return *s;
}

} // namespace {


void setSink(const LogSink& s)
{
  std::lock_guard<std::mutex> lock(sinkMutex());
  sink() = s;
}


void write(int level, const std::string& message)
{
  LogSink s;
  {
    std::lock_guard<std::mutex> lock(sinkMutex());
    s = sink();
  }
  try {
    if (s) {
      s(level, message);
    } else {
      toStderr(level, message);
    }
  } catch (...) {
    toStderr(LOG_ERROR, "the dvdi log sink threw; message was: " + message);
  }
}


void toStderr(int level, const std::string& message)
{
  const char* tag = level >= LOG_ERROR ? "E" : level == LOG_WARNING ? "W" : "I";
  std::string line = std::string("dvdi ") + tag + " " + message + "\n";
  const char* p = line.data();
  size_t left = line.size();
  while (left > 0) {
    ssize_t n = ::write(2, p, left);
    if (n <= 0) {
      break;
    }
    p += n;
    left -= static_cast<size_t>(n);
  }
}

} // namespace log {
} // namespace dvdi {
