package org.dvdi.spi.testing;

import org.dvdi.spi.host.HostInfo;
import org.junit.jupiter.api.extension.ConditionEvaluationResult;
import org.junit.jupiter.api.extension.ExecutionCondition;
import org.junit.jupiter.api.extension.ExtensionContext;

/** Enables a test only as root. */
public final class RootCondition implements ExecutionCondition {
  @Override
  public ConditionEvaluationResult evaluateExecutionCondition(ExtensionContext context) {
    return HostInfo.isRoot()
        ? ConditionEvaluationResult.enabled("running as root")
        : ConditionEvaluationResult.disabled("SKIPPED: needs root (uid 0) for loop devices, mount(2) and mkfs; "
            + "run the tests as root (CI does)");
  }
}
