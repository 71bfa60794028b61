package io.qat4j.ste;

/**
 * Which elements share one scale and zero point.
 *
 * <ul>
 *   <li>{@link #PER_TENSOR}: one pair for the whole tensor.</li>
 *   <li>{@link #PER_CHANNEL}: one pair per index along {@link QuantSpec#axis()} (for DL4J weights,
 *       axis 0 of a conv kernel {@code [out, in, kh, kw]}, axis 1 of a dense weight {@code [in, out]}).</li>
 *   <li>{@link #PER_GROUP}: each channel's elements, in C order of the remaining dimensions, are cut
 *       into consecutive groups of {@link QuantSpec#groupSize()} elements, one pair per group.</li>
 * </ul>
 */
public enum Granularity {
    PER_TENSOR,
    PER_CHANNEL,
    PER_GROUP
}
