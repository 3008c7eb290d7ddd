package org.dvdi.spi.testing;

import java.lang.annotation.ElementType;
import java.lang.annotation.Retention;
import java.lang.annotation.RetentionPolicy;
import java.lang.annotation.Target;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * A test that needs root: loop devices, mount(2), mkfs. Skipped, with that said, when the
 * tests do not run as root; CI runs as root, so there they run. Also checks that the test
 * class leaves no mount or loop device behind ({@link LeakCheck}).
 */
@Target({ElementType.TYPE, ElementType.METHOD})
@Retention(RetentionPolicy.RUNTIME)
@ExtendWith({RootCondition.class, LeakCheck.class})
public @interface RequiresRoot {}
