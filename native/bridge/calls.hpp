// The bridge's calls in flight: each call's callback, until Java completes
// the call or its deadline passes, whichever comes first. A call that passed
// its deadline is kept (without its callback) until Java's late completion
// arrives, so that the completion is recognised and ignored, and pending()
// still counts what Java has not answered.
//
// No JVM, no threads, no clock of its own: the bridge drives it with the
// steady clock and a timer thread, the tests with time points of their own.
// Thread-safe.

#ifndef DVDI_BRIDGE_CALLS_HPP
#define DVDI_BRIDGE_CALLS_HPP

#include <stdint.h>

#include <chrono>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "bridge.hpp"

namespace dvdi {

class CallTable
{
public:
  typedef std::chrono::steady_clock Clock;

  // A call whose deadline passed: its callback is to be run with a TIMEOUT
  // reply (timeoutReply()).
  struct Expired
  {
    int64_t tag;
    std::string method;
    int timeoutMs;
    Callback done;
  };

  // What complete() found for a tag.
  enum Found
  {
    WAITING, // *done is the call's callback: run it with Java's reply
    LATE,    // the call had expired: its callback ran with a TIMEOUT reply
    UNKNOWN, // never started, or completed already
  };

  // Tracks a new call. `timeoutMs` > 0: it expires at `now` + timeoutMs;
  // otherwise it waits for Java as long as it takes.
  int64_t add(const std::string& method, const Callback& done, int timeoutMs, Clock::time_point now);

  // Java completed `tag`: forgets it; sets *done (and *method) for a
  // waiting call.
  Found complete(int64_t tag, Callback* done, std::string* method);

  // Takes the waiting calls whose deadline is at or before `now` (each is
  // returned once; from then on complete() finds it LATE).
  std::vector<Expired> expire(Clock::time_point now);

  // The earliest deadline of a waiting call; false if none has one.
  bool nextDeadline(Clock::time_point* at) const;

  // Calls Java has not completed: waiting ones and expired ones.
  size_t pending() const;
  size_t expired() const;

  // The reply an expired call's callback gets.
  static Reply timeoutReply(const Expired& call);

private:
  struct Call
  {
    std::string method;
    Callback done;
    int timeoutMs;
    bool hasDeadline;
    Clock::time_point deadline;
    bool expired;
  };

  mutable std::mutex mutex;
  std::unordered_map<int64_t, Call> calls;
  int64_t nextTag = 1;
  size_t expiredCount = 0;
};

} // namespace dvdi {

#endif // DVDI_BRIDGE_CALLS_HPP
