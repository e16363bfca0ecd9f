#!/usr/bin/env python3
"""Build the ONNX test fixtures for edgefit.

Writes into test/fixtures/models/:
  cnn-bn-train.onnx   convnet with BatchNormalization nodes kept, plus Identity and Dropout
  cnn-residual.onnx   trained residual CNN (BN folded), for int8 quantization benchmarks
  depthwise-net.onnx  trained MobileNet-style depthwise-separable net (BN folded, ReLU6)
  transformer.onnx    small vision transformer (opset 17, explicit attention MatMuls)
  mlp-gemm.onnx       trained 3-layer MLP (Flatten + Gemm + Relu)
  tf-style.onnx       hand-built graph in the style of TF/Paddle exports (Constant weights,
                      Shape arithmetic, Dropout, Identity, shared weight, Gemm, Softmax)
  if-branches.onnx    hand-built If with slimmable subgraphs
  fmnist-calib.npz    512 preprocessed Fashion-MNIST train images + labels (calibration)

Run from the repository root with Debian's python (needs torch, numpy, onnx):
  /usr/bin/python3 scripts/make-fixtures.py

Optional environment variables:
  FASHION_MNIST_DIR  where the gzipped IDX files are (default /usr/share/datasets/fashion-mnist)
  ONLY               comma-separated fixture names to build (e.g. ONLY=mlp-gemm,tf-style)
  SKIP_ORT=1         skip the ONNX Runtime (Node) check
  TORCH_THREADS      torch intra-op threads (default 1; the committed files used 1)
  MAX_STEPS          cap the training steps per epoch (smoke tests only)

Every model is checked with onnx.checker, then loaded and run with ONNX Runtime through
Node (node_modules/onnxruntime-node): outputs are compared with the PyTorch / numpy
reference on random inputs with two batch sizes, and the trained classifiers are also
scored on the full 10k t10k test set in ONNX Runtime.

The script is deterministic (fixed seeds, deterministic algorithms, fixed thread count) and uses
no network access.
"""

import gzip
import json
import os
import random
import subprocess
import sys
import tempfile
import time

import numpy as np
import onnx
import torch
import torch.nn as nn
import torch.nn.functional as F
from onnx import TensorProto, helper, numpy_helper

SEED = 0
MEAN = 0.2860
STD = 0.3530
BATCH_SIZE = 128
NUM_CALIB = 512

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DATA_DIR = os.environ.get("FASHION_MNIST_DIR", "/usr/share/datasets/fashion-mnist")
OUT_DIR = os.path.join(REPO_ROOT, "test", "fixtures", "models")
ORT_MODULE = os.path.join(REPO_ROOT, "node_modules", "onnxruntime-node")
# One intra-op thread by default: with 2 OpenMP threads on a 2-core machine that is also
# busy with other work, every parallel region waits on a descheduled thread and training
# gets 3-10x slower. Results are reproducible for a fixed thread count.
THREADS = int(os.environ.get("TORCH_THREADS", "1"))
MAX_STEPS = int(os.environ["MAX_STEPS"]) if os.environ.get("MAX_STEPS") else None  # smoke tests
ONLY = {s.strip() for s in os.environ.get("ONLY", "").split(",") if s.strip()}


def wanted(name):
    return not ONLY or name in ONLY


def out_path(name):
    return os.path.join(OUT_DIR, name)


# --------------------------------------------------------------------------- data

def read_idx(path):
    """Read a gzipped IDX file (ubyte data) into a numpy array."""
    with gzip.open(path, "rb") as f:
        data = f.read()
    zero, dtype_code, ndim = data[0] | data[1], data[2], data[3]
    if zero != 0 or dtype_code != 0x08:
        raise ValueError(f"{path}: not an unsigned-byte IDX file")
    dims = [int.from_bytes(data[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim)]
    arr = np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim)
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


# ------------------------------------------------------------------------ modules

class FastLinear(nn.Linear):
    """nn.Linear that, while training, computes through a 1x1 convolution.

    Debian's torch build has no optimized BLAS (BLAS_INFO=generic), so CPU matmuls are
    ~10x slower than oneDNN convolutions. The math is identical; in eval mode (and thus
    in the ONNX export) this is a plain F.linear, exported as Gemm or MatMul+Add."""

    def forward(self, x):
        if not self.training:
            return F.linear(x, self.weight, self.bias)
        lead = x.shape[:-1]
        y = F.conv2d(x.reshape(-1, self.in_features, 1, 1),
                     self.weight[:, :, None, None], self.bias)
        return y.reshape(*lead, self.out_features)


