package org.dvdi.spi;

import java.util.List;
import java.util.Optional;

/**
 * A storage provider: one instance serves one driver name ({@code DVDI_VOLUME_DRIVER}).
 *
 * <p>dvdi calls a provider for a volume in this order: {@link #inspect} (and {@link #create}
 * if it is missing and implicit creation is allowed), {@link #attach}, {@link #mount}; and to
 * release it {@link #unmount} then {@link #detach}. dvdi orders the calls for one volume
 * (never two at once for the same volume from one host) and runs calls for different volumes
 * in parallel, so implementations must be thread-safe across volumes.
 *
 * <p>Every call gets a {@link CallContext} with a deadline. {@code attach}, {@code mount},
 * {@code unmount}, {@code detach} must be idempotent: dvdi repeats them after a crash to
 * finish or undo an interrupted step, so "already attached/mounted/unmounted/detached" is
 * success. Failures are {@link DvdiException}s with a code.
 */
public interface VolumeProvider extends AutoCloseable {

  /** The driver name this instance serves. */
  String driver();

  Capabilities capabilities();

  /**
   * Checks a request's options before anything is done, so that bad input fails the task
   * with nothing half-made. Throws INVALID_REQUEST naming the option and the rule.
   */
  void validate(String name, VolumeOptions options);

  /** The volume, or empty when it does not exist. */
  Optional<VolumeInfo> inspect(String name, CallContext ctx);

  /** Every volume the provider knows. */
  List<VolumeInfo> list(CallContext ctx);

  /** Creates the volume; fails with VOLUME_BUSY-free success if it already exists. */
  VolumeInfo create(String name, VolumeOptions options, CallContext ctx);

  /**
   * Makes the volume usable on this host (attach an EBS volume, a loop device). Providers
   * without that step return {@link Attachment#NONE}.
   */
  default Attachment attach(String name, VolumeOptions options, CallContext ctx) {
    return Attachment.NONE;
  }

  /** Mounts the volume on this host and returns where its data is. */
  MountedVolume mount(String name, VolumeOptions options, Attachment attachment, CallContext ctx);

  /** Unmounts what {@link #mount} did. Not mounted is success. */
  void unmount(VolumeHandle volume, CallContext ctx);

  /** Undoes {@link #attach}. Not attached is success. */
  default void detach(VolumeHandle volume, CallContext ctx) {}

  /** Deletes the volume and its data. Fails with VOLUME_BUSY while it is attached anywhere. */
  void remove(String name, CallContext ctx);

  @Override
  default void close() {}
}
