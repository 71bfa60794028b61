/**
 * Optimized integer kernels ({@link io.qat4j.runtime.optimized.OptimizedKernels}): im2col plus
 * blocked int8 dot products, and with {@code --add-modules jdk.incubator.vector} the Vector API
 * kernels ({@code VectorKernels}: exact float FMAs of small integers). They must produce exactly the
 * bytes of {@code io.qat4j.runtime.reference} (tested on random graphs and geometries).
 *
 * <p>May depend on {@code io.qat4j.runtime} and the JDK (the incubator module {@code jdk.incubator.vector}
 * only when it is present at run time).
 */
package io.qat4j.runtime.optimized;
