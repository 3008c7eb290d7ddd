package org.dvdi.provider.loop;

import java.io.IOException;
import java.io.RandomAccessFile;
import java.io.StringReader;
import java.io.StringWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.DirectoryStream;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.attribute.BasicFileAttributes;
import java.time.Duration;
import java.util.List;
import java.util.Optional;
import java.util.Properties;
import java.util.TreeSet;
import java.util.function.LongSupplier;
import org.dvdi.spi.DvdiException;
import org.dvdi.spi.Sizes;
import org.dvdi.spi.host.AtomicFiles;
import org.dvdi.spi.host.FileLocks;

/**
 * The pool directory shared by every agent that uses it: for each volume an image file
 * {@code <name>.img}, a metadata file {@code <name>.meta} (versioned; who holds the volume),
 * and a lock file {@code <name>.lock} that serialises holder changes (and lease renewals)
 * across processes.
 *
 * <p>The one rule for what the pool holds under a name ({@link #find}): only "no such file"
 * means a file is absent; a file that cannot be looked at is PROVIDER_FAILURE, never "no
 * volume". A volume is its metadata and its image together; an image without metadata
 * (data dvdi does not know) and metadata without an image (lost data) are states of their
 * own, refused until the operator adopts the image or removes the metadata. Files are created
 * only where none is (link(2), never rename over a file): nothing here replaces an image, nor
 * a volume's first metadata.
 */
final class LoopPool {
  /**
   * Version of the metadata file format. 2 added the holder's lease ({@code lease-until}) and
   * boot ({@code holder-boot}); format 1 is still read (see {@link #NO_LEASE}).
   */
  static final int META_FORMAT = 2;

  /**
   * The lease end of a holder recorded in format 1, which has none: written by a dvdi that
   * never renews a lease, it cannot be known to have ended, so it never expires (it is replaced
   * when that holder, upgraded, renews it, or releases the volume).
   */
  static final long NO_LEASE = Long.MAX_VALUE;

  /** Metadata key and values of a volume's life: written "creating" first, "ready" when its image is there. */
  private static final String STATE = "state";
  private static final String CREATING = "creating";
  private static final String READY = "ready";

  /**
   * A volume's metadata.
   *
   * @param holder the instance that holds the volume, or "" when none does
   * @param holderBoot the boot id of the holder's host when it took the volume ("" when unknown):
   *     a loop device on another boot (another host) cannot be the holder's
   * @param leaseUntilMs when the holder's lease ends, in milliseconds since the epoch: it renews
   *     the lease while it holds the volume, and another instance may take the volume over only
   *     after it ended ({@link #NO_LEASE}: never)
   */
  record Meta(String name, long sizeBytes, long createdMs, String holder, long holderSinceMs, String holderBoot,
      long leaseUntilMs, boolean creating) {
    Meta withHolder(String h, long since, String boot, long leaseUntil) {
      return new Meta(name, sizeBytes, createdMs, h, since, boot, leaseUntil, creating);
    }

    Meta withoutHolder() {
      return withHolder("", 0, "", 0);
    }

    Meta withLease(long leaseUntil) {
      return withHolder(holder, holderSinceMs, holderBoot, leaseUntil);
    }

    Meta asCreating() {
      return new Meta(name, sizeBytes, createdMs, holder, holderSinceMs, holderBoot, leaseUntilMs, true);
    }

    Meta asReady() {
      return new Meta(name, sizeBytes, createdMs, holder, holderSinceMs, holderBoot, leaseUntilMs, false);
    }

    boolean held() {
      return !holder.isEmpty();
    }

    /** Whether the holder's lease still runs at {@code nowMs}. */
    boolean leaseLive(long nowMs) {
      return held() && nowMs < leaseUntilMs;
    }

    /** When the lease ends, for people. */
    String leaseEnd() {
      return leaseUntilMs == NO_LEASE ? "never (a record of format 1, from a dvdi that does not renew leases)"
          : java.time.Instant.ofEpochMilli(leaseUntilMs).toString();
    }
  }

  /** What the pool holds under one name. */
  enum Presence {
    /** Neither file. */
    ABSENT(""),
    /** Metadata and image: a volume. */
    VOLUME(""),
    /** A create that has not finished (or was interrupted): the next create finishes it. */
    CREATING("creating"),
    /** An image without metadata: refused until adopted. */
    NO_METADATA("no-metadata"),
    /** Metadata without an image: refused until removed. */
    NO_IMAGE("no-image");

    private final String status;

    Presence(String status) {
      this.status = status;
    }

    /** The status {@code list} shows for it. */
    String status() {
      return status;
    }
  }

  /**
   * One name's files.
   *
   * @param meta its metadata, when it has some
   * @param imageBytes its image's size, or -1 when it has none
   */
  record Entry(String name, Presence presence, Optional<Meta> meta, long imageBytes) {}

  private final Path dir;
  private final String driver;
  /** The wall clock, in milliseconds since the epoch. */
  private final LongSupplier clock;

  LoopPool(Path dir, String driver, LongSupplier clock) {
    this.dir = dir;
    this.driver = driver;
    this.clock = clock;
  }

