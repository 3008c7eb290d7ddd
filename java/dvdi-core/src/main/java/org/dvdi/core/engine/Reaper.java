package org.dvdi.core.engine;

import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.logging.Level;
import java.util.logging.Logger;
import org.dvdi.core.seams.Scheduler;
import org.dvdi.core.state.StateView;
import org.dvdi.core.state.VolumeKey;
import org.dvdi.core.state.proto.Container;
import org.dvdi.core.state.proto.ContainerStatus;
import org.dvdi.core.state.proto.Volume;
import org.dvdi.core.state.proto.VolumeStatus;
import org.dvdi.core.state.proto.VolumeUse;
import org.dvdi.spi.DvdiException;

/**
 * The retry loop: every leftover step is finished or undone, with backoff. Volumes nobody
 * uses (failed releases, undone acquisitions in doubt, steps left ATTACHING or RELEASING by a
 * process that died) are released, each when its backoff has passed: {@code
 * release.retry-interval} after the first failure, doubled after each, at most {@code
 * release.retry-max}. Containers left PREPARING or CLEANING by a process that died (an
 * operator's {@code dvdi mount} killed with Ctrl-C) are cleaned up.
 */
final class Reaper implements AutoCloseable {
  private static final Logger LOG = Logger.getLogger(Reaper.class.getName());

  private final VolumeManager m;
  private Scheduler.Cancellable timer;
  private boolean started;

  Reaper(VolumeManager m) {
    this.m = m;
  }

  /** How often the loop looks: often enough for the first retry, at most every 5 s. */
  long tickMs() {
    return Math.max(20, Math.min(5000, m.config.retryInterval().toMillis() / 4));
  }

  synchronized void start() {
    if (started) {
      return;
    }
    started = true;
    timer = m.scheduler.repeat(Duration.ofMillis(tickMs()), this::pass);
  }

  /** One pass over the table. */
  void pass() {
    try {
      StateView view = m.state.freshView();
      long now = m.scheduler.currentTimeMillis();
      for (Container c : view.containers().values()) {
        if (m.leftByEndedProcess(c)) {
          LOG.warning("container " + c.getId() + " was left " + c.getStatus() + " by a process that ended ("
              + c.getOpOwner() + "): cleaning it up");
          m.cleanup(c.getId());
        }
      }
      Map<VolumeKey, List<String>> users = Recovery.users(view);
      for (Volume v : view.volumes().values()) {
        VolumeKey key = VolumeKey.of(v);
        if (v.getPinned() || users.containsKey(key) || !m.lanes.idle(key) || MountTable.inPreparation(view, key, m::preparing, m::ownerAlive)) {
          continue;
        }
        if (v.getStatus() != VolumeStatus.MOUNTED && MountTable.actorOwnsLiveStep(v, m.actor())) {
          continue; // another live dvdi process is at it
        }
        if (now < MountTable.nextRetryMs(v, m.config.retryInterval(), m.config.retryMax())) {
          continue;
        }
        m.lanes.submit(key, () -> m.steps.releaseOrphan(key)).whenComplete((x, e) -> {
          if (e != null) {
            LOG.warning("retrying the release of " + key + " failed again (" + (v.getReleaseAttempts() + 1)
                + " in a row): " + DvdiException.wrap(e, "release").getMessage());
          }
        });
      }
    } catch (RuntimeException e) {
      LOG.log(Level.WARNING, "release retry pass failed", e);
    }
  }

  @Override
  public synchronized void close() {
    if (timer != null) {
      timer.cancel();
    }
  }
}
