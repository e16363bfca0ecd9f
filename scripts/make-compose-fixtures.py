#!/usr/bin/env python3
"""Build the two Fashion-MNIST fixtures for the compression benches (composition and search).

Writes into test/fixtures/models/:
  lenet-300-100.onnx  trained MLP of LeNet-300-100 shape: Flatten -> Gemm 784x300 -> Relu ->
                      Gemm 300x100 -> Relu -> Gemm 100x10
  vgg-cnn.onnx        trained small VGG-style CNN: 2 blocks of [Conv3x3-BN-ReLU x2, MaxPool]
                      (32, 64 channels) -> Flatten -> Gemm 3136x256 -> Relu -> Gemm 256x10,
                      BatchNorm folded into the Convs at export

Both have input `input` float32 [batch,1,28,28] (dynamic `batch`) and output `logits`
[batch,10], opset 13, preprocessing (uint8/255 - 0.2860)/0.3530, like the fixtures of
scripts/make-fixtures.py (which this script does not touch).

The data reader, training loop, export and ONNX Runtime check are in scripts/fmnist_common.py.

Run from the repository root with Debian's python (needs torch, numpy, onnx):
  /usr/bin/python3 scripts/make-compose-fixtures.py

Optional environment variables:
  FASHION_MNIST_DIR  where the gzipped IDX files are (default /usr/share/datasets/fashion-mnist)
  ONLY               comma-separated fixture names to build (lenet-300-100, vgg-cnn)
  SKIP_ORT=1         skip the ONNX Runtime (Node) check
  TORCH_THREADS      torch intra-op threads (default 1; the committed files used 1: as in
                     make-fixtures.py, 2 OpenMP threads on a busy 2-core machine train slower,
                     and the weights depend on the thread count)
  MAX_STEPS          cap the training steps per epoch (smoke tests only)

Every model is checked with onnx.checker, then loaded in ONNX Runtime through Node
(node_modules/onnxruntime-node): outputs are compared with PyTorch on random inputs at batch
1 and 5, and the model is scored on the full 10k t10k test set in ONNX Runtime; the script
fails if that accuracy differs from the PyTorch one.

Deterministic: fixed seeds, torch.use_deterministic_algorithms(True), a fixed thread count,
CPU only, no network access.
"""

import os
import sys
import tempfile
import time

import numpy as np
import onnx
import torch
import torch.nn as nn

import fmnist_common as common

SEED = 0

OUT_DIR = os.path.join(common.REPO_ROOT, "test", "fixtures", "models")
THREADS = int(os.environ.get("TORCH_THREADS", "1"))
MAX_STEPS = common.env_int("MAX_STEPS")
ONLY = common.env_names("ONLY")


# ------------------------------------------------------------------------ modules

class LeNet300100(common.MLP):
    """LeNet-300-100 (LeCun et al. 1998; the MLP of Deep Compression's Table 1)."""

    def __init__(self):
        super().__init__(300, 100)


def conv_bn_relu(cin, cout):
    return [nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout),
            nn.ReLU(inplace=True)]


class VGGCNN(nn.Module):
    """VGG-style: [Conv3x3 32 x2, MaxPool] -> [Conv3x3 64 x2, MaxPool] -> FC 3136->fc -> FC fc->10.

    As in VGG, the first FC layer holds most of the weights and the convs most of the MACs."""

    def __init__(self, c1=32, c2=64, fc=256, num_classes=10):
        super().__init__()
        self.features = nn.Sequential(
            *conv_bn_relu(1, c1), *conv_bn_relu(c1, c1), nn.MaxPool2d(2),    # [c1,14,14]
            *conv_bn_relu(c1, c2), *conv_bn_relu(c2, c2), nn.MaxPool2d(2),   # [c2,7,7]
            nn.Flatten(),
        )
        self.classifier = nn.Sequential(
            common.FastLinear(c2 * 7 * 7, fc), nn.ReLU(inplace=True),
            nn.Dropout(0.3),
            common.FastLinear(fc, num_classes),
        )

    def forward(self, x):
        return self.classifier(self.features(x))


# ------------------------------------------------------------------------ figures

def weight_shapes(model):
    """Initializer shapes of the Conv and Gemm weights, in graph order."""
    inits = {t.name: list(t.dims) for t in model.graph.initializer}
    return [(n.op_type, inits[n.input[1]]) for n in model.graph.node
            if n.op_type in ("Conv", "Gemm")]


