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

The data reader, training loop, export and ONNX Runtime check are in scripts/fmnist_common.py.

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

import os
import sys
import tempfile
import time

import numpy as np
import onnx
import torch
import torch.nn as nn
import torch.nn.functional as F
from onnx import TensorProto, helper, numpy_helper

import fmnist_common as common

SEED = 0
NUM_CALIB = 512

OUT_DIR = os.path.join(common.REPO_ROOT, "test", "fixtures", "models")
# One intra-op thread by default: with 2 OpenMP threads on a 2-core machine that is also
# busy with other work, every parallel region waits on a descheduled thread and training
# gets 3-10x slower. Results are reproducible for a fixed thread count.
THREADS = int(os.environ.get("TORCH_THREADS", "1"))
MAX_STEPS = common.env_int("MAX_STEPS")  # smoke tests
ONLY = common.env_names("ONLY")


def wanted(name):
    return not ONLY or name in ONLY


def out_path(name):
    return os.path.join(OUT_DIR, name)


# ------------------------------------------------------------------------ modules

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


class BNTrainNet(common.FeatureClassifier):
    """Small convnet whose BatchNormalization nodes are kept in the exported graph."""

    def __init__(self, num_classes=10):
        super().__init__(nn.Sequential(
            ConvBN(1, 16),               # [16,28,28]
            nn.MaxPool2d(2),             # [16,14,14]
            ResBlock(16),                # residual Add #1
            ConvBN(16, 32, stride=2),    # [32,7,7]
            ResBlock(32),                # residual Add #2
            nn.AdaptiveAvgPool2d(1),
            nn.Flatten(),
        ), 0.2, common.FastLinear(32, num_classes))


class ResidualNet(common.FeatureClassifier):
    """Residual CNN: 32 channels at 28x28/14x14, 64 channels at 7x7 (conv compute dominates)."""

    def __init__(self, num_classes=10):
        super().__init__(nn.Sequential(
            ConvBN(1, 32),               # [32,28,28]
            nn.MaxPool2d(2),             # [32,14,14]
            ResBlock(32),                # [32,14,14]  residual Add #1
            ConvBN(32, 64, stride=2),    # [64,7,7]    strided conv
            ResBlock(64),                # [64,7,7]    residual Add #2
            ResBlock(64),                # [64,7,7]    residual Add #3
            nn.AdaptiveAvgPool2d(1),     # GlobalAveragePool
            nn.Flatten(),
        ), 0.1, common.FastLinear(64, num_classes))


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
        self.classifier = common.FastLinear(128, num_classes)

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
        self.q = common.FastLinear(dim, dim)
        self.k = common.FastLinear(dim, dim)
        self.v = common.FastLinear(dim, dim)
        self.proj = common.FastLinear(dim, dim)

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
        self.fc1 = common.FastLinear(dim, mlp_dim)
        self.fc2 = common.FastLinear(mlp_dim, dim)

    def forward(self, x):
        x = x + self.attn(self.ln1(x))
        x = x + self.fc2(F.gelu(self.fc1(self.ln2(x))))
        return x


class TinyViT(nn.Module):
    """7x7 patches -> 16 tokens of dim 128, 2 encoder blocks, mean pooling, Linear head."""

    def __init__(self, dim=128, heads=4, mlp_dim=256, depth=2, num_classes=10):
        super().__init__()
        self.patch = common.FastLinear(49, dim)
        self.pos = nn.Parameter(torch.randn(1, 16, dim) * 0.02)
        self.blocks = nn.Sequential(*[EncoderBlock(dim, heads, mlp_dim) for _ in range(depth)])
        self.ln = nn.LayerNorm(dim)
        self.head = common.FastLinear(dim, num_classes)

    def forward(self, x):                                    # x: [B,1,28,28]
        x = x.reshape(-1, 4, 7, 4, 7).permute(0, 1, 3, 2, 4).reshape(-1, 16, 49)
        x = self.patch(x) + self.pos
        x = self.blocks(x)
        x = self.ln(x).mean(dim=1)
        return self.head(x)


# ------------------------------------------------------------------------- export

