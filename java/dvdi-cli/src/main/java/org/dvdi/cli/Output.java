package org.dvdi.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import java.io.PrintWriter;
import java.util.ArrayList;
import java.util.List;

/** Prints tables (aligned columns) or JSON. */
final class Output {
  static final ObjectMapper JSON = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);

  private Output() {}

  static void json(PrintWriter out, JsonNode node) {
    try {
      out.println(JSON.writeValueAsString(node));
    } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
      throw new IllegalStateException(e);
    }
  }

  /** Prints rows under headers, columns padded to their widest cell. */
  static void table(PrintWriter out, List<String> headers, List<List<String>> rows, boolean noHeaders) {
    List<List<String>> all = new ArrayList<>();
    if (!noHeaders) {
      all.add(headers);
    }
    all.addAll(rows);
    int[] w = new int[headers.size()];
    for (List<String> r : all) {
      for (int i = 0; i < r.size(); i++) {
        w[i] = Math.max(w[i], r.get(i).length());
      }
    }
    for (List<String> r : all) {
      StringBuilder b = new StringBuilder();
      for (int i = 0; i < r.size(); i++) {
        b.append(r.get(i));
        if (i < r.size() - 1) {
          b.append(" ".repeat(w[i] - r.get(i).length() + 2));
        }
      }
      out.println(b.toString().stripTrailing());
    }
  }
}
