/**
 * Optimized integer kernels: im2col plus a blocked int8 dot product. They must produce exactly
 * the bytes of {@code io.qat4j.runtime.reference} (tested on random graphs and geometries).
 */
package io.qat4j.runtime.optimized;
