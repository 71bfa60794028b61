#!/usr/bin/env python3
"""Writes the two tiny Keras 2 HDF5 models that KerasImportTest imports (no TensorFlow or Keras needed).

    /usr/bin/python3 training/src/test/resources/keras/make_fixtures.py    (Debian: apt-get install python3-h5py)

Each file has the layout `model.save('x.h5')` of Keras 2.2.4 writes: root attributes keras_version,
backend, model_config (JSON) and training_config (JSON: the loss gives DL4J an output layer), and a
model_weights group with attribute layer_names, one group per layer with attribute weight_names, and
one dataset per weight at model_weights/<layer>/<layer>/<weight>:0, kernels in Keras order
(Conv2D [kh, kw, in, out], Dense [in, out]).

Every weight is a closed form that KerasImportTest recomputes: element i (row-major) of the t-th
weight tensor of the file is ((7 i + 3 t) mod 11 - 5) / 8, exact in float32.

- sequential-cnn.h5 (Sequential): input 5x5x2 (channels_last) -> Conv2D 'conv' 2 filters 3x3 valid
  relu -> Flatten 'flatten' -> Dense 'dense' 3 softmax.
- functional-add.h5 (Model, functional API): input 4x4x2 -> Conv2D 'c1' 2 filters 3x3 same relu;
  Add 'add' [c1, input] -> GlobalAveragePooling2D 'gap' -> Dense 'out' 3 softmax.
- weights-only.h5: what model.save_weights('x.h5') writes for the Dense layer of a model (layer_names
  and the weight groups at the root, no model_config): not a model, for the loader's error message.
"""
import json
import os

import h5py
import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
KERAS_VERSION = "2.2.4"
BACKEND = "tensorflow"
TRAINING = {"optimizer_config": {"class_name": "SGD", "config": {"lr": 0.01, "momentum": 0.0, "decay": 0.0, "nesterov": False}},
            "loss": "categorical_crossentropy", "metrics": ["accuracy"], "sample_weight_mode": None, "loss_weights": None}
INIT = {"kernel_initializer": {"class_name": "VarianceScaling", "config": {"scale": 1.0, "mode": "fan_avg",
                                                                           "distribution": "uniform", "seed": None}},
        "bias_initializer": {"class_name": "Zeros", "config": {}},
        "kernel_regularizer": None, "bias_regularizer": None, "activity_regularizer": None,
        "kernel_constraint": None, "bias_constraint": None}


def weight(t, shape):
    """The t-th weight tensor: element i (row-major) is ((7 i + 3 t) mod 11 - 5) / 8."""
    n = int(np.prod(shape))
    return np.array([((7 * i + 3 * t) % 11 - 5) / 8.0 for i in range(n)], dtype=np.float32).reshape(shape)


def conv(name, filters, padding, activation, extra=None):
    c = {"name": name, "trainable": True, "dtype": "float32", "filters": filters, "kernel_size": [3, 3], "strides": [1, 1],
         "padding": padding, "data_format": "channels_last", "dilation_rate": [1, 1], "activation": activation, "use_bias": True}
    c.update(INIT)
    c.update(extra or {})
    return c


def dense(name, units, activation):
    c = {"name": name, "trainable": True, "dtype": "float32", "units": units, "activation": activation, "use_bias": True}
    c.update(INIT)
    return c


def write(path, model_config, layers):
    """layers: [(name, [(weight name, array)])] in model order, weightless layers with []."""
    with h5py.File(path, "w") as f:
        f.attrs["keras_version"] = np.bytes_(KERAS_VERSION)
        f.attrs["backend"] = np.bytes_(BACKEND)
        f.attrs["model_config"] = np.bytes_(json.dumps(model_config))
        f.attrs["training_config"] = np.bytes_(json.dumps(TRAINING))
        g = f.create_group("model_weights")
        g.attrs["layer_names"] = np.array([n.encode() for n, _ in layers], dtype="S")
        g.attrs["backend"] = np.bytes_(BACKEND)
        g.attrs["keras_version"] = np.bytes_(KERAS_VERSION)
        for name, weights in layers:
            lg = g.create_group(name)
            lg.attrs["weight_names"] = np.array([(name + "/" + w + ":0").encode() for w, _ in weights], dtype="S")
            for w, value in weights:
                lg.create_dataset(name + "/" + w + ":0", data=value, track_times=False)


def sequential():
    cfg = {"class_name": "Sequential", "keras_version": KERAS_VERSION, "backend": BACKEND, "config": {"name": "sequential_1", "layers": [
        {"class_name": "Conv2D", "config": conv("conv", 2, "valid", "relu", {"batch_input_shape": [None, 5, 5, 2]})},
        {"class_name": "Flatten", "config": {"name": "flatten", "trainable": True, "data_format": "channels_last"}},
        {"class_name": "Dense", "config": dense("dense", 3, "softmax")}]}}
    write(os.path.join(HERE, "sequential-cnn.h5"), cfg, [
        ("conv", [("kernel", weight(0, (3, 3, 2, 2))), ("bias", weight(1, (2,)))]),
        ("flatten", []),
        ("dense", [("kernel", weight(2, (18, 3))), ("bias", weight(3, (3,)))])])


def functional():
    def node(*names):
        return [[[n, 0, 0, {}] for n in names]]
    cfg = {"class_name": "Model", "keras_version": KERAS_VERSION, "backend": BACKEND, "config": {"name": "model_1", "layers": [
        {"name": "input_1", "class_name": "InputLayer",
         "config": {"batch_input_shape": [None, 4, 4, 2], "dtype": "float32", "sparse": False, "name": "input_1"}, "inbound_nodes": []},
        {"name": "c1", "class_name": "Conv2D", "config": conv("c1", 2, "same", "relu"), "inbound_nodes": node("input_1")},
        {"name": "add", "class_name": "Add", "config": {"name": "add", "trainable": True}, "inbound_nodes": node("c1", "input_1")},
        {"name": "gap", "class_name": "GlobalAveragePooling2D",
         "config": {"name": "gap", "trainable": True, "data_format": "channels_last"}, "inbound_nodes": node("add")},
        {"name": "out", "class_name": "Dense", "config": dense("out", 3, "softmax"), "inbound_nodes": node("gap")}],
        "input_layers": [["input_1", 0, 0]], "output_layers": [["out", 0, 0]]}}
    write(os.path.join(HERE, "functional-add.h5"), cfg, [
        ("input_1", []),
        ("c1", [("kernel", weight(0, (3, 3, 2, 2))), ("bias", weight(1, (2,)))]),
        ("add", []),
        ("gap", []),
        ("out", [("kernel", weight(2, (2, 3))), ("bias", weight(3, (3,)))])])


def weights_only():
    with h5py.File(os.path.join(HERE, "weights-only.h5"), "w") as f:
        f.attrs["layer_names"] = np.array([b"dense"], dtype="S")
        f.attrs["backend"] = np.bytes_(BACKEND)
        f.attrs["keras_version"] = np.bytes_(KERAS_VERSION)
        g = f.create_group("dense")
        g.attrs["weight_names"] = np.array([b"dense/kernel:0", b"dense/bias:0"], dtype="S")
        g.create_dataset("dense/kernel:0", data=weight(0, (4, 3)), track_times=False)
        g.create_dataset("dense/bias:0", data=weight(1, (3,)), track_times=False)


if __name__ == "__main__":
    sequential()
    functional()
    weights_only()
