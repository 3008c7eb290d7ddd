package org.dvdi.cli;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/** One run of the CLI in this JVM, with settings given as {@code --set}: its exit code and output. */
record CliRun(int code, String out, String err) {
  static CliRun of(Map<String, String> settings, String... args) {
    List<String> all = new ArrayList<>();
    settings.forEach((k, v) -> {
      all.add("--set");
      all.add(k + "=" + v);
    });
    all.addAll(List.of(args));
    StringWriter out = new StringWriter();
    StringWriter err = new StringWriter();
    int code = Main.run(all.toArray(new String[0]), new PrintWriter(out), new PrintWriter(err), Map.of());
    return new CliRun(code, out.toString(), err.toString());
  }

  JsonNode json() throws Exception {
    return Output.JSON.readTree(out);
  }
}