class ConvBN(nn.Sequential):
    """Conv (no bias) -> BatchNorm -> optional activation ('relu' | 'relu6' | None)."""

    def __init__(self, cin, cout, k=3, stride=1, groups=1, act="relu"):
        layers = [
            nn.Conv2d(cin, cout, k, stride=stride, padding=k // 2, groups=groups, bias=False),
            nn.BatchNorm2d(cout),
        ]
        if act == "relu":
            layers.append(nn.ReLU(inplace=True))
        elif act == "relu6":
            layers.append(nn.ReLU6(inplace=True))
        super().__init__(*layers)


class ResBlock(nn.Module):
    """3x3 Conv-BN-ReLU -> 3x3 Conv-BN, skip Add, ReLU."""

    def __init__(self, ch):
        super().__init__()
        self.c1 = ConvBN(ch, ch)
        self.c2 = ConvBN(ch, ch, act=None)

    def forward(self, x):
        return F.relu(x + self.c2(self.c1(x)))


class BNTrainNet(nn.Module):
    """Small convnet whose BatchNormalization nodes are kept in the exported graph."""

    def __init__(self, num_classes=10):
        super().__init__()
        self.features = nn.Sequential(
            ConvBN(1, 16),               # [16,28,28]
            nn.MaxPool2d(2),             # [16,14,14]
            ResBlock(16),                # residual Add #1
            ConvBN(16, 32, stride=2),    # [32,7,7]
            ResBlock(32),                # residual Add #2
            nn.AdaptiveAvgPool2d(1),
            nn.Flatten(),
        )
        self.dropout = nn.Dropout(0.2)
        self.classifier = FastLinear(32, num_classes)

    def forward(self, x):
        return self.classifier(self.dropout(self.features(x)))


class ResidualNet(nn.Module):
    """Residual CNN: 32 channels at 28x28/14x14, 64 channels at 7x7 (conv compute dominates)."""

    def __init__(self, num_classes=10):
        super().__init__()
        self.features = nn.Sequential(
            ConvBN(1, 32),               # [32,28,28]
            nn.MaxPool2d(2),             # [32,14,14]
            ResBlock(32),                # [32,14,14]  residual Add #1
            ConvBN(32, 64, stride=2),    # [64,7,7]    strided conv
            ResBlock(64),                # [64,7,7]    residual Add #2
            ResBlock(64),                # [64,7,7]    residual Add #3
            nn.AdaptiveAvgPool2d(1),     # GlobalAveragePool
            nn.Flatten(),
        )
        self.dropout = nn.Dropout(0.1)
        self.classifier = FastLinear(64, num_classes)

    def forward(self, x):
        return self.classifier(self.dropout(self.features(x)))


class DSBlock(nn.Module):
    """MobileNet v1 block: depthwise 3x3 + BN + ReLU6, pointwise 1x1 + BN + ReLU."""

    def __init__(self, cin, cout, stride=1):
        super().__init__()
        self.dw = ConvBN(cin, cin, k=3, stride=stride, groups=cin, act="relu6")
        self.pw = ConvBN(cin, cout, k=1, act="relu")

    def forward(self, x):
        return self.pw(self.dw(x))


class DepthwiseNet(nn.Module):
    def __init__(self, num_classes=10):
        super().__init__()
        self.features = nn.Sequential(
            ConvBN(1, 32, stride=2, act="relu6"),   # [32,14,14]  strided stem
            DSBlock(32, 64),                        # [64,14,14]
            DSBlock(64, 64),                        # [64,14,14]
            DSBlock(64, 128, stride=2),             # [128,7,7]
            DSBlock(128, 128),                      # [128,7,7]
            DSBlock(128, 128),                      # [128,7,7]
            nn.AdaptiveAvgPool2d(1),
            nn.Flatten(),
        )
        self.classifier = FastLinear(128, num_classes)

    def forward(self, x):
        return self.classifier(self.features(x))

    @torch.no_grad()
    def kill_channels(self, per_layer=2, seed=SEED + 3):
        """Make `per_layer` channels dead in every BN that feeds a depthwise conv.

        BN bias -10 puts the channel far below zero, so the ReLU/ReLU6 after it outputs 0
        and gets no gradient: it stays dead. The next depthwise conv then sees an all-zero
        input channel, its BN running variance decays to ~0, and folding multiplies that
        channel's weights by gamma/sqrt(eps) ~ 300x. This is the outlier pattern of trained
        MobileNets that wrecks per-tensor int8 weights (and that cross-layer equalization
        fixes); a 2-epoch run does not produce it on its own."""
        g = torch.Generator().manual_seed(seed)
        feeders = [self.features[0][1]] + [self.features[i].pw[1] for i in range(1, 5)]
        for bn in feeders:
            idx = torch.randperm(bn.num_features, generator=g)[:per_layer]
            bn.bias[idx] = -10.0


class Attention(nn.Module):
    """Multi-head self-attention written out with explicit MatMuls."""

    def __init__(self, dim, heads, tokens=16):
        super().__init__()
        self.tokens = tokens
        self.heads = heads
        self.head_dim = dim // heads
        self.scale = self.head_dim ** -0.5
        self.q = FastLinear(dim, dim)
        self.k = FastLinear(dim, dim)
        self.v = FastLinear(dim, dim)
        self.proj = FastLinear(dim, dim)

    def forward(self, x):                                    # x: [B, T, D]
        t, d = self.tokens, self.heads * self.head_dim   # constants: no Shape ops in the export
        q = self.q(x).reshape(-1, t, self.heads, self.head_dim).transpose(1, 2)   # [B,H,T,hd]
        k = self.k(x).reshape(-1, t, self.heads, self.head_dim).transpose(1, 2)
        v = self.v(x).reshape(-1, t, self.heads, self.head_dim).transpose(1, 2)
        scores = torch.matmul(q, k.transpose(-2, -1)) * self.scale                 # [B,H,T,T]
        attn = torch.softmax(scores, dim=-1)
        out = torch.matmul(attn, v)                                                # [B,H,T,hd]
        out = out.transpose(1, 2).reshape(-1, t, d)
        return self.proj(out)


class EncoderBlock(nn.Module):
    def __init__(self, dim, heads, mlp_dim):
        super().__init__()
        self.ln1 = nn.LayerNorm(dim)
        self.attn = Attention(dim, heads)
        self.ln2 = nn.LayerNorm(dim)
        self.fc1 = FastLinear(dim, mlp_dim)
        self.fc2 = FastLinear(mlp_dim, dim)

    def forward(self, x):
        x = x + self.attn(self.ln1(x))
        x = x + self.fc2(F.gelu(self.fc1(self.ln2(x))))
        return x


class TinyViT(nn.Module):
    """7x7 patches -> 16 tokens of dim 128, 2 encoder blocks, mean pooling, Linear head."""

    def __init__(self, dim=128, heads=4, mlp_dim=256, depth=2, num_classes=10):
        super().__init__()
        self.patch = FastLinear(49, dim)
        self.pos = nn.Parameter(torch.randn(1, 16, dim) * 0.02)
        self.blocks = nn.Sequential(*[EncoderBlock(dim, heads, mlp_dim) for _ in range(depth)])
        self.ln = nn.LayerNorm(dim)
        self.head = FastLinear(dim, num_classes)

    def forward(self, x):                                    # x: [B,1,28,28]
        x = x.reshape(-1, 4, 7, 4, 7).permute(0, 1, 3, 2, 4).reshape(-1, 16, 49)
        x = self.patch(x) + self.pos
        x = self.blocks(x)
        x = self.ln(x).mean(dim=1)
        return self.head(x)


class MLP(nn.Module):
    def __init__(self, h1=256, h2=128, num_classes=10):
        super().__init__()
        self.net = nn.Sequential(
            nn.Flatten(),
            FastLinear(784, h1), nn.ReLU(inplace=True),
            FastLinear(h1, h2), nn.ReLU(inplace=True),
            FastLinear(h2, num_classes),
        )

    def forward(self, x):
        return self.net(x)


# ----------------------------------------------------------------------- training

def set_determinism():
    random.seed(SEED)
    np.random.seed(SEED)
    torch.manual_seed(SEED)
    torch.set_num_threads(THREADS)
    torch.set_num_interop_threads(1)
    torch.use_deterministic_algorithms(True)
    torch.backends.cudnn.benchmark = False


def seed_all(seed):
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


@torch.no_grad()
def evaluate(model, x, y, batch=1000):
    model.eval()
    correct = 0
    for i in range(0, len(x), batch):
        correct += (model(x[i:i + batch]).argmax(1) == y[i:i + batch]).sum().item()
    return correct / len(x)


def param_groups(model, weight_decay, decay_norm, lr, norm_lr_mult):
    """Three groups: weights (decayed), biases (not decayed), norm-layer scales/shifts
    (decayed only if decay_norm, learning rate scaled by norm_lr_mult)."""
    decay, no_decay, norm = [], [], []
    for mod in model.modules():
        is_norm = isinstance(mod, (nn.BatchNorm2d, nn.LayerNorm))
        for pname, p in mod.named_parameters(recurse=False):
            if is_norm:
                norm.append(p)
            elif pname == "bias":
                no_decay.append(p)
            else:
                decay.append(p)
    return [{"params": decay, "weight_decay": weight_decay, "lr": lr},
            {"params": no_decay, "weight_decay": 0.0, "lr": lr},
            {"params": norm, "weight_decay": weight_decay if decay_norm else 0.0,
             "lr": lr * norm_lr_mult}]


def train(name, model, x_train, y_train, epochs, lr, weight_decay=1e-4, decay_norm=True,
          norm_lr_mult=1.0, flip=False, adamw=False, max_steps=None):
    gen = torch.Generator().manual_seed(SEED)
    groups = param_groups(model, weight_decay, decay_norm, lr, norm_lr_mult)
    opt = (torch.optim.AdamW if adamw else torch.optim.Adam)(groups, lr=lr)
    steps_per_epoch = (len(x_train) + BATCH_SIZE - 1) // BATCH_SIZE
    if max_steps is not None:
        steps_per_epoch = min(steps_per_epoch, max_steps)
    sched = torch.optim.lr_scheduler.OneCycleLR(
        opt, max_lr=[g["lr"] for g in groups], epochs=epochs, steps_per_epoch=steps_per_epoch)
    for epoch in range(epochs):
        model.train()
        t0 = time.time()
        perm = torch.randperm(len(x_train), generator=gen)
        total_loss, seen = 0.0, 0
        for s in range(steps_per_epoch):
            idx = perm[s * BATCH_SIZE:(s + 1) * BATCH_SIZE]
            xb, yb = x_train[idx], y_train[idx]
            if flip:
                f = torch.rand(len(idx), generator=gen) < 0.5
                xb = torch.where(f[:, None, None, None], xb.flip(3), xb)
            loss = F.cross_entropy(model(xb), yb)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            total_loss += loss.item() * len(idx)
            seen += len(idx)
        print(f"  [{name}] epoch {epoch + 1}/{epochs}: loss {total_loss / seen:.4f} "
              f"({time.time() - t0:.1f}s)", flush=True)


# ------------------------------------------------------------------------- export

def export_torch(model, path, opset, fold, preserve=False):
    model.eval()
    dummy = torch.zeros(1, 1, 28, 28, dtype=torch.float32)
    kwargs = {}
    if preserve:
        # TrainingMode.EVAL runs the exporter's eval peephole pass, which fuses every
        # Conv+BatchNorm pair even with do_constant_folding=False. PRESERVE on a model in
        # eval() mode exports the same eval semantics but leaves BatchNormalization alone.
        kwargs["training"] = torch.onnx.TrainingMode.PRESERVE
    else:
        kwargs["training"] = torch.onnx.TrainingMode.EVAL
    torch.onnx.export(
        model, dummy, path,
        input_names=["input"], output_names=["logits"],
        dynamic_axes={"input": {0: "batch"}, "logits": {0: "batch"}},
        opset_version=opset, do_constant_folding=fold, **kwargs,
    )
    return onnx.load(path)


def insert_after(graph, tensor, op_type, extra_inputs, node_name):
    """Insert `op_type(tensor, *extra_inputs)` right after `tensor`'s producer and
    reroute every consumer (and graph output) of `tensor` to the new node's output."""
    new_out = f"{tensor}_{op_type.lower()}"
    for n in graph.node:
        for i, name in enumerate(n.input):
            if name == tensor:
                n.input[i] = new_out
    for o in graph.output:
        if o.name == tensor:
            raise ValueError("refusing to reroute a graph output")
    new_node = helper.make_node(op_type, [tensor, *extra_inputs], [new_out], name=node_name)
    pos = next(i for i, n in enumerate(graph.node) if tensor in n.output)
    nodes = list(graph.node)
    nodes.insert(pos + 1, new_node)
    del graph.node[:]
    graph.node.extend(nodes)
    return new_out


def add_identity_and_dropout(model):
    """Put an Identity after the first residual Add and an inference-mode Dropout
    (opset 13: Dropout(x, ratio, training_mode=false), one output) after the MaxPool."""
    g = model.graph
    first_add = next(n for n in g.node if n.op_type == "Add")
    insert_after(g, first_add.output[0], "Identity", [], "inserted_identity")
    pool = next(n for n in g.node if n.op_type == "MaxPool")
    g.initializer.extend([
        numpy_helper.from_array(np.array(0.25, dtype=np.float32), "dropout_ratio"),
        numpy_helper.from_array(np.array(False), "dropout_training_mode"),
    ])
    insert_after(g, pool.output[0], "Dropout", ["dropout_ratio", "dropout_training_mode"],
                 "inserted_dropout")
    return model


def fake_quant_weights(model, per_channel):
    """Copy of an ONNX model with every Conv weight fake-quantized to symmetric int8
    (per tensor or per output channel) and stored back as float: a quick sensitivity probe."""
    m = onnx.ModelProto()
    m.CopyFrom(model)
    conv_w = {n.input[1] for n in m.graph.node if n.op_type == "Conv"}
    for i, t in enumerate(m.graph.initializer):
        if t.name not in conv_w:
            continue
        w = numpy_helper.to_array(t)
        if per_channel:
            scale = np.abs(w).reshape(w.shape[0], -1).max(1).reshape(-1, *[1] * (w.ndim - 1))
        else:
            scale = np.abs(w).max()
        scale = np.where(scale == 0, 1.0, scale / 127.0)
        q = (np.clip(np.round(w / scale), -127, 127) * scale).astype(np.float32)
        m.graph.initializer[i].CopyFrom(numpy_helper.from_array(q, t.name))
    return m


def fold_bn_stats(model):
    """For the report: per-channel spread of folded depthwise weights (max|w| per channel)."""
    out = []
    for mod in model.modules():
        if isinstance(mod, ConvBN) and mod[0].groups > 1:
            conv, bn = mod[0], mod[1]
            scale = bn.weight / torch.sqrt(bn.running_var + bn.eps)
            w = conv.weight * scale[:, None, None, None]
            r = w.abs().flatten(1).max(1).values
            out.append(float(r.max() / r.clamp_min(1e-12).min()))
    return out


# ------------------------------------------------------------------ hand-built graphs

def const_node(name, arr):
    return helper.make_node("Constant", [], [name], name=f"{name}_const",
                            value=numpy_helper.from_array(arr, name))


def build_tf_style():
    rng = np.random.RandomState(SEED + 6)
    w = (rng.randn(8, 8) * 0.4).astype(np.float32)        # shared by two MatMuls
    b = (rng.randn(8) * 0.1).astype(np.float32)
    scale = np.array([1.5, -0.5], dtype=np.float32)
    w2 = (rng.randn(8, 4) * 0.5).astype(np.float32)
    b2 = (rng.randn(4) * 0.1).astype(np.float32)

    nodes = [
        const_node("W", w),
        const_node("b", b),
        const_node("scale", scale),
        const_node("W_head", w2),
        const_node("b_head", b2),
        const_node("idx0", np.array(0, dtype=np.int64)),
        const_node("idx1", np.array(1, dtype=np.int64)),
        const_node("axes0", np.array([0], dtype=np.int64)),
        const_node("tail_4_2", np.array([4, 2], dtype=np.int64)),
        const_node("minus1", np.array([-1], dtype=np.int64)),
        const_node("drop_ratio", np.array(0.5, dtype=np.float32)),
        const_node("drop_training", np.array(False)),
        # dynamic shape chain: target [N,4,2] depends on the batch dim of x
        helper.make_node("Shape", ["x"], ["x_shape"], name="x_shape"),
        helper.make_node("Gather", ["x_shape", "idx0"], ["batch"], name="batch_gather", axis=0),
        helper.make_node("Unsqueeze", ["batch", "axes0"], ["batch_1d"], name="batch_unsqueeze"),
        helper.make_node("Concat", ["batch_1d", "tail_4_2"], ["dyn_shape"], name="dyn_concat",
                         axis=0),
        helper.make_node("Identity", ["x"], ["x_id"], name="x_identity"),
        helper.make_node("Reshape", ["x_id", "dyn_shape"], ["x3"], name="reshape_dyn"),
        helper.make_node("Mul", ["x3", "scale"], ["x3s"], name="scale_mul"),
        # static shape chain: target [-1, 8] comes from Shape(W) -> foldable
        helper.make_node("Shape", ["W"], ["w_shape"], name="w_shape"),
        helper.make_node("Gather", ["w_shape", "idx1"], ["w_cols"], name="w_cols_gather", axis=0),
        helper.make_node("Unsqueeze", ["w_cols", "axes0"], ["w_cols_1d"], name="w_cols_unsqueeze"),
        helper.make_node("Concat", ["minus1", "w_cols_1d"], ["static_shape"],
                         name="static_concat", axis=0),
        helper.make_node("Reshape", ["x3s", "static_shape"], ["h0"], name="reshape_static"),
        helper.make_node("MatMul", ["h0", "W"], ["h1"], name="matmul_1"),
        helper.make_node("Add", ["h1", "b"], ["h2"], name="bias_add"),
        helper.make_node("Relu", ["h2"], ["h3"], name="relu"),
        helper.make_node("MatMul", ["h3", "W"], ["h4"], name="matmul_2_shared_W"),
        helper.make_node("Dropout", ["h4", "drop_ratio", "drop_training"], ["h5"],
                         name="dropout"),
        helper.make_node("Gemm", ["h5", "W_head", "b_head"], ["logits"], name="gemm_head"),
        helper.make_node("Softmax", ["logits"], ["y"], name="softmax", axis=-1),
    ]
    graph = helper.make_graph(
        nodes, "tf_style",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 8])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 4])],
    )
    model = helper.make_model(graph, producer_name="edgefit-fixtures",
                              opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8

    def reference(x):
        n = x.shape[0]
        h = (x.reshape(n, 4, 2) * scale).reshape(-1, 8)
        h = np.maximum(h @ w + b, 0) @ w
        z = h @ w2 + b2
        z = np.exp(z - z.max(-1, keepdims=True))
        return (z / z.sum(-1, keepdims=True)).astype(np.float32)

    n_params = w.size + b.size + scale.size + w2.size + b2.size
    return model, reference, n_params


def build_if_branches():
    rng = np.random.RandomState(SEED + 7)
    wt = (rng.randn(4, 4) * 0.5).astype(np.float32)
    bt = (rng.randn(4) * 0.1).astype(np.float32)
    bn_scale = rng.uniform(0.5, 1.5, 4).astype(np.float32)
    bn_bias = (rng.randn(4) * 0.1).astype(np.float32)
    bn_mean = (rng.randn(4) * 0.2).astype(np.float32)
    bn_var = rng.uniform(0.5, 2.0, 4).astype(np.float32)
    we = (rng.randn(4, 4) * 0.5).astype(np.float32)
    be = (rng.randn(4) * 0.1).astype(np.float32)
    eps = 1e-5

    then_graph = helper.make_graph(
        [
            const_node("then_W", wt),
            helper.make_node("Identity", ["x"], ["then_x"], name="then_identity"),
            helper.make_node("MatMul", ["then_x", "then_W"], ["then_mm"], name="then_matmul"),
            helper.make_node("Add", ["then_mm", "then_b"], ["then_add"], name="then_add"),
            helper.make_node("BatchNormalization",
                             ["then_add", "then_bn_scale", "then_bn_bias", "then_bn_mean",
                              "then_bn_var"], ["then_bn"], name="then_bn", epsilon=eps),
            helper.make_node("Relu", ["then_bn"], ["then_out"], name="then_relu"),
        ],
        "then_branch", [],
        [helper.make_tensor_value_info("then_out", TensorProto.FLOAT, [1, 4])],
        initializer=[
            numpy_helper.from_array(bt, "then_b"),
            numpy_helper.from_array(bn_scale, "then_bn_scale"),
            numpy_helper.from_array(bn_bias, "then_bn_bias"),
            numpy_helper.from_array(bn_mean, "then_bn_mean"),
            numpy_helper.from_array(bn_var, "then_bn_var"),
        ],
    )
    else_graph = helper.make_graph(
        [
            const_node("else_W", we),
            helper.make_node("Identity", ["x"], ["else_x"], name="else_identity"),
            helper.make_node("MatMul", ["else_x", "else_W"], ["else_mm"], name="else_matmul"),
            helper.make_node("Add", ["else_mm", "else_b"], ["else_add"], name="else_add"),
            helper.make_node("Identity", ["else_add"], ["else_add_id"], name="else_identity_2"),
            helper.make_node("Tanh", ["else_add_id"], ["else_out"], name="else_tanh"),
        ],
        "else_branch", [],
        [helper.make_tensor_value_info("else_out", TensorProto.FLOAT, [1, 4])],
        initializer=[numpy_helper.from_array(be, "else_b")],
    )
    graph = helper.make_graph(
        [helper.make_node("If", ["cond"], ["y"], name="if_cond",
                          then_branch=then_graph, else_branch=else_graph)],
        "if_branches",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4]),
         helper.make_tensor_value_info("cond", TensorProto.BOOL, [])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4])],
    )
    model = helper.make_model(graph, producer_name="edgefit-fixtures",
                              opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8

    def reference(x, cond):
        if cond:
            h = x @ wt + bt
            h = (h - bn_mean) / np.sqrt(bn_var + eps) * bn_scale + bn_bias
            return np.maximum(h, 0).astype(np.float32)
        return np.tanh(x @ we + be).astype(np.float32)

    n_params = sum(a.size for a in (wt, bt, bn_scale, bn_bias, bn_mean, bn_var, we, be))
    return model, reference, n_params


# ------------------------------------------------------------------ ORT via Node

NODE_CHECK = r"""
const ort = require(process.argv[1]);
const fs = require('fs');
function readTyped(file, dtype) {
  const b = fs.readFileSync(file);
  const ab = b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength);
  if (dtype === 'float32') return new Float32Array(ab);
  if (dtype === 'int32') return new Int32Array(ab);
  if (dtype === 'bool') return new Uint8Array(ab);
  throw new Error('dtype ' + dtype);
}
(async () => {
  const cfg = JSON.parse(fs.readFileSync(process.argv[2], 'utf8'));
  const opts = { intraOpNumThreads: 2, interOpNumThreads: 1 };
  const results = [];
  for (const m of cfg.models) {
    const r = { name: m.name, cases: [] };
    const sess = await ort.InferenceSession.create(m.path, opts);
    r.inputNames = sess.inputNames;
    r.outputNames = sess.outputNames;
    for (const c of m.cases) {
      const feeds = {};
      for (const inp of c.inputs) {
        feeds[inp.name] = new ort.Tensor(inp.dtype, readTyped(inp.file, inp.dtype), inp.dims);
      }
      const out = (await sess.run(feeds))[c.output];
      const exp = readTyped(c.expected, 'float32');
      let maxDiff = 0;
      for (let i = 0; i < exp.length; i++) maxDiff = Math.max(maxDiff, Math.abs(out.data[i] - exp[i]));
      r.cases.push({ label: c.label, dims: out.dims, sizeOk: out.data.length === exp.length, maxAbsDiff: maxDiff });
    }
    if (m.eval) {
      const x = readTyped(m.eval.input, 'float32');
      const y = readTyped(m.eval.labels, 'int32');
      const n = y.length, per = 784, bs = 1000;
      let correct = 0;
      for (let s = 0; s < n; s += bs) {
        const k = Math.min(bs, n - s);
        const t = new ort.Tensor('float32', x.subarray(s * per, (s + k) * per), [k, 1, 28, 28]);
        const o = (await sess.run({ [m.eval.inputName]: t }))[m.eval.outputName];
        for (let i = 0; i < k; i++) {
          let best = 0;
          for (let j = 1; j < 10; j++) if (o.data[i * 10 + j] > o.data[i * 10 + best]) best = j;
          if (best === y[s + i]) correct++;
        }
      }
      r.accuracy = correct / n;
    }
    results.push(r);
  }
  console.log(JSON.stringify(results));
})().catch((e) => { console.error(e); process.exit(1); });
"""


class OrtChecker:
    def __init__(self, tmpdir):
        self.tmp = tmpdir
        self.models = []
        self.count = 0
        self.eval_files = None

    def _write(self, arr, dtype):
        self.count += 1
        path = os.path.join(self.tmp, f"t{self.count}.bin")
        np.ascontiguousarray(arr, dtype=dtype).tofile(path)
        return path

    def set_eval_data(self, x_test, y_test):
        self.eval_files = (self._write(x_test, np.float32), self._write(y_test, np.int32))

    def add(self, name, path, cases, evaluate=False):
        """cases: list of (label, {input_name: ndarray}, output_name, expected ndarray)."""
        entry = {"name": name, "path": path, "cases": []}
        for label, feeds, out_name, expected in cases:
            inputs = []
            for k, v in feeds.items():
                dt = "bool" if v.dtype == np.bool_ else "float32"
                inputs.append({"name": k, "dtype": dt, "dims": list(v.shape),
                               "file": self._write(v, np.uint8 if dt == "bool" else np.float32)})
            entry["cases"].append({"label": label, "inputs": inputs, "output": out_name,
                                   "expected": self._write(expected, np.float32)})
        if evaluate:
            entry["eval"] = {"input": self.eval_files[0], "labels": self.eval_files[1],
                             "inputName": "input", "outputName": "logits"}
        self.models.append(entry)

    def run(self):
        cfg = os.path.join(self.tmp, "check.json")
        with open(cfg, "w") as f:
            json.dump({"models": self.models}, f)
        proc = subprocess.run(["node", "-e", NODE_CHECK, ORT_MODULE, cfg],
                              capture_output=True, text=True, timeout=900)
        if proc.returncode != 0:
            raise RuntimeError(f"ONNX Runtime check failed:\n{proc.stderr}")
        return json.loads(proc.stdout.strip().splitlines()[-1])


# --------------------------------------------------------------------------- main

def onnx_param_count(model):
    """Elements in initializers and Constant-node tensors (including subgraphs)."""
    total = 0

    def walk(g):
        nonlocal total
        for t in g.initializer:
            total += int(np.prod(t.dims)) if t.dims else 1
        for n in g.node:
            for a in n.attribute:
                if n.op_type == "Constant" and a.name == "value":
                    total += int(np.prod(a.t.dims)) if a.t.dims else 1
                if a.type == onnx.AttributeProto.GRAPH:
                    walk(a.g)
                for sg in a.graphs:
                    walk(sg)
    walk(model.graph)
    return total


def op_types(model):
    ops = set()

    def walk(g):
        for n in g.node:
            ops.add(n.op_type)
            for a in n.attribute:
                if a.type == onnx.AttributeProto.GRAPH:
                    walk(a.g)
    walk(model.graph)
    return sorted(ops)


def main():
    t_start = time.time()
    set_determinism()
    os.makedirs(OUT_DIR, exist_ok=True)

    train_imgs, train_labels = load_split("train")
    test_imgs, test_labels = load_split("t10k")
    x_train_np = preprocess(train_imgs)
    x_test_np = preprocess(test_imgs)
    x_train = torch.from_numpy(x_train_np)
    y_train = torch.from_numpy(train_labels)
    x_test = torch.from_numpy(x_test_np)
    y_test = torch.from_numpy(test_labels)

    summary = {}
    tmp = tempfile.TemporaryDirectory(prefix="edgefit-fixtures-")
    checker = OrtChecker(tmp.name)
    checker.set_eval_data(x_test_np, test_labels)
    rng = np.random.RandomState(SEED + 100)

    def torch_cases(model, opset_out_name="logits"):
        cases = []
        for bs in (1, 5):
            xr = rng.randn(bs, 1, 28, 28).astype(np.float32)
            with torch.no_grad():
                ref = model(torch.from_numpy(xr)).numpy()
            cases.append((f"random batch {bs}", {"input": xr}, opset_out_name, ref))
        return cases

    # (name, builder, epochs, lr, train kwargs, export kwargs)
    torch_specs = [
        ("cnn-bn-train", BNTrainNet, 1, 3e-3, {}, {"opset": 13, "fold": False, "preserve": True}),
        ("cnn-residual", ResidualNet, 2, 3e-3, {}, {"opset": 13, "fold": True}),
        ("depthwise-net", DepthwiseNet, 2, 4e-3,
         {"weight_decay": 0.0, "decay_norm": False}, {"opset": 13, "fold": True}),
        ("transformer", TinyViT, 5, 2e-3,
         {"weight_decay": 0.05, "decay_norm": False, "adamw": True}, {"opset": 17, "fold": True}),
        ("mlp-gemm", MLP, 3, 2e-3, {}, {"opset": 13, "fold": True}),
    ]
    for name, cls, epochs, lr, tkw, ekw in torch_specs:
        if not wanted(name):
            continue
        t0 = time.time()
        seed_all(SEED)
        model = cls()
        if isinstance(model, DepthwiseNet):
            model.kill_channels()
        n_params = sum(p.numel() for p in model.parameters())
        print(f"== {name}: {n_params} torch params, {epochs} epoch(s)", flush=True)
        train(name, model, x_train, y_train, epochs, lr, max_steps=MAX_STEPS, **tkw)
        acc = evaluate(model, x_test, y_test)
        path = out_path(f"{name}.onnx")
        m = export_torch(model, path, ekw["opset"], ekw["fold"], ekw.get("preserve", False))
        if name == "cnn-bn-train":
            m = add_identity_and_dropout(m)
            onnx.save(m, path)
        onnx.checker.check_model(m)
        extra = {}
        if name == "depthwise-net":
            extra["dw_channel_range_ratio"] = [round(v, 1) for v in fold_bn_stats(model)]
        if name == "cnn-bn-train":
            bns = [mod for mod in model.modules() if isinstance(mod, nn.BatchNorm2d)]
            extra["bn_running_var_range"] = [
                round(min(float(b.running_var.min()) for b in bns), 4),
                round(max(float(b.running_var.max()) for b in bns), 4)]
        checker.add(name, path, torch_cases(model), evaluate=True)
        if name == "depthwise-net":
            for pc in (False, True):
                probe = os.path.join(tmp.name, f"{name}-wq-{'pc' if pc else 'pt'}.onnx")
                onnx.save(fake_quant_weights(m, pc), probe)
                checker.add(f"{name} (conv weights int8 per-{'channel' if pc else 'tensor'})",
                            probe, [], evaluate=True)
        summary[name] = {"torch_params": n_params, "onnx_params": onnx_param_count(m),
                         "accuracy": acc, "ops": op_types(m), "nodes": len(m.graph.node),
                         "time": time.time() - t0, **extra}
        print(f"  [{name}] test accuracy (10k, torch): {acc * 100:.2f}% "
              f"({time.time() - t0:.1f}s)", flush=True)

    for name, builder in (("tf-style", build_tf_style), ("if-branches", build_if_branches)):
        if not wanted(name):
            continue
        m, ref, n_params = builder()
        onnx.checker.check_model(m, full_check=True)
        path = out_path(f"{name}.onnx")
        onnx.save(m, path)
        if name == "tf-style":
            cases = []
            for bs in (1, 3, 7):
                xr = rng.randn(bs, 8).astype(np.float32)
                cases.append((f"random batch {bs}", {"x": xr}, "y", ref(xr)))
        else:
            cases = []
            for c in (True, False):
                xr = rng.randn(1, 4).astype(np.float32)
                cases.append((f"cond={c}", {"x": xr, "cond": np.array(c)}, "y", ref(xr, c)))
        checker.add(name, path, cases)
        summary[name] = {"onnx_params": n_params, "ops": op_types(m),
                         "nodes": len(m.graph.node)}

    if wanted("fmnist-calib"):
        path = out_path("fmnist-calib.npz")
        np.savez(path,
                 input=np.ascontiguousarray(x_train_np[:NUM_CALIB], dtype=np.float32),
                 labels=np.ascontiguousarray(train_labels[:NUM_CALIB], dtype=np.int64))
        summary["fmnist-calib"] = {"images": NUM_CALIB,
                                   "class_counts": np.bincount(train_labels[:NUM_CALIB],
                                                               minlength=10).tolist()}

    if os.environ.get("SKIP_ORT") != "1" and checker.models:
        print("== ONNX Runtime (Node) check", flush=True)
        for r in checker.run():
            if r["name"] not in summary:           # weight-quantization probes
                base, probe = r["name"].split(" ", 1)
                summary[base][f"ort_accuracy {probe}"] = r["accuracy"]
                continue
            s = summary[r["name"]]
            s["ort_cases"] = r["cases"]
            if "accuracy" in r:
                s["ort_accuracy"] = r["accuracy"]
            worst = max(c["maxAbsDiff"] for c in r["cases"])
            ok = all(c["sizeOk"] for c in r["cases"]) and worst < 1e-3
            s["ort_ok"] = ok
            if not ok:
                raise RuntimeError(f"{r['name']}: ORT output mismatch {r['cases']}")
    tmp.cleanup()

    print("\n== summary")
    for name, s in summary.items():
        fname = f"{name}.npz" if name == "fmnist-calib" else f"{name}.onnx"
        size = os.path.getsize(out_path(fname))
        print(f"{fname}: {size} bytes")
        for k, v in s.items():
            if k == "accuracy" or k.startswith("ort_accuracy"):
                v = f"{v * 100:.2f}%"
            elif k == "time":
                v = f"{v:.1f}s"
            print(f"    {k}: {v}")
    print(f"total time: {time.time() - t_start:.1f}s")


if __name__ == "__main__":
    sys.exit(main())
