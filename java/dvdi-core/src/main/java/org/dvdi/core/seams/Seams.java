package org.dvdi.core.seams;

/**
 * What the engine is given of the world (DESIGN.md, "Seams"): time and threads, and the host.
 * The state store's disk and the providers are given to it separately (the store and the
 * provider registry).
 */
public record Seams(Scheduler scheduler, Host host) {
  /** This machine, with a new scheduler of real threads (closed with the engine). */
  public static Seams real() {
    return new Seams(Scheduler.real(), Host.REAL);
  }
}