def export_torch(model, path, opset, fold, preserve=False):
    # TrainingMode.EVAL runs the exporter's eval peephole pass, which fuses every
    # Conv+BatchNorm pair even with do_constant_folding=False. PRESERVE on a model in
    # eval() mode exports the same eval semantics but leaves BatchNormalization alone.
    mode = torch.onnx.TrainingMode.PRESERVE if preserve else torch.onnx.TrainingMode.EVAL
    return common.export_classifier(model, path, opset, fold, mode)


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


# --------------------------------------------------------------------------- main

def main():
    t_start = time.time()
    common.set_determinism(SEED, THREADS)
    os.makedirs(OUT_DIR, exist_ok=True)
    d = common.load_data()

    summary = {}
    tmp = tempfile.TemporaryDirectory(prefix="edgefit-fixtures-")
    checker = common.OrtChecker(tmp.name)
    checker.set_eval_data(d.x_test_np, d.y_test_np)
    rng = np.random.RandomState(SEED + 100)

    # (name, builder, epochs, lr, train kwargs, export kwargs)
    torch_specs = [
        ("cnn-bn-train", BNTrainNet, 1, 3e-3, {}, {"opset": 13, "fold": False, "preserve": True}),
        ("cnn-residual", ResidualNet, 2, 3e-3, {}, {"opset": 13, "fold": True}),
        ("depthwise-net", DepthwiseNet, 2, 4e-3,
         {"weight_decay": 0.0, "decay_norm": False}, {"opset": 13, "fold": True}),
        ("transformer", TinyViT, 5, 2e-3,
         {"weight_decay": 0.05, "decay_norm": False, "adamw": True}, {"opset": 17, "fold": True}),
        ("mlp-gemm", lambda: common.MLP(256, 128), 3, 2e-3, {}, {"opset": 13, "fold": True}),
    ]
    for name, cls, epochs, lr, tkw, ekw in torch_specs:
        if not wanted(name):
            continue
        t0 = time.time()
        common.seed_all(SEED)
        model = cls()
        if isinstance(model, DepthwiseNet):
            model.kill_channels()
        n_params = sum(p.numel() for p in model.parameters())
        print(f"== {name}: {n_params} torch params, {epochs} epoch(s)", flush=True)
        common.train(name, model, d.x_train, d.y_train, epochs, lr, max_steps=MAX_STEPS,
                     seed=SEED, **tkw)
        acc = common.count_correct(model, d.x_test, d.y_test) / len(d.x_test)
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
        checker.add(name, path, common.random_cases(model, rng), evaluate=True)
        if name == "depthwise-net":
            for pc in (False, True):
                probe = os.path.join(tmp.name, f"{name}-wq-{'pc' if pc else 'pt'}.onnx")
                onnx.save(fake_quant_weights(m, pc), probe)
                checker.add(f"{name} (conv weights int8 per-{'channel' if pc else 'tensor'})",
                            probe, [], evaluate=True)
        summary[name] = {"torch_params": n_params, "onnx_params": common.onnx_param_count(m),
                         "accuracy": acc, "ops": common.op_types(m), "nodes": len(m.graph.node),
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
        summary[name] = {"onnx_params": n_params, "ops": common.op_types(m),
                         "nodes": len(m.graph.node)}

    if wanted("fmnist-calib"):
        path = out_path("fmnist-calib.npz")
        np.savez(path,
                 input=np.ascontiguousarray(d.x_train_np[:NUM_CALIB], dtype=np.float32),
                 labels=np.ascontiguousarray(d.y_train_np[:NUM_CALIB], dtype=np.int64))
        summary["fmnist-calib"] = {"images": NUM_CALIB,
                                   "class_counts": np.bincount(d.y_train_np[:NUM_CALIB],
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

    common.print_summary(summary, t_start, fixture_file, shown)


def fixture_file(name):
    fname = f"{name}.npz" if name == "fmnist-calib" else f"{name}.onnx"
    return fname, os.path.getsize(out_path(fname))


def shown(k, v):
    """Accuracies as percentages, the time in seconds."""
    if k == "accuracy" or k.startswith("ort_accuracy"):
        return f"{v * 100:.2f}%"
    return f"{v:.1f}s" if k == "time" else v


if __name__ == "__main__":
    sys.exit(main())
