package io.qat4j.ptq;

/** How a PTQ plan chooses weight scales (per channel or per tensor). */
public enum WeightRangeMethod {
    /** {@code s = max|w| / qmax}: nothing is clipped. */
    MINMAX,
    /** {@code s = t / qmax} with t searched to minimize {@code ||w - Q(w)||^2} (clips outliers when that pays). */
    MSE
}
