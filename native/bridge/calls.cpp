#include "calls.hpp"

namespace dvdi {

int64_t CallTable::add(const std::string& method, const Callback& done, int timeoutMs, Clock::time_point now)
{
  Call call;
  call.method = method;
  call.done = done;
  call.timeoutMs = timeoutMs;
  call.hasDeadline = timeoutMs > 0;
  call.deadline = now + std::chrono::milliseconds(timeoutMs > 0 ? timeoutMs : 0);
  call.expired = false;
  std::lock_guard<std::mutex> lock(mutex);
  int64_t tag = nextTag++;
  calls[tag] = std::move(call);
  return tag;
}


CallTable::Found CallTable::complete(int64_t tag, Callback* done, std::string* method)
{
  std::lock_guard<std::mutex> lock(mutex);
  std::unordered_map<int64_t, Call>::iterator it = calls.find(tag);
  if (it == calls.end()) {
    return UNKNOWN;
  }
  Found found = it->second.expired ? LATE : WAITING;
  if (found == WAITING) {
    *done = std::move(it->second.done);
  } else {
    expiredCount--;
  }
  *method = it->second.method;
  calls.erase(it);
  return found;
}


std::vector<CallTable::Expired> CallTable::expire(Clock::time_point now)
{
  std::vector<Expired> out;
  std::lock_guard<std::mutex> lock(mutex);
  for (std::unordered_map<int64_t, Call>::iterator it = calls.begin(); it != calls.end(); ++it) {
    Call& call = it->second;
    if (call.hasDeadline && !call.expired && call.deadline <= now) {
      Expired e;
      e.tag = it->first;
      e.method = call.method;
      e.timeoutMs = call.timeoutMs;
      e.done = std::move(call.done);
      call.done = Callback();
      call.expired = true;
      expiredCount++;
      out.push_back(std::move(e));
    }
  }
  return out;
}


bool CallTable::nextDeadline(Clock::time_point* at) const
{
  bool found = false;
  std::lock_guard<std::mutex> lock(mutex);
  for (std::unordered_map<int64_t, Call>::const_iterator it = calls.begin(); it != calls.end(); ++it) {
    const Call& call = it->second;
    if (call.hasDeadline && !call.expired && (!found || call.deadline < *at)) {
      *at = call.deadline;
      found = true;
    }
  }
  return found;
}


size_t CallTable::pending() const
{
  std::lock_guard<std::mutex> lock(mutex);
  return calls.size();
}


size_t CallTable::expired() const
{
  std::lock_guard<std::mutex> lock(mutex);
  return expiredCount;
}


Reply CallTable::timeoutReply(const Expired& call)
{
  return Reply::failure("TIMEOUT", "bridge call '" + call.method + "' got no reply from Java within "
                        + std::to_string(call.timeoutMs) + " ms; a late reply is ignored");
}

} // namespace dvdi {
