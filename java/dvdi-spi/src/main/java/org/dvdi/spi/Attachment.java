package org.dvdi.spi;

import java.util.Map;

/**
 * The outcome of {@link VolumeProvider#attach}: the block device the volume appeared as,
 * if the provider has one, plus data to keep for detach.
 */
public record Attachment(String device, Map<String, String> providerData) {
  public static final Attachment NONE = new Attachment("", Map.of());

  public Attachment {
    device = device == null ? "" : device;
    providerData = providerData == null ? Map.of() : Map.copyOf(providerData);
  }
}
