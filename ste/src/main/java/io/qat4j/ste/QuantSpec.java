package io.qat4j.ste;

/**
 * What a uniform quantizer maps values to: an immutable, validated value.
 *
 * <p>Quantizer (DESIGN.md): {@code q = clamp(round(x/s) + z, qmin, qmax)}, {@code x^ = s (q - z)}.
 * Integer range: signed {@code [-2^(b-1), 2^(b-1)-1]}, unsigned {@code [0, 2^b-1]}; with
 * {@code narrowRange} a signed range drops its most negative code, {@code [-(2^(b-1)-1), 2^(b-1)-1]},
 * so that symmetric weights quantize {@code w} and {@code -w} to opposite codes (TFLite's int8 weight
 * convention). {@link Scheme#SYMMETRIC} fixes {@code z = 0}; {@link Scheme#AFFINE} lets the zero point
 * move so that an asymmetric range (e.g. post-ReLU activations) uses every code.
 *
 * @param bits        bit width, 1..16
 * @param signed      signed or unsigned integer range
 * @param scheme      symmetric ({@code z = 0}) or affine
 * @param narrowRange signed ranges only: drop the code {@code -2^(b-1)}
 * @param granularity per-tensor, per-channel or per-group scales
 * @param axis        channel axis for per-channel / per-group; {@code -1} for per-tensor
 * @param groupSize   elements per group for per-group; {@code 0} otherwise
 * @param rounding    rounding of {@code x/s}; default {@link Rounding#HALF_EVEN}
 * @param seed        seed of the stochastic-rounding generator (ignored by the other modes)
 */