def macs_per_image(model):
    """Multiply-accumulates per image of the Conv2d and Linear layers (forward hooks)."""
    total = 0

    def hook(mod, inp, out):
        nonlocal total
        if isinstance(mod, nn.Conv2d):
            total += out[0].numel() * mod.weight[0].numel()
        else:
            total += mod.weight.numel()

    hooks = [mod.register_forward_hook(hook) for mod in model.modules()
             if isinstance(mod, (nn.Conv2d, nn.Linear))]
    model.eval()
    with torch.no_grad():
        model(torch.zeros(1, 1, 28, 28))
    for h in hooks:
        h.remove()
    return total


# --------------------------------------------------------------------------- main

# (name, builder, epochs, lr, weight decay)
SPECS = [
    ("lenet-300-100", LeNet300100, 10, 2e-3, 1e-4),
    ("vgg-cnn", VGGCNN, 6, 3e-3, 1e-4),
]


def main():
    t_start = time.time()
    common.set_determinism(SEED, THREADS)
    os.makedirs(OUT_DIR, exist_ok=True)
    d = common.load_data()
    rng = np.random.RandomState(SEED + 100)

    summary, to_check = {}, []
    for name, cls, epochs, lr, wd in SPECS:
        if ONLY and name not in ONLY:
            continue
        t0 = time.time()
        common.seed_all(SEED)
        model = cls()
        n_params = sum(p.numel() for p in model.parameters())
        print(f"== {name}: {n_params} torch params, {epochs} epochs, {THREADS} thread(s)",
              flush=True)
        # weights decayed; biases and BatchNorm scales/shifts not; no augmentation
        common.train(name, model, d.x_train, d.y_train, epochs, lr, weight_decay=wd,
                     decay_norm=False, max_steps=MAX_STEPS, seed=SEED)
        train_time = time.time() - t0
        correct = common.count_correct(model, d.x_test, d.y_test)
        path = os.path.join(OUT_DIR, f"{name}.onnx")
        # eval-mode export with constant folding: BatchNorm is folded into the Convs
        m = common.export_classifier(model, path)
        onnx.checker.check_model(m)
        to_check.append((name, path, common.random_cases(model, rng)))
        summary[name] = {
            "torch_params": n_params, "onnx_params": common.onnx_param_count(m),
            "weights": weight_shapes(m), "macs_per_image": macs_per_image(model),
            "ops": sorted({n.op_type for n in m.graph.node}), "nodes": len(m.graph.node),
            "torch_correct": correct, "train_time": train_time, "bytes": os.path.getsize(path)}
        print(f"  [{name}] test accuracy (10k, torch): {correct / 100:.2f}% "
              f"(trained in {train_time:.1f}s)", flush=True)

    if os.environ.get("SKIP_ORT") != "1" and to_check:
        print("== ONNX Runtime (Node) check", flush=True)
        with tempfile.TemporaryDirectory(prefix="edgefit-compose-fixtures-") as tmp:
            checker = common.OrtChecker(tmp)
            checker.set_eval_data(d.x_test_np, d.y_test_np)
            for name, path, cases in to_check:
                checker.add(name, path, cases, evaluate=True)
            results = checker.run()
        for r in results:
            s = summary[r["name"]]
            s["ort_correct"] = r["correct"]
            s["ort_max_abs_diff"] = max(c["maxAbsDiff"] for c in r["cases"])
            if r["inputNames"] != ["input"] or r["outputNames"] != ["logits"]:
                raise RuntimeError(f"{r['name']}: unexpected I/O names {r}")
            if not all(c["sizeOk"] for c in r["cases"]) or s["ort_max_abs_diff"] > 1e-3:
                raise RuntimeError(f"{r['name']}: ORT output mismatch {r['cases']}")
            if r["correct"] != s["torch_correct"]:
                raise RuntimeError(f"{r['name']}: ORT top-1 {r['correct']} != torch "
                                   f"{s['torch_correct']} of 10000")

    common.print_summary(summary, t_start,
                         lambda name: (f"{name}.onnx", summary[name]["bytes"]), shown)


def shown(k, v):
    """Top-1 counts (of 10000) as percentages, the training time in seconds."""
    if k.endswith("_correct"):
        return f"{v / 100:.2f}%"
    return f"{v:.1f}s" if k == "train_time" else v


if __name__ == "__main__":
    sys.exit(main())
