package org.dvdi.spi;

/**
 * What a provider does that the engine must know.
 *
 * @param kernelMounts whether the host path it returns is a mount point in this host's mount
 *     table that dvdi itself made (block providers), so that {@code dvdi verify} and recovery
 *     compare it with the kernel's; false for plugins and dvdcli, which mount where they like
 */
public record Capabilities(boolean kernelMounts) {}
