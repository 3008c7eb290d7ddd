package org.dvdi.spi;

/** Where a provider's volumes live, as in Docker's volume plugin {@code Capabilities}. */
public enum Scope {
  /** Volumes are visible from every host (EBS, a shared loop pool, REX-Ray). */
  GLOBAL,
  /** Volumes exist only on this host. */
  LOCAL
}