  Path dir() {
    return dir;
  }

  Path image(String name) {
    return dir.resolve(name + ".img");
  }

  private Path meta(String name) {
    return dir.resolve(name + ".meta");
  }

  /** Where a new image is made before it is linked to its name; dot files are never volumes. */
  private Path newImage(String name) {
    return dir.resolve("." + name + ".img.new");
  }

  /** What the pool holds under {@code name}. */
  Entry find(String name) {
    Optional<Meta> m = readMeta(name);
    long bytes = imageBytes(name);
    Presence p;
    if (m.isPresent() && m.get().creating()) {
      p = Presence.CREATING;
    } else if (m.isPresent()) {
      p = bytes < 0 ? Presence.NO_IMAGE : Presence.VOLUME;
    } else {
      p = bytes < 0 ? Presence.ABSENT : Presence.NO_METADATA;
    }
    return new Entry(name, p, m, bytes);
  }

  /**
   * The volume {@code name}: empty when there is none (or its creation has not finished);
   * an image without metadata or metadata without an image is PROVIDER_FAILURE.
   */
  Optional<Meta> read(String name) {
    Entry e = find(name);
    return switch (e.presence()) {
      case VOLUME -> e.meta();
      case ABSENT, CREATING -> Optional.empty();
      case NO_METADATA, NO_IMAGE -> throw refusal(e);
    };
  }

  /** What is wrong with {@code e}, which is not a volume, and what to do. */
  String problem(Entry e) {
    String key = driver + "/" + e.name();
    return switch (e.presence()) {
      case NO_METADATA -> "loop volume " + key + ": the pool holds image " + image(e.name()) + " (" + Sizes.format(e.imageBytes())
          + ") without its metadata " + meta(e.name()) + ", so dvdi does not know whose data it is and neither uses"
          + " nor replaces it; to adopt the image as volume " + key + " with its data: dvdi create " + key
          + " -O adopt=true (or move the file out of the pool)";
      case NO_IMAGE -> "loop volume " + key + ": the pool has its metadata " + meta(e.name()) + " but not its image "
          + image(e.name()) + " (its data is gone), and dvdi does not make an empty image in its place;"
          + " dvdi remove " + key + " deletes the metadata";
      case CREATING -> "loop volume " + key + ": its creation has not finished (" + meta(e.name())
          + " says creating); the next create of " + key + " finishes it";
      case ABSENT -> "loop volume " + key + " does not exist in " + dir;
      case VOLUME -> "loop volume " + key + " exists";
    };
  }

  DvdiException refusal(Entry e) {
    return DvdiException.provider(problem(e));
  }

  private Optional<Meta> readMeta(String name) {
    Path m = meta(name);
    String text;
    try {
      text = Files.readString(m, StandardCharsets.UTF_8);
    } catch (NoSuchFileException e) {
      return Optional.empty();
    } catch (IOException e) {
      throw DvdiException.provider("cannot read loop volume metadata " + m + ": " + e, e);
    }
    Properties p = new Properties();
    try {
      p.load(new StringReader(text));
    } catch (IOException | IllegalArgumentException e) {
      throw DvdiException.provider("loop volume metadata " + m + " is damaged: " + e.getMessage(), e);
    }
    int format;
    try {
      format = Integer.parseInt(p.getProperty("format", "0"));
    } catch (NumberFormatException e) {
      format = 0;
    }
    if (format != 1 && format != META_FORMAT) {
      throw DvdiException.provider("loop volume metadata " + m + " has format " + p.getProperty("format")
          + "; this dvdi reads formats 1 and " + META_FORMAT);
    }
    String state = p.getProperty(STATE, READY);
    if (!state.equals(READY) && !state.equals(CREATING)) {
      throw DvdiException.provider("loop volume metadata " + m + " is damaged: state '" + state + "'");
    }
    String holder = p.getProperty("holder", "");
    if (format == META_FORMAT && !holder.isEmpty() && (p.getProperty("lease-until") == null || p.getProperty("holder-boot") == null)) {
      throw DvdiException.provider("loop volume metadata " + m + " is damaged: holder '" + holder + "' without lease-until or holder-boot");
    }
    try {
      long lease = format == 1 ? (holder.isEmpty() ? 0 : NO_LEASE) : Long.parseLong(p.getProperty("lease-until", "0"));
      return Optional.of(new Meta(p.getProperty("name", name), Long.parseLong(p.getProperty("size", "0")),
          Long.parseLong(p.getProperty("created", "0")), holder, Long.parseLong(p.getProperty("holder-since", "0")),
          p.getProperty("holder-boot", ""), lease, state.equals(CREATING)));
    } catch (NumberFormatException e) {
      throw DvdiException.provider("loop volume metadata " + m + " is damaged: " + e.getMessage());
    }
  }

  /** The image's size, or -1 when there is no such file (a dangling link is a file here). */
  private long imageBytes(String name) {
    Path img = image(name);
    try {
      return Files.readAttributes(img, BasicFileAttributes.class, LinkOption.NOFOLLOW_LINKS).size();
    } catch (NoSuchFileException e) {
      return -1;
    } catch (IOException e) {
      throw DvdiException.provider("cannot look at loop volume image " + img + ": " + e, e);
    }
  }

