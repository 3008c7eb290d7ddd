package org.dvdi.core.engine;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletionException;
import java.util.stream.Stream;
import org.dvdi.core.Dvdi;
import org.dvdi.core.TestDvdi;
import org.dvdi.core.request.PrepareRequest;
import org.dvdi.spi.DvdiException;
import org.dvdi.spi.ErrorCode;
import org.dvdi.spi.testing.LeakCheck;
import org.dvdi.spi.testing.RequiresRoot;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;

/** A request that breaks a rule makes nothing: no volume created, attached or mounted (real loop provider). */
@RequiresRoot
@ExtendWith(LeakCheck.class)
class LaunchPlannerRootTest {
  @TempDir
  Path tmp;

  static List<Path> poolFiles(TestDvdi t) throws Exception {
    if (!Files.isDirectory(t.pool)) {
      return List.of();
    }
    try (Stream<Path> s = Files.list(t.pool)) {
      return s.filter(p -> p.getFileName().toString().startsWith("ruled")).toList();
    }
  }

  DvdiException refusedWithNothingMade(TestDvdi t, PrepareRequest req) throws Exception {
    try (Dvdi d = t.open(Dvdi.WRITER_AGENT)) {
      try {
        CompletionException e = assertThrows(CompletionException.class, () -> d.manager().prepare(req).join());
        DvdiException x = DvdiException.wrap(e, "test");
        assertEquals(ErrorCode.INVALID_REQUEST, x.getCode(), x.getMessage());
        assertEquals(List.of(), poolFiles(t), "the loop provider made a volume for a request that breaks a rule");
        assertTrue(d.state().view().volumes().isEmpty(), "state has a volume: " + d.state().view().volumes());
        return x;
      } finally {
        d.manager().cleanup(req.containerId()).join(); // releases what a wrongly accepted request mounted
      }
    }
  }

  @Test
  void finding11_aSymbolicLinkInTheContainerPathMakesNoVolume() throws Exception {
    TestDvdi t = new TestDvdi(tmp);
    PrepareRequest req = t.request("c1", Map.of("DVDI_VOLUME_NAME", "ruled", "DVDI_VOLUME_CONTAINERPATH", "link/x"));
    Files.createSymbolicLink(req.sandbox().resolve("link"), Files.createDirectories(tmp.resolve("elsewhere")));
    DvdiException e = refusedWithNothingMade(t, req);
    assertTrue(e.getMessage().contains("DVDI_VOLUME_CONTAINERPATH is 'link/x'"), e.getMessage());
  }

  @Test
  void finding5_overwritefsMakesNoVolumeUnlessAllowed() throws Exception {
    TestDvdi t = new TestDvdi(tmp);
    PrepareRequest req = t.request("c1", Map.of("DVDI_VOLUME_NAME", "ruled", "DVDI_VOLUME_OPTS", "overwritefs=true"));
    DvdiException e = refusedWithNothingMade(t, req);
    assertTrue(e.getMessage().contains("volumes.allow-overwritefs"), e.getMessage());
  }
}
