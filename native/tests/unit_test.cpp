// Bridge pieces that need no JVM: UTF-8/UTF-16, JVM option merging, the
// libjvm lookup, the jar check, the table of calls in flight.

#include <stdlib.h>
#include <unistd.h>

#include <algorithm>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "calls.hpp"
#include "jvm.hpp"
#include "utf.hpp"

using std::string;
using std::vector;

namespace {

string roundTrip(const string& s)
{
  std::u16string u = dvdi::utf::toUtf16(s);
  return dvdi::utf::fromUtf16(reinterpret_cast<const uint16_t*>(u.data()), u.size());
}


TEST(Utf, AsciiBmpAndSupplementaryRoundTrip)
{
  EXPECT_EQ("", roundTrip(""));
  EXPECT_EQ("plain", roundTrip("plain"));
  EXPECT_EQ("caf\xC3\xA9 \xE2\x82\xAC", roundTrip("caf\xC3\xA9 \xE2\x82\xAC"));
  EXPECT_EQ("\xF0\x9F\x98\x80", roundTrip("\xF0\x9F\x98\x80"));
  EXPECT_EQ(string("a\0b", 3), roundTrip(string("a\0b", 3)));
}


TEST(Utf, SupplementaryCharacterIsASurrogatePair)
{
  std::u16string u = dvdi::utf::toUtf16("\xF0\x9F\x98\x80");
  ASSERT_EQ(2u, u.size());
  EXPECT_EQ(0xD83D, u[0]);
  EXPECT_EQ(0xDE00, u[1]);
}


TEST(Utf, IllFormedInputBecomesReplacementCharacters)
{
  const string fffd = "\xEF\xBF\xBD";
  EXPECT_EQ("a" + fffd + "b", roundTrip("a\xFF" "b"));
  EXPECT_EQ(fffd + fffd, roundTrip("\xC0\x80"));            // overlong NUL (modified UTF-8)
  EXPECT_EQ(fffd + fffd + fffd, roundTrip("\xED\xA0\xBD")); // an encoded surrogate
  EXPECT_FALSE(dvdi::utf::valid("\xED\xA0\xBD"));
  EXPECT_TRUE(dvdi::utf::valid("\xF0\x9F\x98\x80"));

  uint16_t lone[] = {'x', 0xD800, 'y'};
  EXPECT_EQ("x" + fffd + "y", dvdi::utf::fromUtf16(lone, 3));
}


TEST(Utf, finding12_PrintableEscapesControlsAndInvalidBytesAndCaps)
{
  using dvdi::utf::printable;
  EXPECT_EQ("plain caf\xC3\xA9 \xF0\x9F\x98\x80", printable("plain caf\xC3\xA9 \xF0\x9F\x98\x80"));
  EXPECT_EQ("a\\x0aforged\\x1b[0m\\x7f", printable("a\nforged\x1b[0m\x7f"));
  EXPECT_EQ("a\\xff\\xc3b", printable("a\xFF\xC3" "b"));
  EXPECT_EQ("back\\\\x0a", printable("back\\x0a")) << "a backslash cannot pass for an escape";
  EXPECT_EQ("nul\\x00", printable(string("nul\0", 4)));
  EXPECT_TRUE(dvdi::utf::valid(printable("\xFF\xFE\xED\xA0\xBD")));

  string big(10000, 'x');
  string shown = printable(big);
  EXPECT_EQ(string(dvdi::utf::PRINTABLE_MAX, 'x') + "...", shown);
  EXPECT_EQ(string(dvdi::utf::PRINTABLE_MAX, 'x'), printable(string(dvdi::utf::PRINTABLE_MAX, 'x')));
}


// ---------------------------------------------------------------- CallTable

typedef dvdi::CallTable::Clock Clock;

struct Counted
{
  int runs = 0;
  dvdi::Reply last;
  dvdi::Callback callback()
  {
    return [this](const dvdi::Reply& r) { runs++; last = r; };
  }
};


TEST(CallTable, finding8_CallWhoseCompletionNeverArrivesExpiresOnceAtItsDeadline)
{
  dvdi::CallTable table;
  Counted c;
  const Clock::time_point t0 = Clock::now();
  int64_t tag = table.add("prepare", c.callback(), 600000, t0);

  Clock::time_point at;
  ASSERT_TRUE(table.nextDeadline(&at));
  EXPECT_TRUE(at == t0 + std::chrono::milliseconds(600000));
  EXPECT_TRUE(table.expire(t0 + std::chrono::milliseconds(599999)).empty()) << "not before its deadline";

  std::vector<dvdi::CallTable::Expired> expired = table.expire(t0 + std::chrono::milliseconds(600000));
  ASSERT_EQ(1u, expired.size());
  EXPECT_EQ(tag, expired[0].tag);
  expired[0].done(dvdi::CallTable::timeoutReply(expired[0]));
  EXPECT_EQ(1, c.runs);
  EXPECT_EQ("TIMEOUT", c.last.code);
  EXPECT_EQ("dvdi TIMEOUT: bridge call 'prepare' got no reply from Java within 600000 ms; a late reply is ignored",
            c.last.describe());

  EXPECT_TRUE(table.expire(t0 + std::chrono::hours(1)).empty()) << "expired once";
  EXPECT_FALSE(table.nextDeadline(&at)) << "nothing waits for a deadline any more";
  EXPECT_EQ(1u, table.pending()) << "Java has not answered it";
  EXPECT_EQ(1u, table.expired());
}


TEST(CallTable, finding8_LateCompletionIsRecognisedAndIgnored)
{
  dvdi::CallTable table;
  Counted c;
  const Clock::time_point t0 = Clock::now();
  int64_t tag = table.add("cleanup", c.callback(), 10, t0);
  ASSERT_EQ(1u, table.expire(t0 + std::chrono::milliseconds(10)).size());

  dvdi::Callback done;
  std::string method;
  EXPECT_EQ(dvdi::CallTable::LATE, table.complete(tag, &done, &method));
  EXPECT_FALSE(done) << "no callback for a late completion";
  EXPECT_EQ("cleanup", method);
  EXPECT_EQ(0u, table.pending());
  EXPECT_EQ(0u, table.expired());
  EXPECT_EQ(dvdi::CallTable::UNKNOWN, table.complete(tag, &done, &method)) << "a second completion";
  EXPECT_EQ(0, c.runs) << "the expired callback was not run by the table itself";
}


TEST(CallTable, CompletionBeforeTheDeadlineWinsAndCallsWithoutOneNeverExpire)
{
  dvdi::CallTable table;
  Counted a;
  Counted b;
  const Clock::time_point t0 = Clock::now();
  int64_t timed = table.add("prepare", a.callback(), 1000, t0);
  int64_t forever = table.add("recover", b.callback(), 0, t0);
  EXPECT_NE(timed, forever);

  dvdi::Callback done;
  std::string method;
  ASSERT_EQ(dvdi::CallTable::WAITING, table.complete(timed, &done, &method));
  done(dvdi::Reply::success("{}"));
  EXPECT_EQ(1, a.runs);
  EXPECT_TRUE(table.expire(t0 + std::chrono::hours(24 * 365)).empty());
  EXPECT_EQ(1u, table.pending());
  ASSERT_EQ(dvdi::CallTable::WAITING, table.complete(forever, &done, &method));
  EXPECT_EQ("recover", method);
  EXPECT_EQ(0u, table.pending());
}


TEST(CallTable, NextDeadlineIsTheEarliestOfTheWaitingCalls)
{
  dvdi::CallTable table;
  Counted c;
  const Clock::time_point t0 = Clock::now();
  table.add("a", c.callback(), 300, t0);
  int64_t early = table.add("b", c.callback(), 100, t0);
  table.add("c", c.callback(), 200, t0);
  Clock::time_point at;
  ASSERT_TRUE(table.nextDeadline(&at));
  EXPECT_TRUE(at == t0 + std::chrono::milliseconds(100));
  dvdi::Callback done;
  std::string method;
  table.complete(early, &done, &method);
  ASSERT_TRUE(table.nextDeadline(&at));
  EXPECT_TRUE(at == t0 + std::chrono::milliseconds(200));
}


TEST(JvmOptions, OptionKinds)
{
  EXPECT_EQ("-Xmx", dvdi::jvmOptionKind("-Xmx1g"));
  EXPECT_EQ("-Xss", dvdi::jvmOptionKind("-Xss2m"));
  EXPECT_EQ("-Xshare", dvdi::jvmOptionKind("-Xshare:off"));
  EXPECT_EQ("gc", dvdi::jvmOptionKind("-XX:+UseG1GC"));
  EXPECT_EQ("gc", dvdi::jvmOptionKind("-XX:+UseSerialGC"));
  EXPECT_EQ("-XX:TieredStopAtLevel", dvdi::jvmOptionKind("-XX:TieredStopAtLevel=4"));
  EXPECT_EQ("-XX:UsePerfData", dvdi::jvmOptionKind("-XX:+UsePerfData"));
  EXPECT_EQ("-Dfile.encoding", dvdi::jvmOptionKind("-Dfile.encoding=latin1"));
  EXPECT_EQ("-Xcheck:jni", dvdi::jvmOptionKind("-Xcheck:jni"));
}


TEST(JvmOptions, UserOptionsReplaceDefaultsOfTheirKind)
{
  vector<string> user;
  user.push_back("-Xmx256m");
  user.push_back("-XX:+UseG1GC");
  user.push_back("-Xcheck:jni");
  user.push_back("-Xrs");
  vector<string> out;
  string error;
  ASSERT_TRUE(dvdi::jvmOptions(user, "/x/dvdi.jar", &out, &error)) << error;

  ASSERT_GE(out.size(), 2u);
  EXPECT_EQ("-Xrs", out[0]);
  EXPECT_EQ("-Djava.class.path=/x/dvdi.jar", out[1]);
  int xmx = 0, gc = 0, xrs = 0, check = 0;
  for (size_t i = 0; i < out.size(); i++) {
    xmx += dvdi::jvmOptionKind(out[i]) == "-Xmx";
    gc += dvdi::jvmOptionKind(out[i]) == "gc";
    xrs += out[i] == "-Xrs";
    check += out[i] == "-Xcheck:jni";
  }
  EXPECT_EQ(1, xmx);
  EXPECT_EQ(1, gc);
  EXPECT_EQ(1, xrs);
  EXPECT_EQ(1, check);
  EXPECT_NE(out.end(), std::find(out.begin(), out.end(), "-Xmx256m"));
  EXPECT_NE(out.end(), std::find(out.begin(), out.end(), "-XX:+UseG1GC"));
  EXPECT_NE(out.end(), std::find(out.begin(), out.end(), "-Xss512k")); // a default kept
}


TEST(JvmOptions, ClassPathIsTheJarAlone)
{
  const char* refused[] = {"-Djava.class.path=/a.jar", "-cp", "-classpath", "-jar"};
  for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++) {
    vector<string> user(1, refused[i]);
    vector<string> out;
    string error;
    EXPECT_FALSE(dvdi::jvmOptions(user, "/x/dvdi.jar", &out, &error)) << refused[i];
    EXPECT_NE(string::npos, error.find("class path")) << error;
  }
}


