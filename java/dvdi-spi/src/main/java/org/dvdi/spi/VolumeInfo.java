package org.dvdi.spi;

import java.util.Map;

/**
 * A volume as its provider sees it.
 *
 * @param driver the driver name it was found under
 * @param name the volume's name
 * @param id the provider's own id (EBS volume id, image file, plugin name), or empty
 * @param sizeBytes size in bytes, or -1 when unknown
 * @param status provider status in its own words ("available", "in-use", "attached"), or empty
 * @param attachedTo who holds it now (instance id, host), or empty when nobody does
 * @param details further provider facts, shown by {@code dvdi volumes -o json}; never secrets
 */
public record VolumeInfo(
    String driver,
    String name,
    String id,
    long sizeBytes,
    String status,
    String attachedTo,
    Map<String, String> details) {

  public VolumeInfo {
    id = id == null ? "" : id;
    status = status == null ? "" : status;
    attachedTo = attachedTo == null ? "" : attachedTo;
    details = details == null ? Map.of() : Map.copyOf(details);
  }
}
