"""Code shared by the Fashion-MNIST fixture makers (make-fixtures.py, make-compose-fixtures.py,
make-example.py): the IDX reader and preprocessing, FastLinear and the model shapes more than one script
uses, seeding, the training loop, the ONNX
export, and the ONNX Runtime (Node) check. Imported as a module (the scripts' folder is on sys.path
when a script is run as /usr/bin/python3 scripts/<name>.py); it writes nothing itself.

Everything here is deterministic for a fixed seed and thread count, as the scripts' headers say.
"""

import gzip
import json
import os
import random
import subprocess
import time
from types import SimpleNamespace

import numpy as np
import onnx
import torch
import torch.nn as nn
import torch.nn.functional as F

MEAN = 0.2860
STD = 0.3530

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DATA_DIR = os.environ.get("FASHION_MNIST_DIR", "/usr/share/datasets/fashion-mnist")
ORT_MODULE = os.path.join(REPO_ROOT, "node_modules", "onnxruntime-node")


def env_int(name):
    """An optional whole-number environment variable (None when unset or empty)."""
    return int(os.environ[name]) if os.environ.get(name) else None


def env_names(name):
    """A comma-separated environment variable as a set of names (empty when unset)."""
    return {s.strip() for s in os.environ.get(name, "").split(",") if s.strip()}


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


def load_split(split, data_dir=DATA_DIR):
    images = read_idx(os.path.join(data_dir, f"{split}-images-idx3-ubyte.gz"))
    labels = read_idx(os.path.join(data_dir, f"{split}-labels-idx1-ubyte.gz"))
    return images, labels.astype(np.int64)


def preprocess(images_u8):
    """uint8 [N,28,28] -> float32 [N,1,28,28], scaled to [0,1] then normalized."""
    x = images_u8.astype(np.float32) / np.float32(255.0)
    x = (x - np.float32(MEAN)) / np.float32(STD)
    return x[:, None, :, :].astype(np.float32)


def load_data(data_dir=DATA_DIR):
    """Both splits, preprocessed: numpy arrays (x_train_np, y_train_np, x_test_np, y_test_np) and
    torch tensors sharing their memory (x_train, y_train, x_test, y_test)."""
    train_imgs, y_train_np = load_split("train", data_dir)
    test_imgs, y_test_np = load_split("t10k", data_dir)
    x_train_np = preprocess(train_imgs)
    x_test_np = preprocess(test_imgs)
    return SimpleNamespace(
        x_train_np=x_train_np, y_train_np=y_train_np, x_test_np=x_test_np, y_test_np=y_test_np,
        x_train=torch.from_numpy(x_train_np), y_train=torch.from_numpy(y_train_np),
        x_test=torch.from_numpy(x_test_np), y_test=torch.from_numpy(y_test_np))


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


class MLP(nn.Module):
    """Flatten -> FastLinear 784->h1 -> ReLU -> FastLinear h1->h2 -> ReLU -> FastLinear h2->classes."""

    def __init__(self, h1, h2, num_classes=10):
        super().__init__()
        self.net = nn.Sequential(
            nn.Flatten(),
            FastLinear(784, h1), nn.ReLU(inplace=True),
            FastLinear(h1, h2), nn.ReLU(inplace=True),
            FastLinear(h2, num_classes),
        )

    def forward(self, x):
        return self.net(x)


class FeatureClassifier(nn.Module):
    """features -> Dropout(p) -> classifier (submodules built by the caller, in that order)."""

    def __init__(self, features, p, classifier):
        super().__init__()
        self.features = features
        self.dropout = nn.Dropout(p)
        self.classifier = classifier

    def forward(self, x):
        return self.classifier(self.dropout(self.features(x)))


# ----------------------------------------------------------------------- training

def seed_all(seed):
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def set_determinism(seed, threads, interop_threads=1):
    """Seeds, a fixed intra-op thread count (and inter-op, unless interop_threads is None),
    deterministic algorithms."""
    seed_all(seed)
    torch.set_num_threads(threads)
    if interop_threads is not None:
        torch.set_num_interop_threads(interop_threads)
    torch.use_deterministic_algorithms(True)
    torch.backends.cudnn.benchmark = False


@torch.no_grad()
def count_correct(model, x, y, batch=1000):
    """Top-1 hits of `model` (put in eval mode) on x, y."""
    model.eval()
    correct = 0
    for i in range(0, len(x), batch):
        correct += (model(x[i:i + batch]).argmax(1) == y[i:i + batch]).sum().item()
    return correct


