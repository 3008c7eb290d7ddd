package org.dvdi.spi.host;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.nio.charset.StandardCharsets;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class AtomicFilesTest {
  @TempDir
  Path dir;

  static byte[] bytes(String s) {
    return s.getBytes(StandardCharsets.UTF_8);
  }

  List<String> names() throws Exception {
    try (Stream<Path> s = Files.list(dir)) {
      return s.map(p -> p.getFileName().toString()).sorted().toList();
    }
  }

  @Test
  void createNeverReplacesAndLeavesNoTemporaryFile() throws Exception {
    Path f = dir.resolve("f");
    AtomicFiles.create(f, bytes("first"));
    assertThrows(FileAlreadyExistsException.class, () -> AtomicFiles.create(f, bytes("second")));
    assertArrayEquals(bytes("first"), Files.readAllBytes(f));
    Path dangling = dir.resolve("link");
    Files.createSymbolicLink(dangling, dir.resolve("nowhere"));
    assertThrows(FileAlreadyExistsException.class, () -> AtomicFiles.create(dangling, bytes("x")));
    assertEquals(List.of("f", "link"), names());
    AtomicFiles.write(f, bytes("replaced"));
    assertArrayEquals(bytes("replaced"), Files.readAllBytes(f));
    assertEquals(List.of("f", "link"), names());
  }
}
