// UTF-8 <-> UTF-16 conversion for text crossing the JNI boundary.
//
// JNI's *StringUTF* functions speak "modified UTF-8": a supplementary
// character (emoji, some CJK) becomes two 3-byte surrogates and NUL becomes
// C0 80. JSON and messages cross as real UTF-8 byte arrays instead; the few
// jstrings we read or make (error codes, class names, exception messages,
// method names) are converted here from and to UTF-16, never through
// GetStringUTFChars/NewStringUTF.

#ifndef DVDI_BRIDGE_UTF_HPP
#define DVDI_BRIDGE_UTF_HPP

#include <stddef.h>
#include <stdint.h>

#include <string>

namespace dvdi {
namespace utf {

// Decodes UTF-16 (as Java holds strings) to UTF-8. An unpaired surrogate
// becomes U+FFFD.
std::string fromUtf16(const uint16_t* chars, size_t length);

// Encodes UTF-8 to UTF-16. Each invalid or truncated sequence, overlong
// encoding or encoded surrogate becomes U+FFFD.
std::u16string toUtf16(const std::string& utf8);

// Whether `text` is well-formed UTF-8.
bool valid(const std::string& text);

// At most this many characters of a value are shown in an error or a log line.
const size_t PRINTABLE_MAX = 200;

// `text` as it may be shown in an error or a log line: control characters
// (below U+0020, and U+007F) and bytes that are not UTF-8 become \xNN, a
// backslash becomes \\, and after PRINTABLE_MAX characters it ends in "...".
// The result is valid UTF-8 (nlohmann::json can dump it) with no line break.
std::string printable(const std::string& text);

} // namespace utf {
} // namespace dvdi {

#endif // DVDI_BRIDGE_UTF_HPP
