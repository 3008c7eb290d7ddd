package org.dvdi.spi;

import java.nio.file.Path;
import org.dvdi.spi.host.Commands;

/** What dvdi gives a provider when it makes one. */
public interface ProviderContext {
  /** Settings of this provider type, keys without their {@code providers.<type>.} prefix. */
  Settings settings();

  /** Whole configuration, for the few shared keys (timeouts, paths). */
  Settings globalSettings();

  /**
   * Who this host/agent is, for the records that say who holds a volume and for the Docker
   * plugin protocol's mount ID. Unique per agent, also for several agents on one host.
   */
  String instanceId();

  /** Where block providers mount volumes: {@code <root>/<driver>/<name>}. */
  Path mountRoot();

  /** The command runner: argument vectors, timeouts, no shell. */
  Commands commands();
}