public record QuantSpec(int bits, boolean signed, Scheme scheme, boolean narrowRange,
                        Granularity granularity, int axis, int groupSize, Rounding rounding, long seed) {

    /** Symmetric: zero point fixed at 0. Affine: zero point chosen from the observed range. */
    public enum Scheme { SYMMETRIC, AFFINE }

    /** Fewest bits of any uniform grid ({@link BitWidths#MIN_INPUT_BITS}; uniform weights take {@link BitWidths#MIN_WEIGHT_BITS}). */
    public static final int MIN_BITS = BitWidths.MIN_INPUT_BITS;
    /** Most bits a fake quantizer simulates ({@link BitWidths#MAX_BITS}; the INT8 runtime takes {@link BitWidths#INT8_RUNTIME_MAX_BITS}). */
    public static final int MAX_BITS = BitWidths.MAX_BITS;

    public QuantSpec {
        if (bits < MIN_BITS || bits > MAX_BITS) {
            throw new IllegalArgumentException("QuantSpec.bits must be in " + MIN_BITS + ".." + MAX_BITS
                    + ", got " + bits + " (use BinaryQuantizer or TernaryQuantizer for sign/ternary weights)");
        }
        if (scheme == null) {
            throw new IllegalArgumentException("QuantSpec.scheme must be SYMMETRIC or AFFINE, got null");
        }
        if (granularity == null) {
            throw new IllegalArgumentException("QuantSpec.granularity must be PER_TENSOR, PER_CHANNEL or PER_GROUP, got null");
        }
        if (rounding == null) {
            throw new IllegalArgumentException("QuantSpec.rounding must be HALF_EVEN, HALF_AWAY, HALF_UP or STOCHASTIC, got null");
        }
        if (narrowRange && !signed) {
            throw new IllegalArgumentException("QuantSpec.narrowRange applies to signed ranges only: set signed=true or narrowRange=false");
        }
        if (narrowRange && bits < 2) {
            throw new IllegalArgumentException("QuantSpec: a 1-bit narrow signed range holds only the code 0; use bits >= 2, "
                    + "narrowRange=false, or BinaryQuantizer for sign weights");
        }
        switch (granularity) {
            case PER_TENSOR -> {
                if (axis != -1 || groupSize != 0) {
                    throw new IllegalArgumentException("QuantSpec: per-tensor quantization takes axis=-1 and groupSize=0, got axis="
                            + axis + ", groupSize=" + groupSize + "; use PER_CHANNEL or PER_GROUP to quantize along an axis");
                }
            }
            case PER_CHANNEL -> {
                if (axis < 0) {
                    throw new IllegalArgumentException("QuantSpec: per-channel quantization needs axis >= 0 (the channel axis), got " + axis);
                }
                if (groupSize != 0) {
                    throw new IllegalArgumentException("QuantSpec: per-channel quantization takes groupSize=0, got " + groupSize
                            + "; use PER_GROUP for groups");
                }
            }
            case PER_GROUP -> {
                if (axis < 0) {
                    throw new IllegalArgumentException("QuantSpec: per-group quantization needs axis >= 0 (the channel axis), got " + axis);
                }
                if (groupSize < 1) {
                    throw new IllegalArgumentException("QuantSpec: per-group quantization needs groupSize >= 1, got " + groupSize);
                }
            }
        }
    }

    /** Smallest integer code. */
    public int qmin() {
        if (!signed) {
            return 0;
        }
        return narrowRange ? -((1 << (bits - 1)) - 1) : -(1 << (bits - 1));
    }

    /** Largest integer code. */
    public int qmax() {
        return signed ? (1 << (bits - 1)) - 1 : (1 << bits) - 1;
    }

    /** Number of distinct codes, {@code qmax - qmin + 1}. */
    public int levels() {
        return qmax() - qmin() + 1;
    }

    /** Signed, symmetric, narrow-range, per-channel weights (TFLite/ONNX int8 weight convention). */
    public static QuantSpec weightsPerChannel(int bits, int axis) {
        return builder().bits(bits).signed(true).scheme(Scheme.SYMMETRIC).narrowRange(true).perChannel(axis).build();
    }

    /** Signed, symmetric, narrow-range, per-tensor weights. */
    public static QuantSpec weightsPerTensor(int bits) {
        return builder().bits(bits).signed(true).scheme(Scheme.SYMMETRIC).narrowRange(true).build();
    }

    /**
     * Affine per-tensor activations: unsigned (e.g. after ReLU) or signed, rounding ties toward
     * +infinity ({@link Rounding#HALF_UP}) as the integer model's requantization does.
     */
    public static QuantSpec activations(int bits, boolean signed) {
        return builder().bits(bits).signed(signed).scheme(Scheme.AFFINE).rounding(Rounding.HALF_UP).build();
    }

    public static Builder builder() {
        return new Builder();
    }

    /** A builder starting from this spec. */
    public Builder toBuilder() {
        Builder b = new Builder();
        b.bits = bits;
        b.signed = signed;
        b.scheme = scheme;
        b.narrowRange = narrowRange;
        b.granularity = granularity;
        b.axis = axis;
        b.groupSize = groupSize;
        b.rounding = rounding;
        b.seed = seed;
        return b;
    }

    /** Builder; defaults: 8 bits, signed, symmetric, full range, per-tensor, half-even, seed 0. */
    public static final class Builder {
        private int bits = 8;
        private boolean signed = true;
        private Scheme scheme = Scheme.SYMMETRIC;
        private boolean narrowRange;
        private Granularity granularity = Granularity.PER_TENSOR;
        private int axis = -1;
        private int groupSize;
        private Rounding rounding = Rounding.HALF_EVEN;
        private long seed;

        private Builder() {
        }

        public Builder bits(int bits) {
            this.bits = bits;
            return this;
        }

        public Builder signed(boolean signed) {
            this.signed = signed;
            return this;
        }

        public Builder scheme(Scheme scheme) {
            this.scheme = scheme;
            return this;
        }

        public Builder narrowRange(boolean narrowRange) {
            this.narrowRange = narrowRange;
            return this;
        }

        public Builder perTensor() {
            this.granularity = Granularity.PER_TENSOR;
            this.axis = -1;
            this.groupSize = 0;
            return this;
        }

        public Builder perChannel(int axis) {
            this.granularity = Granularity.PER_CHANNEL;
            this.axis = axis;
            this.groupSize = 0;
            return this;
        }

        public Builder perGroup(int axis, int groupSize) {
            this.granularity = Granularity.PER_GROUP;
            this.axis = axis;
            this.groupSize = groupSize;
            return this;
        }

        public Builder rounding(Rounding rounding) {
            this.rounding = rounding;
            return this;
        }

        public Builder seed(long seed) {
            this.seed = seed;
            return this;
        }

        public QuantSpec build() {
            return new QuantSpec(bits, signed, scheme, narrowRange, granularity, axis, groupSize, rounding, seed);
        }
    }
}
