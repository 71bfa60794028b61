package io.qat4j.layers.impl;

import org.deeplearning4j.nn.conf.CNN2DFormat;
import org.deeplearning4j.nn.conf.ConvolutionMode;
import org.deeplearning4j.nn.conf.layers.ConvolutionLayer;
import org.deeplearning4j.nn.workspace.ArrayType;
import org.deeplearning4j.nn.workspace.LayerWorkspaceMgr;
import org.deeplearning4j.util.ConvolutionUtils;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.api.ops.DynamicCustomOp;
import org.nd4j.linalg.factory.Nd4j;

/**
 * libnd4j's native 2-D convolution ops as the quantized layers call them (NCHW data):
 * {@code conv2d}/{@code conv2d_bp} with weights {@code [oC, iC, kH, kW]} and
 * {@code depthwise_conv2d}/{@code depthwise_conv2d_bp} with weights {@code [kH, kW, iC, mC]}
 * (libnd4j's default depthwise format, the one DL4J's own depthwise and separable layers pass),
 * output channel {@code c * mC + m}.
 */
final class NativeConvolution {

    /** libnd4j integer argument 9: NCHW data (0 means channels first). */
    private static final int DATA_NCHW = 0;
    /** libnd4j conv2d integer argument 10: weights laid out [oC, iC, kH, kW]. */
    private static final int WEIGHTS_OIYX = 1;

    /** Geometry of one convolution: kernel, stride, padding, dilation, mode. */
    record Geometry(int[] kernel, int[] stride, int[] padding, int[] dilation, ConvolutionMode mode) {

        /** The geometry a DL4J convolution configuration declares. */
        static Geometry of(ConvolutionLayer c) {
            return new Geometry(c.getKernelSize(), c.getStride(), c.getPadding(), c.getDilation(), c.getConvolutionMode());
        }

        /** A 1x1 convolution, stride 1, no padding (a separable convolution's pointwise part). */
        static Geometry pointwise() {
            return new Geometry(new int[] {1, 1}, new int[] {1, 1}, new int[] {0, 0}, new int[] {1, 1}, ConvolutionMode.Truncate);
        }

        /** libnd4j's common integer arguments 0..9. */
        int[] args() {
            return new int[] {kernel[0], kernel[1], stride[0], stride[1], padding[0], padding[1], dilation[0], dilation[1],
                mode == ConvolutionMode.Same ? 1 : 0, DATA_NCHW};
        }

        int[] outputHW(INDArray x) {
            return ConvolutionUtils.getOutputSize(x, kernel, stride, padding, mode, dilation, CNN2DFormat.NCHW);
        }
    }

    private NativeConvolution() {
    }

    private static int[] conv2dArgs(Geometry g) {
        int[] a = java.util.Arrays.copyOf(g.args(), 11);
        a[10] = WEIGHTS_OIYX;
        return a;
    }

    /** conv2d of {@code x} with {@code w} ({@code [oC, iC, kH, kW]}) and optional bias into a new array of the given workspace type. */
    static INDArray conv2d(Geometry g, INDArray x, INDArray w, INDArray b, DataType type, LayerWorkspaceMgr workspaceMgr, ArrayType at) {
        int[] hw = g.outputHW(x);
        INDArray out = workspaceMgr.createUninitialized(at, type, new long[] {x.size(0), w.size(0), hw[0], hw[1]}, 'c');
        DynamicCustomOp.DynamicCustomOpsBuilder op = DynamicCustomOp.builder("conv2d").addIntegerArguments(conv2dArgs(g)).addOutputs(out);
        op = b == null ? op.addInputs(x, w) : op.addInputs(x, w, b);
        exec(op.build(), g.dilation());
        return out;
    }

    /** conv2d_bp: writes dL/dx into {@code gradInput}; returns {dL/dw, dL/db or null} (new arrays). */
    static INDArray[] conv2dBackprop(Geometry g, INDArray x, INDArray w, INDArray b, INDArray delta, INDArray gradInput) {
        return backprop("conv2d_bp", conv2dArgs(g), g.dilation(), x, w, b, delta, gradInput);
    }

    /**
     * depthwise_conv2d of {@code x} with {@code w} ({@code [kH, kW, iC, mC]}) and optional bias
     * ({@code [iC mC]}) into a new array {@code [n, iC mC, oH, oW]} of the given workspace type.
     */
    static INDArray depthwise(Geometry g, INDArray x, INDArray w, INDArray b, DataType type, LayerWorkspaceMgr workspaceMgr,
                              ArrayType at) {
        int[] hw = g.outputHW(x);
        INDArray out = workspaceMgr.createUninitialized(at, type, new long[] {x.size(0), w.size(2) * w.size(3), hw[0], hw[1]}, 'c');
        DynamicCustomOp.DynamicCustomOpsBuilder op = DynamicCustomOp.builder("depthwise_conv2d").addIntegerArguments(g.args())
                .addOutputs(out);
        op = b == null ? op.addInputs(x, w) : op.addInputs(x, w, b);
        exec(op.build(), g.dilation());
        return out;
    }

    /** depthwise_conv2d_bp: writes dL/dx into {@code gradInput}; returns {dL/dw, dL/db or null} (new arrays). */
    static INDArray[] depthwiseBackprop(Geometry g, INDArray x, INDArray w, INDArray b, INDArray delta, INDArray gradInput) {
        return backprop("depthwise_conv2d_bp", g.args(), g.dilation(), x, w, b, delta, gradInput);
    }

    private static INDArray[] backprop(String name, int[] args, int[] dilation, INDArray x, INDArray w, INDArray b, INDArray delta,
                                       INDArray gradInput) {
        INDArray gW = Nd4j.create(w.dataType(), w.shape());
        DynamicCustomOp.DynamicCustomOpsBuilder op = DynamicCustomOp.builder(name).addIntegerArguments(args);
        if (b == null) {
            op.addInputs(x, w, delta).addOutputs(gradInput, gW);
            exec(op.build(), dilation);
            return new INDArray[] {gW, null};
        }
        INDArray gB = Nd4j.create(b.dataType(), b.length());
        op.addInputs(x, w, b, delta).addOutputs(gradInput, gW, gB);
        exec(op.build(), dilation);
        return new INDArray[] {gW, gB};
    }

    /**
     * Runs a conv op. libnd4j 1.0.0-M2.1's oneDNN helper rejects dilated convolutions ("could not
     * create a descriptor for a dilated convolution"), so dilated ones run with platform helpers
     * switched off (libnd4j's own kernel). The switch is process-wide while the op runs.
     */
    static void exec(DynamicCustomOp op, int[] dilation) {
        if (dilation[0] == 1 && dilation[1] == 1) {
            Nd4j.exec(op);
            return;
        }
        synchronized (NativeConvolution.class) {
            boolean helpers = Nd4j.getEnvironment().helpersAllowed();
            Nd4j.getEnvironment().allowHelpers(false);
            try {
                Nd4j.exec(op);
            } finally {
                Nd4j.getEnvironment().allowHelpers(helpers);
            }
        }
    }
}