  /** Replaces the metadata of a volume that has some. */
  void write(Meta meta) {
    store(meta, true);
  }

  private void store(Meta meta, boolean replace) {
    Properties p = new Properties();
    p.setProperty("format", Integer.toString(META_FORMAT));
    p.setProperty(STATE, meta.creating() ? CREATING : READY);
    p.setProperty("name", meta.name());
    p.setProperty("size", Long.toString(meta.sizeBytes()));
    p.setProperty("created", Long.toString(meta.createdMs()));
    p.setProperty("holder", meta.holder());
    p.setProperty("holder-since", Long.toString(meta.holderSinceMs()));
    p.setProperty("holder-boot", meta.holderBoot());
    p.setProperty("lease-until", Long.toString(meta.leaseUntilMs()));
    StringWriter w = new StringWriter();
    Path m = meta(meta.name());
    try {
      p.store(w, "dvdi loop volume");
      byte[] bytes = w.toString().getBytes(StandardCharsets.UTF_8);
      if (replace) {
        AtomicFiles.write(m, bytes);
      } else {
        AtomicFiles.create(m, bytes);
      }
    } catch (IOException e) {
      throw DvdiException.provider("cannot write loop volume metadata " + m + ": " + e, e);
    }
  }

  /**
   * Creates volume {@code name} of {@code size} bytes, or finishes its interrupted creation
   * (then with the size it was begun with); the caller holds its lock and found it
   * {@link Presence#ABSENT} or {@link Presence#CREATING}. The metadata comes first
   * ("creating", never over a file), then the image (made under a temporary name, linked to
   * its name, never over a file), then the metadata says "ready".
   */
  Meta create(Entry e, long size) {
    if (e.presence() != Presence.ABSENT && e.presence() != Presence.CREATING) {
      throw DvdiException.internal("creating loop volume " + driver + "/" + e.name() + " in state " + e.presence(), null);
    }
    Meta m = e.meta().orElseGet(() -> new Meta(e.name(), size, clock.getAsLong(), "", 0, "", 0, true));
    Path img = image(e.name());
    Path tmp = newImage(e.name());
    try {
      Files.createDirectories(dir);
      if (e.meta().isEmpty()) {
        store(m, false);
      }
      if (e.imageBytes() < 0) {
        Files.deleteIfExists(tmp); // left by an interrupted create of this volume, whose lock we hold
        Files.createFile(tmp);
        try (RandomAccessFile f = new RandomAccessFile(tmp.toFile(), "rw")) {
          f.setLength(m.sizeBytes()); // sparse
          f.getFD().sync();
        }
        try {
          AtomicFiles.publish(tmp, img);
        } catch (FileAlreadyExistsException ex) {
          // Someone put an image there meanwhile: not ours, so this name is now an image
          // without metadata, refused until adopted.
          Files.deleteIfExists(meta(e.name()));
          throw ex;
        }
      }
    } catch (IOException ex) {
      throw DvdiException.provider("cannot create loop volume image " + img + ": " + ex, ex);
    }
    Meta ready = m.asReady();
    write(ready);
    return ready;
  }

  /**
   * Adopts an image without metadata (found {@link Presence#NO_METADATA}; the caller holds
   * its lock): writes metadata for it, of the image's size, never over a file. The image is
   * not touched.
   */
  Meta adopt(Entry e) {
    if (e.presence() != Presence.NO_METADATA) {
      throw DvdiException.internal("adopting loop volume " + driver + "/" + e.name() + " in state " + e.presence(), null);
    }
    Meta m = new Meta(e.name(), e.imageBytes(), clock.getAsLong(), "", 0, "", 0, false);
    store(m, false);
    return m;
  }

  /** Deletes a volume's image, then its metadata (an interrupted delete leaves metadata without an image). */
  void delete(String name) throws IOException {
    Files.deleteIfExists(image(name));
    Files.deleteIfExists(meta(name));
    AtomicFiles.syncDirectory(dir);
  }

  /** Every name the pool holds an image or metadata of, sorted. */
  List<String> names() {
    TreeSet<String> out = new TreeSet<>();
    try (DirectoryStream<Path> ds = Files.newDirectoryStream(dir)) {
      for (Path p : ds) {
        String f = p.getFileName().toString();
        for (String ext : List.of(".img", ".meta")) {
          if (f.endsWith(ext) && !f.startsWith(".")) {
            out.add(f.substring(0, f.length() - ext.length()));
          }
        }
      }
    } catch (NoSuchFileException e) {
      return List.of(); // no volume was ever created
    } catch (IOException e) {
      throw DvdiException.provider("cannot list loop pool " + dir + ": " + e, e);
    }
    return List.copyOf(out);
  }

  /** Runs {@code body} holding the volume's lock, across threads and processes. */
  <T> T locked(String name, Duration timeout, java.util.function.Supplier<T> body) {
    try (FileLocks.Held held = FileLocks.lock(dir.resolve(name + ".lock"), false, timeout, "the lock of loop volume " + name)) {
      return body.get();
    }
  }
}
