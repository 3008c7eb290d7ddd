package org.dvdi.core.json;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import java.util.Map;
import org.dvdi.spi.DvdiException;
import org.dvdi.spi.ErrorCode;
import org.junit.jupiter.api.Test;

class JsonTest {
  @Test
  void parsesAndNavigates() {
    Json.Node n = Json.parse("{\"a\":{\"b\":[1,\"x\",true,null,2.5]},\"s\":\"\\u00e9\\ud83d\\ude00\"}", "t");
    assertEquals(5, n.path("a").path("b").size());
    assertEquals("1", n.path("a").path("b").get(0).asText(null));
    assertEquals("x", n.path("a").path("b").get(1).asText(null));
    assertTrue(n.path("a").path("b").get(2).asBoolean(false));
    assertTrue(n.path("a").path("b").get(3).isNull());
    assertFalse(n.path("a").path("b").get(3).isMissing());
    assertTrue(n.path("a").path("b").get(9).isMissing());
    assertTrue(n.path("nope").path("deeper").isMissing());
    assertEquals("dflt", n.path("a").asText("dflt"), "objects are not text");
    assertEquals("\u00e9\ud83d\ude00", n.path("s").asText(null), "characters outside the BMP survive");
    assertTrue(n.has("a"));
    assertFalse(n.has("nope"));
  }

  @Test
  void writesWhatItReads() {
    Map<String, Object> o = Json.object();
    o.put("n", 20481L);
    o.put("l", List.of("a\"b", 1.5, false));
    o.put("z", null);
    String s = Json.write(o);
    assertEquals("{\"n\":20481,\"l\":[\"a\\\"b\",1.5,false],\"z\":null}", s);
    assertEquals("a\"b", Json.parse(s, "t").path("l").get(0).asText(null));
  }

  @Test
  void syntaxErrorsAreInvalidRequests() {
    for (String bad : new String[] {"", "{", "{\"a\":}", "[1,]", "{} {}", "nul"}) {
      DvdiException e = assertThrows(DvdiException.class, () -> Json.parse(bad, "the prepare request"), bad);
      assertEquals(ErrorCode.INVALID_REQUEST, e.getCode());
      assertTrue(e.getMessage().startsWith("the prepare request is "), e.getMessage());
    }
  }
}
