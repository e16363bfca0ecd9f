#!/usr/bin/env python3
"""Build the bundled example model and data for edgefit.

Trains a small convnet on Fashion-MNIST and writes:
  examples/fashion-mnist.onnx      - the exported classifier (opset 13)
  examples/fashion-mnist-1k.npz    - first 1000 t10k test images (preprocessed) + labels

The data reader, training loop, export and ONNX Runtime check are in scripts/fmnist_common.py.

Run from the repository root with Debian's python (needs torch, numpy, onnx):
  /usr/bin/python3 scripts/make-example.py

The script is deterministic (fixed seeds, deterministic algorithms, fixed thread
count) and needs no network access: the Fashion-MNIST IDX files are read from
FASHION_MNIST_DIR (default /usr/share/datasets/fashion-mnist).
"""

import os
import sys
import time

import numpy as np
import onnx
import torch.nn as nn
import torch.nn.functional as F

import fmnist_common as common

SEED = 0
EPOCHS = int(os.environ.get("EPOCHS", "6"))
LR = 3e-3
WEIGHT_DECAY = 1e-4
OPSET = 13
NUM_SLICE = 1000

OUT_DIR = os.path.join(common.REPO_ROOT, "examples")
ONNX_PATH = os.path.join(OUT_DIR, "fashion-mnist.onnx")
NPZ_PATH = os.path.join(OUT_DIR, "fashion-mnist-1k.npz")


# -------------------------------------------------------------------------- model

class ConvBNReLU(nn.Sequential):
    def __init__(self, cin, cout, k=3, stride=1, groups=1, relu=True):
        layers = [
            nn.Conv2d(cin, cout, k, stride=stride, padding=k // 2, groups=groups, bias=False),
            nn.BatchNorm2d(cout),
        ]
        if relu:
            layers.append(nn.ReLU(inplace=True))
        super().__init__(*layers)


class DSResidual(nn.Module):
    """Depthwise 3x3 (groups = channels) -> pointwise 1x1, with a residual Add."""

    def __init__(self, ch):
        super().__init__()
        self.dw = ConvBNReLU(ch, ch, k=3, groups=ch)
        self.pw = ConvBNReLU(ch, ch, k=1, relu=False)

    def forward(self, x):
        return F.relu(x + self.pw(self.dw(x)))


class FashionNet(common.FeatureClassifier):
    def __init__(self, num_classes=10):
        super().__init__(nn.Sequential(
            ConvBNReLU(1, 32),                    # [32,28,28]
            ConvBNReLU(32, 32),                   # [32,28,28]
            nn.MaxPool2d(2),                      # [32,14,14]
            DSResidual(32),                       # [32,14,14]  depthwise + pointwise + Add
            ConvBNReLU(32, 64, stride=2),         # [64,7,7]    strided conv
            ConvBNReLU(64, 64),                   # [64,7,7]
            ConvBNReLU(64, 64, k=3, groups=64),   # [64,7,7]    depthwise
            ConvBNReLU(64, 128, k=1),             # [128,7,7]   pointwise
            nn.AdaptiveAvgPool2d(1),              # [128,1,1]   global average pool
            nn.Flatten(),                         # [128]
        ), 0.2, nn.Linear(128, num_classes))     # Gemm


# ------------------------------------------------------------------------- report

def describe_value(v):
    dims = [d.dim_param if d.dim_param else d.dim_value for d in v.type.tensor_type.shape.dim]
    return f"{v.name} {onnx.TensorProto.DataType.Name(v.type.tensor_type.elem_type)} {dims}"


def main():
    t_start = time.time()
    # two intra-op threads; the inter-op pool keeps its default (as this script always had)
    common.set_determinism(SEED, 2, interop_threads=None)
    os.makedirs(OUT_DIR, exist_ok=True)

    d = common.load_data()
    print(f"train {tuple(d.x_train.shape)}, test {tuple(d.x_test.shape)}")

    model = FashionNet()
    n_params = sum(p.numel() for p in model.parameters())
    print(f"params: {n_params}")

    # Adam, every parameter decayed, one-cycle schedule, random horizontal flips
    common.train("fashion-mnist", model, d.x_train, d.y_train, EPOCHS, LR,
                 weight_decay=WEIGHT_DECAY, decay_bias=True, seed=SEED, flip=True)

    acc_10k = common.count_correct(model, d.x_test, d.y_test) / len(d.x_test)
    acc_1k = common.count_correct(model, d.x_test[:NUM_SLICE], d.y_test[:NUM_SLICE]) / NUM_SLICE

    m = common.export_classifier(model, ONNX_PATH, OPSET)
    onnx.checker.check_model(m)
    np.savez(NPZ_PATH,
             input=np.ascontiguousarray(d.x_test_np[:NUM_SLICE], dtype=np.float32),
             labels=np.ascontiguousarray(d.y_test_np[:NUM_SLICE], dtype=np.int64))

    op_types = sorted({n.op_type for n in m.graph.node})
    init_names = {i.name for i in m.graph.initializer}
    print(f"test accuracy (10k, torch): {acc_10k * 100:.2f}%")
    print(f"test accuracy (first 1k slice, torch): {acc_1k * 100:.2f}%")
    print(f"param count: {n_params}")
    print(f"{os.path.relpath(ONNX_PATH, common.REPO_ROOT)}: {os.path.getsize(ONNX_PATH)} bytes")
    print(f"{os.path.relpath(NPZ_PATH, common.REPO_ROOT)}: {os.path.getsize(NPZ_PATH)} bytes")
    print(f"onnx ops: {', '.join(op_types)} ({len(m.graph.node)} nodes)")
    for v in m.graph.input:
        if v.name not in init_names:
            print(f"onnx input:  {describe_value(v)}")
    for v in m.graph.output:
        print(f"onnx output: {describe_value(v)}")
    print(f"total time: {time.time() - t_start:.1f}s")


if __name__ == "__main__":
    sys.exit(main())
