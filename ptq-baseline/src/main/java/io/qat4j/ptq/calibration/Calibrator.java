package io.qat4j.ptq.calibration;

/**
 * Turns {@link ActivationStatistics} into the range a b-bit activation quantizer should use.
 * Calibrators are stateless: one statistics pass serves every calibrator and every width.
 */
public interface Calibrator {

    /**
     * @param stats statistics of one tensor (at least one value observed)
     * @param bits  the activation width the range is for, 1..16
     * @return {@code [0, t]} for non-negative data, {@code [-t, t]} (or {@code [min, max]} for
     *         the min-max calibrators) for signed data
     */
    Range range(ActivationStatistics stats, int bits);

    /** Short name for plans and reports, e.g. {@code "entropy"}. */
    String name();

    /**
     * Quantization levels above zero that a range {@code [0, t]} or {@code [-t, t]} gets at
     * {@code bits}: {@code 2^b - 1} for non-negative data (all codes on one side), {@code 2^(b-1) - 1}
     * for signed data.
     */
    static int positiveLevels(boolean signed, int bits) {
        checkBits(bits);
        return signed ? Math.max(1, (1 << (bits - 1)) - 1) : (1 << bits) - 1;
    }

    static void checkBits(int bits) {
        io.qat4j.ste.BitWidths.checkInputBits("calibration: activation bits", bits, io.qat4j.ste.BitWidths.Target.SIMULATION);
    }
}
