#!/usr/bin/env python3
"""Build the bundled example model and data for edgefit.

Trains a small convnet on Fashion-MNIST and writes:
  examples/fashion-mnist.onnx      - the exported classifier (opset 13)
  examples/fashion-mnist-1k.npz    - first 1000 t10k test images (preprocessed) + labels

Run from the repository root with Debian's python (needs torch, numpy, onnx):
  /usr/bin/python3 scripts/make-example.py

The script is deterministic (fixed seeds, deterministic algorithms, fixed thread
count) and needs no network access: the Fashion-MNIST IDX files are read from
FASHION_MNIST_DIR (default /usr/share/datasets/fashion-mnist).
"""

import gzip
import os
import random
import sys
import time

import numpy as np
import onnx
import torch
import torch.nn as nn
import torch.nn.functional as F

SEED = 0
EPOCHS = int(os.environ.get("EPOCHS", "6"))
BATCH_SIZE = 128
LR = 3e-3
WEIGHT_DECAY = 1e-4
MEAN = 0.2860
STD = 0.3530
OPSET = 13
NUM_SLICE = 1000

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DATA_DIR = os.environ.get("FASHION_MNIST_DIR", "/usr/share/datasets/fashion-mnist")
OUT_DIR = os.path.join(REPO_ROOT, "examples")
ONNX_PATH = os.path.join(OUT_DIR, "fashion-mnist.onnx")
NPZ_PATH = os.path.join(OUT_DIR, "fashion-mnist-1k.npz")


# --------------------------------------------------------------------------- data