def param_groups(model, weight_decay, decay_norm, lr, norm_lr_mult, decay_bias=False):
    """Three groups: weights (decayed), biases (decayed only if decay_bias), norm-layer
    scales/shifts (decayed only if decay_norm, learning rate scaled by norm_lr_mult)."""
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
            {"params": no_decay, "weight_decay": weight_decay if decay_bias else 0.0, "lr": lr},
            {"params": norm, "weight_decay": weight_decay if decay_norm else 0.0,
             "lr": lr * norm_lr_mult}]


def train(name, model, x_train, y_train, epochs, lr, weight_decay=1e-4, decay_norm=True,
          norm_lr_mult=1.0, decay_bias=False, flip=False, adamw=False, max_steps=None,
          seed=0, batch_size=128):
    """Adam (or AdamW) over param_groups, one-cycle schedule; `flip`: random horizontal flips."""
    gen = torch.Generator().manual_seed(seed)
    groups = param_groups(model, weight_decay, decay_norm, lr, norm_lr_mult, decay_bias)
    opt = (torch.optim.AdamW if adamw else torch.optim.Adam)(groups, lr=lr)
    steps_per_epoch = (len(x_train) + batch_size - 1) // batch_size
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
            idx = perm[s * batch_size:(s + 1) * batch_size]
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


def random_cases(model, rng, batches=(1, 5)):
    """ORT check cases: random [bs,1,28,28] inputs and the torch model's logits for them."""
    cases = []
    for bs in batches:
        xr = rng.randn(bs, 1, 28, 28).astype(np.float32)
        with torch.no_grad():
            ref = model(torch.from_numpy(xr)).numpy()
        cases.append((f"random batch {bs}", {"input": xr}, "logits", ref))
    return cases


# ------------------------------------------------------------------------- export

def export_classifier(model, path, opset=13, fold=True, training=torch.onnx.TrainingMode.EVAL):
    """Export `model` (put in eval mode) with input `input` [batch,1,28,28] and output `logits`
    (dynamic batch); returns the loaded ModelProto, not yet checked."""
    model.eval()
    torch.onnx.export(
        model, torch.zeros(1, 1, 28, 28, dtype=torch.float32), path,
        input_names=["input"], output_names=["logits"],
        dynamic_axes={"input": {0: "batch"}, "logits": {0: "batch"}},
        opset_version=opset, do_constant_folding=fold, training=training,
    )
    return onnx.load(path)


def _walk_graphs(g):
    yield g
    for n in g.node:
        for a in n.attribute:
            if a.type == onnx.AttributeProto.GRAPH:
                yield from _walk_graphs(a.g)
            for sg in a.graphs:
                yield from _walk_graphs(sg)


def onnx_param_count(model):
    """Elements in initializers and Constant-node tensors (including subgraphs)."""
    total = 0
    for g in _walk_graphs(model.graph):
        for t in g.initializer:
            total += int(np.prod(t.dims)) if t.dims else 1
        for n in g.node:
            for a in n.attribute:
                if n.op_type == "Constant" and a.name == "value":
                    total += int(np.prod(a.t.dims)) if a.t.dims else 1
    return total


def op_types(model):
    """The sorted op types of the model, subgraphs included."""
    return sorted({n.op_type for g in _walk_graphs(model.graph) for n in g.node})


def print_summary(summary, t_start, file_of, shown):
    """The closing report: for each fixture, its file and size (file_of(name) -> (file name,
    bytes)) and every summary field as shown(key, value) formats it; then the total time."""
    print("\n== summary")
    for name, s in summary.items():
        fname, size = file_of(name)
        print(f"{fname}: {size} bytes")
        for k, v in s.items():
            print(f"    {k}: {shown(k, v)}")
    print(f"total time: {time.time() - t_start:.1f}s")


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
      r.correct = correct;
      r.accuracy = correct / n;
    }
    results.push(r);
  }
  console.log(JSON.stringify(results));
})().catch((e) => { console.error(e); process.exit(1); });
"""


class OrtChecker:
    """Collects models and cases, then runs them all in one Node process with onnxruntime-node:
    each case's output against the expected array (max abs difference), and, for models added with
    evaluate=True, top-1 on the eval data (`correct` and `accuracy` in the result)."""

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
