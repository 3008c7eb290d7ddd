package org.dvdi.core.json;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonGenerator;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonToken;
import java.io.IOException;
import java.io.StringWriter;
import java.util.ArrayList;
import java.util.Collections;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.dvdi.spi.DvdiException;

/**
 * JSON for the bridge: what crosses JNI is parsed into plain maps and lists and written back
 * with jackson-core's streaming API only. (The data-binding layer costs hundreds of
 * milliseconds of class loading at start, inside the agent, for nothing we need.)
 */
public final class Json {
  private static final JsonFactory FACTORY = new JsonFactory();

  private Json() {}

  /** Parses JSON text; a syntax error is INVALID_REQUEST naming {@code what}. */
  public static Node parse(String text, String what) {
    try (JsonParser p = FACTORY.createParser(text)) {
      JsonToken t = p.nextToken();
      if (t == null) {
        throw DvdiException.invalid(what + " is empty, not JSON");
      }
      Object v = read(p, t);
      if (p.nextToken() != null) {
        throw DvdiException.invalid(what + " is not JSON: text after the value");
      }
      return new Node(v);
    } catch (IOException e) {
      throw DvdiException.invalid(what + " is not JSON: " + e.getMessage().split("\n")[0]);
    }
  }

  private static Object read(JsonParser p, JsonToken t) throws IOException {
    switch (t) {
      case START_OBJECT: {
        Map<String, Object> m = new LinkedHashMap<>();
        while (p.nextToken() == JsonToken.FIELD_NAME) {
          String name = p.currentName();
          m.put(name, read(p, p.nextToken()));
        }
        return m;
      }
      case START_ARRAY: {
        List<Object> l = new ArrayList<>();
        JsonToken n;
        while ((n = p.nextToken()) != JsonToken.END_ARRAY) {
          l.add(read(p, n));
        }
        return l;
      }
      case VALUE_STRING:
        return p.getText();
      case VALUE_NUMBER_INT:
        return p.getLongValue();
      case VALUE_NUMBER_FLOAT:
        return p.getDoubleValue();
      case VALUE_TRUE:
        return Boolean.TRUE;
      case VALUE_FALSE:
        return Boolean.FALSE;
      case VALUE_NULL:
        return null;
      default:
        throw new IOException("unexpected " + t);
    }
  }

  /** Writes maps, lists, strings, numbers, booleans and null as JSON text. */
  public static String write(Object value) {
    StringWriter w = new StringWriter();
    try (JsonGenerator g = FACTORY.createGenerator(w)) {
      write(g, value);
    } catch (IOException e) {
      throw DvdiException.internal("cannot write JSON", e);
    }
    return w.toString();
  }

  private static void write(JsonGenerator g, Object v) throws IOException {
    if (v == null) {
      g.writeNull();
    } else if (v instanceof Map) {
      g.writeStartObject();
      for (Map.Entry<?, ?> e : ((Map<?, ?>) v).entrySet()) {
        g.writeFieldName(String.valueOf(e.getKey()));
        write(g, e.getValue());
      }
      g.writeEndObject();
    } else if (v instanceof Iterable) {
      g.writeStartArray();
      for (Object o : (Iterable<?>) v) {
        write(g, o);
      }
      g.writeEndArray();
    } else if (v instanceof Boolean) {
      g.writeBoolean((Boolean) v);
    } else if (v instanceof Long || v instanceof Integer) {
      g.writeNumber(((Number) v).longValue());
    } else if (v instanceof Number) {
      g.writeNumber(((Number) v).doubleValue());
    } else {
      g.writeString(v.toString());
    }
  }

  /** An ordered map to build an object with. */
  public static Map<String, Object> object() {
    return new LinkedHashMap<>();
  }

  /**
   * A parsed value with navigation that never throws on absent fields: {@code path} of what
   * is not an object, or of a missing field, is a missing node.
   */
  public static final class Node implements Iterable<Node> {
    static final Node MISSING = new Node(Missing.INSTANCE);

    private enum Missing {
      INSTANCE
    }

    private final Object value;

    Node(Object value) {
      this.value = value;
    }

    /** The field {@code name} of an object (missing otherwise). */
    public Node path(String name) {
      if (value instanceof Map && ((Map<?, ?>) value).containsKey(name)) {
        return new Node(((Map<?, ?>) value).get(name));
      }
      return MISSING;
    }

    /** Element {@code i} of an array (missing otherwise). */
    public Node get(int i) {
      if (value instanceof List && i >= 0 && i < ((List<?>) value).size()) {
        return new Node(((List<?>) value).get(i));
      }
      return MISSING;
    }

    /** Elements of an array, or fields of an object; 0 for scalars. */
    public int size() {
      return value instanceof List ? ((List<?>) value).size() : value instanceof Map ? ((Map<?, ?>) value).size() : 0;
    }

    public boolean isMissing() {
      return value == Missing.INSTANCE;
    }

    /** Missing, or JSON null. */
    public boolean isNull() {
      return value == null || isMissing();
    }

    public boolean isObject() {
      return value instanceof Map;
    }

    /** A field that is present and not null. */
    public boolean has(String name) {
      return !path(name).isNull();
    }

    /** A scalar as text (numbers and booleans too); {@code dflt} for missing, null, objects, arrays. */
    public String asText(String dflt) {
      if (value instanceof String || value instanceof Number || value instanceof Boolean) {
        return value.toString();
      }
      return dflt;
    }

    public boolean asBoolean(boolean dflt) {
      return value instanceof Boolean ? (Boolean) value : dflt;
    }

    /** An object's fields as name -> text (non-scalars skipped). */
    public Map<String, String> fieldsAsText() {
      Map<String, String> out = new LinkedHashMap<>();
      if (value instanceof Map) {
        for (Map.Entry<?, ?> e : ((Map<?, ?>) value).entrySet()) {
          String t = new Node(e.getValue()).asText(null);
          if (t != null) {
            out.put(String.valueOf(e.getKey()), t);
          }
        }
      }
      return out;
    }

    /** The array's elements (nothing for non-arrays). */
    @Override
    public Iterator<Node> iterator() {
      List<Node> out = new ArrayList<>();
      if (value instanceof List) {
        for (Object o : (List<?>) value) {
          out.add(new Node(o));
        }
      }
      return Collections.unmodifiableList(out).iterator();
    }

    @Override
    public String toString() {
      return isMissing() ? "(missing)" : write(value);
    }
  }
}
