package org.dvdi.core.state;

/**
 * A decision taken on the current table under the state lock: it reads {@code current}
 * (fresh, including changes other processes made) and adds what to change to
 * {@code changes}; the store writes them durably before {@code mutate} returns.
 */
@FunctionalInterface
public interface Mutation<T> {
  T apply(StateView current, Changes changes);
}