def read_idx(path):
    """Read a gzipped IDX file (ubyte data) into a numpy array."""
    with gzip.open(path, "rb") as f:
        data = f.read()
    zero, dtype_code, ndim = data[0] | data[1], data[2], data[3]
    if zero != 0 or dtype_code != 0x08:
        raise ValueError(f"{path}: not an unsigned-byte IDX file")
    dims = [int.from_bytes(data[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim)]
    offset = 4 + 4 * ndim
    arr = np.frombuffer(data, dtype=np.uint8, offset=offset)
    if arr.size != int(np.prod(dims)):
        raise ValueError(f"{path}: size mismatch")
    return arr.reshape(dims)


def load_split(split):
    images = read_idx(os.path.join(DATA_DIR, f"{split}-images-idx3-ubyte.gz"))
    labels = read_idx(os.path.join(DATA_DIR, f"{split}-labels-idx1-ubyte.gz"))
    return images, labels.astype(np.int64)


def preprocess(images_u8):
    """uint8 [N,28,28] -> float32 [N,1,28,28], scaled to [0,1] then normalized."""
    x = images_u8.astype(np.float32) / np.float32(255.0)
    x = (x - np.float32(MEAN)) / np.float32(STD)
    return x[:, None, :, :].astype(np.float32)


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


class FashionNet(nn.Module):
    def __init__(self, num_classes=10):
        super().__init__()
        self.features = nn.Sequential(
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
        )
        self.dropout = nn.Dropout(0.2)
        self.classifier = nn.Linear(128, num_classes)  # Gemm

    def forward(self, x):
        return self.classifier(self.dropout(self.features(x)))


# ----------------------------------------------------------------------- training

def set_determinism():
    random.seed(SEED)
    np.random.seed(SEED)
    torch.manual_seed(SEED)
    torch.set_num_threads(2)
    torch.use_deterministic_algorithms(True)
    torch.backends.cudnn.benchmark = False


@torch.no_grad()
def evaluate(model, x, y, batch=1000):
    model.eval()
    correct = 0
    for i in range(0, len(x), batch):
        logits = model(x[i:i + batch])
        correct += (logits.argmax(1) == y[i:i + batch]).sum().item()
    return correct / len(x)


def train(model, x_train, y_train):
    gen = torch.Generator().manual_seed(SEED)
    opt = torch.optim.Adam(model.parameters(), lr=LR, weight_decay=WEIGHT_DECAY)
    steps_per_epoch = (len(x_train) + BATCH_SIZE - 1) // BATCH_SIZE
    sched = torch.optim.lr_scheduler.OneCycleLR(
        opt, max_lr=LR, epochs=EPOCHS, steps_per_epoch=steps_per_epoch)
    for epoch in range(EPOCHS):
        model.train()
        t0 = time.time()
        perm = torch.randperm(len(x_train), generator=gen)
        total_loss = 0.0
        for s in range(steps_per_epoch):
            idx = perm[s * BATCH_SIZE:(s + 1) * BATCH_SIZE]
            xb = x_train[idx]
            yb = y_train[idx]
            # light augmentation: random horizontal flip (deterministic via gen)
            flip = torch.rand(len(idx), generator=gen) < 0.5
            xb = torch.where(flip[:, None, None, None], xb.flip(3), xb)
            loss = F.cross_entropy(model(xb), yb)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            total_loss += loss.item() * len(idx)
        print(f"epoch {epoch + 1}/{EPOCHS}: loss {total_loss / len(x_train):.4f} "
              f"({time.time() - t0:.1f}s)", flush=True)


# ------------------------------------------------------------------------- export

def export_onnx(model, path):
    model.eval()
    dummy = torch.zeros(1, 1, 28, 28, dtype=torch.float32)
    torch.onnx.export(
        model, dummy, path,
        input_names=["input"], output_names=["logits"],
        dynamic_axes={"input": {0: "batch"}, "logits": {0: "batch"}},
        opset_version=OPSET, do_constant_folding=True,
    )
    m = onnx.load(path)
    onnx.checker.check_model(m)
    return m


def describe_value(v):
    dims = [d.dim_param if d.dim_param else d.dim_value for d in v.type.tensor_type.shape.dim]
    return f"{v.name} {onnx.TensorProto.DataType.Name(v.type.tensor_type.elem_type)} {dims}"


def main():
    t_start = time.time()
    set_determinism()
    os.makedirs(OUT_DIR, exist_ok=True)

    train_imgs, train_labels = load_split("train")
    test_imgs, test_labels = load_split("t10k")
    x_train = torch.from_numpy(preprocess(train_imgs))
    y_train = torch.from_numpy(train_labels)
    x_test_np = preprocess(test_imgs)
    x_test = torch.from_numpy(x_test_np)
    y_test = torch.from_numpy(test_labels)
    print(f"train {tuple(x_train.shape)}, test {tuple(x_test.shape)}")

    model = FashionNet()
    n_params = sum(p.numel() for p in model.parameters())
    print(f"params: {n_params}")

    train(model, x_train, y_train)

    acc_10k = evaluate(model, x_test, y_test)
    acc_1k = evaluate(model, x_test[:NUM_SLICE], y_test[:NUM_SLICE])

    m = export_onnx(model, ONNX_PATH)
    np.savez(NPZ_PATH,
             input=np.ascontiguousarray(x_test_np[:NUM_SLICE], dtype=np.float32),
             labels=np.ascontiguousarray(test_labels[:NUM_SLICE], dtype=np.int64))

    op_types = sorted({n.op_type for n in m.graph.node})
    init_names = {i.name for i in m.graph.initializer}
    print(f"test accuracy (10k, torch): {acc_10k * 100:.2f}%")
    print(f"test accuracy (first 1k slice, torch): {acc_1k * 100:.2f}%")
    print(f"param count: {n_params}")
    print(f"{os.path.relpath(ONNX_PATH, REPO_ROOT)}: {os.path.getsize(ONNX_PATH)} bytes")
    print(f"{os.path.relpath(NPZ_PATH, REPO_ROOT)}: {os.path.getsize(NPZ_PATH)} bytes")
    print(f"onnx ops: {', '.join(op_types)} ({len(m.graph.node)} nodes)")
    for v in m.graph.input:
        if v.name not in init_names:
            print(f"onnx input:  {describe_value(v)}")
    for v in m.graph.output:
        print(f"onnx output: {describe_value(v)}")
    print(f"total time: {time.time() - t_start:.1f}s")


if __name__ == "__main__":
    sys.exit(main())
