#include "utf.hpp"

namespace dvdi {
namespace utf {

namespace {

const uint32_t REPLACEMENT = 0xFFFD;


void append(std::string* out, uint32_t cp)
{
  if (cp < 0x80) {
    out->push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out->push_back(static_cast<char>(0xC0 | (cp >> 6)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    out->push_back(static_cast<char>(0xE0 | (cp >> 12)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    out->push_back(static_cast<char>(0xF0 | (cp >> 18)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
}


// Decodes one code point at `text[*i]`, advancing `*i`; returns false (and
// skips one byte) for an ill-formed sequence.
bool decode(const std::string& text, size_t* i, uint32_t* cp)
{
  const unsigned char* s = reinterpret_cast<const unsigned char*>(text.data());
  const size_t n = text.size();
  unsigned char c = s[*i];

  if (c < 0x80) {
    *cp = c;
    *i += 1;
    return true;
  }

  size_t length;
  uint32_t value;
  uint32_t min;
  if (c >= 0xC2 && c <= 0xDF) {
    length = 2;
    value = c & 0x1F;
    min = 0x80;
  } else if (c >= 0xE0 && c <= 0xEF) {
    length = 3;
    value = c & 0x0F;
    min = 0x800;
  } else if (c >= 0xF0 && c <= 0xF4) {
    length = 4;
    value = c & 0x07;
    min = 0x10000;
  } else {
    *i += 1;
    return false;
  }

  if (*i + length > n) {
    *i += 1;
    return false;
  }

  for (size_t k = 1; k < length; k++) {
    unsigned char cc = s[*i + k];
    if ((cc & 0xC0) != 0x80) {
      *i += 1;
      return false;
    }
    value = (value << 6) | (cc & 0x3F);
  }

  if (value < min || value > 0x10FFFF || (value >= 0xD800 && value <= 0xDFFF)) {
    *i += 1;
    return false;
  }

  *cp = value;
  *i += length;
  return true;
}

} // namespace {


std::string fromUtf16(const uint16_t* chars, size_t length)
{
  std::string out;
  out.reserve(length);
  for (size_t i = 0; i < length; i++) {
    uint32_t c = chars[i];
    if (c >= 0xD800 && c <= 0xDBFF) {
      if (i + 1 < length && chars[i + 1] >= 0xDC00 && chars[i + 1] <= 0xDFFF) {
        uint32_t low = chars[++i];
        append(&out, 0x10000 + ((c - 0xD800) << 10) + (low - 0xDC00));
      } else {
        append(&out, REPLACEMENT);
      }
    } else if (c >= 0xDC00 && c <= 0xDFFF) {
      append(&out, REPLACEMENT);
    } else {
      append(&out, c);
    }
  }
  return out;
}


std::u16string toUtf16(const std::string& utf8)
{
  std::u16string out;
  out.reserve(utf8.size());
  size_t i = 0;
  while (i < utf8.size()) {
    uint32_t cp;
    if (!decode(utf8, &i, &cp)) {
      cp = REPLACEMENT;
    }
    if (cp >= 0x10000) {
      cp -= 0x10000;
      out.push_back(static_cast<char16_t>(0xD800 + (cp >> 10)));
      out.push_back(static_cast<char16_t>(0xDC00 + (cp & 0x3FF)));
    } else {
      out.push_back(static_cast<char16_t>(cp));
    }
  }
  return out;
}


bool valid(const std::string& text)
{
  size_t i = 0;
  while (i < text.size()) {
    uint32_t cp;
    if (!decode(text, &i, &cp)) {
      return false;
    }
  }
  return true;
}



std::string printable(const std::string& text)
{
  static const char* const HEX = "0123456789abcdef";
  std::string out;
  size_t i = 0;
  size_t shown = 0;
  while (i < text.size() && shown < PRINTABLE_MAX) {
    size_t start = i;
    uint32_t cp;
    bool ok = decode(text, &i, &cp);
    if (ok && cp == '\\') {
      out += "\\\\";
    } else if (!ok || cp < 0x20 || cp == 0x7F) {
      unsigned char b = static_cast<unsigned char>(text[start]);
      out += "\\x";
      out.push_back(HEX[b >> 4]);
      out.push_back(HEX[b & 0xF]);
    } else {
      out.append(text, start, i - start);
    }
    shown++;
  }
  if (i < text.size()) {
    out += "...";
  }
  return out;
}

} // namespace utf {
} // namespace dvdi {
