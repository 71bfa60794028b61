/**
 * The {@code qat4j} command line (picocli): one {@code Callable<Integer>} per subcommand.
 * Exit codes: 0 success, 1 a check or run failed, 2 bad usage or input.
 */
package io.qat4j.cli;
