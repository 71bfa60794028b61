package io.qat4j.ste;

import java.lang.ref.Reference;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;

import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/**
 * Bulk copies between an INDArray and the flat C-order {@code double[]} that the kernels
 * ({@link UniformKernels}, lsq's {@code LsqKernels} and {@code PactKernels}) work on. They go through
 * the buffer's native memory: ND4J's {@code asFloat}/{@code setData} go element by element and
 * dominated the training profile.
 */
public final class FlatArrays {

    private FlatArrays() {
    }

    /** The elements of {@code x} in C order, as float64 (exact for FLOAT and DOUBLE). */
    public static double[] read(INDArray x) {
        INDArray c = x.ordering() == 'c' && !x.isView() && x.data().length() == x.length() ? x : x.dup('c');
        ByteBuffer nio = c.data().asNio().order(ByteOrder.nativeOrder());
        double[] d = new double[Math.toIntExact(c.length())];
        if (c.dataType() == DataType.FLOAT) {
            float[] f = new float[d.length];
            nio.asFloatBuffer().get(f);
            for (int i = 0; i < f.length; i++) {
                d[i] = f[i];
            }
        } else if (c.dataType() == DataType.DOUBLE) {
            nio.asDoubleBuffer().get(d);
        } else {
            return c.castTo(DataType.DOUBLE).dup('c').data().asDouble();
        }
        // the NIO view does not keep the array alive: without this fence the JIT may let a fresh dup('c')
        // be collected, and its native memory freed, while the copy above still reads it (a SIGSEGV)
        Reference.reachabilityFence(c);
        return d;
    }

    /**
     * A new C-order array of {@code shape} and {@code type}, in the current ND4J workspace if any,
     * holding {@code values} (each rounded once to the type, e.g. to nearest float for FLOAT).
     */
    public static INDArray write(double[] values, long[] shape, DataType type) {
        if (type != DataType.FLOAT && type != DataType.DOUBLE) {
            return Nd4j.createFromArray(values).reshape('c', shape).castTo(type);
        }
        INDArray out = Nd4j.createUninitialized(type, shape, 'c');
        ByteBuffer nio = out.data().asNio().order(ByteOrder.nativeOrder());
        if (type == DataType.FLOAT) {
            float[] f = new float[values.length];
            for (int i = 0; i < f.length; i++) {
                f[i] = (float) values[i];
            }
            nio.asFloatBuffer().put(f);
        } else {
            nio.asDoubleBuffer().put(values);
        }
        return out;
    }
}
