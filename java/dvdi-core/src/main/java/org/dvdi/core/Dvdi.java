package org.dvdi.core;

import org.dvdi.core.config.DvdiConfig;
import org.dvdi.core.engine.ProviderRegistry;
import org.dvdi.core.engine.VolumeManager;
import org.dvdi.core.state.StateStore;
import org.dvdi.spi.host.Commands;

/** One dvdi: configuration, state, providers and the volume manager, assembled. */
public final class Dvdi implements AutoCloseable {
  /** Writer names recorded in state. */
  public static final String WRITER_AGENT = "agent";
  public static final String WRITER_CLI = "cli";

  private final DvdiConfig config;
  private final StateStore state;
  private final ProviderRegistry providers;
  private final VolumeManager manager;

  private Dvdi(DvdiConfig config, StateStore state, ProviderRegistry providers, VolumeManager manager) {
    this.config = config;
    this.state = state;
    this.providers = providers;
    this.manager = manager;
  }

  /** Opens the state directory for writing and makes the providers' registry. */
  public static Dvdi open(DvdiConfig config, String writer) {
    Commands commands = new Commands();
    ProviderRegistry providers = new ProviderRegistry(config, commands, Dvdi.class.getClassLoader());
    StateStore state = StateStore.open(config.stateDir(), writer, config.lockTimeout());
    VolumeManager manager = new VolumeManager(config, state, providers, commands, writer);
    return new Dvdi(config, state, providers, manager);
  }

  public DvdiConfig config() {
    return config;
  }

  public StateStore state() {
    return state;
  }

  public ProviderRegistry providers() {
    return providers;
  }

  public VolumeManager manager() {
    return manager;
  }

  @Override
  public void close() {
    manager.close();
    providers.close();
    state.close();
  }
}
