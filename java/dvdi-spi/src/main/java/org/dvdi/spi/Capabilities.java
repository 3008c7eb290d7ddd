package org.dvdi.spi;

/**
 * What a provider can do.
 *
 * @param scope where its volumes live
 * @param separateAttach whether {@code attach}/{@code detach} are real steps (block providers);
 *     when false they are no-ops and {@code mount}/{@code unmount} do all the work
 * @param canCreate whether it creates volumes (implicitly on first use, or on request)
 * @param canRemove whether it removes volumes
 * @param kernelMounts whether the host path it returns is a mount point in this host's mount
 *     table that dvdi itself made, so {@code dvdi verify} can compare it with the kernel's
 * @param inspects whether {@code inspect} and {@code list} see the provider's real volumes (so
 *     that an empty inspect means "does not exist"); false for dvdcli, which can only mount
 *     (and creates on mount unless {@link VolumeOptions#explicitCreate()})
 */
public record Capabilities(
    Scope scope, boolean separateAttach, boolean canCreate, boolean canRemove, boolean kernelMounts, boolean inspects) {

  /** A provider that can inspect and list. */
  public Capabilities(Scope scope, boolean separateAttach, boolean canCreate, boolean canRemove, boolean kernelMounts) {
    this(scope, separateAttach, canCreate, canRemove, kernelMounts, true);
  }
}