TEST(Libjvm, ExplicitPathIsTheOnlyCandidate)
{
  vector<string> c = dvdi::libjvmCandidates("/opt/jdk/lib/server/libjvm.so");
  ASSERT_EQ(1u, c.size());
  string path, error;
  EXPECT_FALSE(dvdi::findLibjvm("/no/such/libjvm.so", &path, &error));
  EXPECT_NE(string::npos, error.find("/no/such/libjvm.so")) << error;
}


TEST(Libjvm, JavaHomeComesFirstThenDefaultJavaThenUsrBinJava)
{
  const char* old = ::getenv("JAVA_HOME");
  string saved = old == nullptr ? "" : old;
  ::setenv("JAVA_HOME", "/opt/some-jdk", 1);
  vector<string> c = dvdi::libjvmCandidates("");
  ASSERT_GE(c.size(), 2u);
  EXPECT_EQ("/opt/some-jdk/lib/server/libjvm.so", c[0]);
  EXPECT_EQ("/usr/lib/jvm/default-java/lib/server/libjvm.so", c[1]);
  if (old == nullptr) {
    ::unsetenv("JAVA_HOME");
  } else {
    ::setenv("JAVA_HOME", saved.c_str(), 1);
  }
}


TEST(Jar, MustBeOnePlainExistingFile)
{
  string path, error;
  EXPECT_FALSE(dvdi::checkJar("", &path, &error));
  EXPECT_FALSE(dvdi::checkJar("/no/such/dvdi.jar", &path, &error));
  EXPECT_NE(string::npos, error.find("/no/such/dvdi.jar")) << error;
  EXPECT_FALSE(dvdi::checkJar("/tmp", &path, &error)) << "a directory";

  char dir[] = "/tmp/dvdi-jar-test-XXXXXX";
  ASSERT_NE(nullptr, ::mkdtemp(dir));
  string colon = string(dir) + "/a:b.jar";
  FILE* f = fopen(colon.c_str(), "w");
  ASSERT_NE(nullptr, f);
  fclose(f);
  EXPECT_FALSE(dvdi::checkJar(colon, &path, &error));
  EXPECT_NE(string::npos, error.find("':'")) << error;
  ::unlink(colon.c_str());
  ::rmdir(dir);
}

} // namespace {
