"""Regenerate the bundled example models in ``src/reluscope/examples/``.

Each example is a ReLU MLP trained with PyTorch (full-batch Adam, one thread, fixed seed,
deterministic algorithms) on a data set that ships with scikit-learn, magnitude-pruned
with ``torch.nn.utils.prune`` and fine-tuned with the masks in place:

* ``pruned_mlp`` -- 30-16-16-2 on breast cancer (standardized), 50% pruned per layer, float64;
* ``digits_mlp`` -- 64-128-64-10 on digits (pixels / 16), 80% pruned globally, float64;
* ``digits28_mlp`` -- 784-300-100-10 on digits upsampled to 28x28 like MNIST (each pixel a
  3x3 block, padded by 2, then / 16), 90% pruned globally; trained and stored in float32
  (the file is half the size; float32 values embed exactly in reluscope's float64).

Writes ``<name>.safetensors`` and a JSON sidecar (data set, preprocessing, split, training,
accuracy). Deterministic on one machine: running it twice gives byte-identical files (torch 2.13.0,
CPU). On another CPU or BLAS the weights differ by rounding (about 1e-13); the pruning masks
and accuracies are the same (``tests/test_io_examples.py`` states the tolerance).

Usage::

    .venv/bin/python scripts/make_example.py [--out-dir src/reluscope/examples] [--only NAME]
"""

from __future__ import annotations

import argparse
import hashlib
import json
from pathlib import Path

import numpy as np
import safetensors.numpy as stn
import torch
import torch.nn.utils.prune as prune
from sklearn import datasets
from sklearn.model_selection import train_test_split

import reluscope
from reluscope.io.examples import preprocess
from reluscope.io.tensors import MARKER_VALUE, digest, network_to_tensors

SEED = 0
EXAMPLES = {
    "pruned_mlp": {
        "loader": "load_breast_cancer", "classes": ["malignant", "benign"], "hidden": (16, 16),
        "dtype": "float64", "lr": 1e-2, "epochs": 300, "finetune_epochs": 200,
        "pruning": "layer", "amount": 0.5, "title": "breast cancer (sklearn)",
    },
    "digits_mlp": {
        "loader": "load_digits", "classes": [str(i) for i in range(10)], "hidden": (128, 64),
        "dtype": "float64", "lr": 1e-2, "epochs": 300, "finetune_epochs": 200,
        "pruning": "global", "amount": 0.8, "title": "digits 8x8 (sklearn)",
        "preprocessing": {"kind": "divide", "by": 16.0, "note": "pixel intensities 0..16 -> [0, 1]"},
    },
    "digits28_mlp": {
        "loader": "load_digits", "classes": [str(i) for i in range(10)], "hidden": (300, 100),
        "dtype": "float32", "lr": 1e-3, "epochs": 200, "finetune_epochs": 150,
        "pruning": "global", "amount": 0.9, "title": "digits upsampled to 28x28 (sklearn)",
        "preprocessing": {"kind": "upsample", "image": [8, 8], "factor": 3, "pad": 2, "by": 16.0,
                          "note": "each 8x8 pixel becomes a 3x3 block, padded by 2 pixels to 28x28 (as MNIST), "
                                  "intensities 0..16 -> [0, 1]"},
    },
}


def train(model, X, y, epochs, lr):
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    loss_fn = torch.nn.CrossEntropyLoss()
    for _ in range(epochs):
        opt.zero_grad()
        loss = loss_fn(model(X), y)
        loss.backward()
        opt.step()
    return float(loss.detach())


def _preprocessing(spec, X_raw):
    if "preprocessing" in spec:
        return dict(spec["preprocessing"])
    mean, scale = X_raw.mean(axis=0), X_raw.std(axis=0)
    return {"kind": "standardize",
            "note": "x -> (x - mean) / scale with the mean and population std of the full data set",
            "mean": mean.tolist(), "scale": scale.tolist()}


def _save(net, path, dtype):
    """reluscope's safetensors scheme, with weights and biases in ``dtype``."""
    if dtype == "float64":
        reluscope.save(net, path)
        return
    tensors = {k: (v.astype(np.float32) if v.dtype == np.float64 else v) for k, v in network_to_tensors(net).items()}
    info = {"format": MARKER_VALUE, "widths": list(net.widths), "sha256": digest(tensors)}
    path.write_bytes(stn.save(tensors, metadata={"reluscope": json.dumps(info, sort_keys=True)}))


def make(name, out_dir):
    spec = EXAMPLES[name]
    torch.manual_seed(SEED)
    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)
    dtype = getattr(torch, spec["dtype"])

    X_raw, y = getattr(datasets, spec["loader"])(return_X_y=True)
    pre = _preprocessing(spec, X_raw)
    X = preprocess(np.asarray(X_raw, dtype=np.float64), pre)
    idx_train, idx_test = train_test_split(np.arange(len(y)), test_size=0.25, random_state=SEED, stratify=y)
    Xt = torch.from_numpy(X).to(dtype)
    yt = torch.from_numpy(y).long()

    d, k = X.shape[1], len(spec["classes"])
    widths = (d, *spec["hidden"], k)
    layers: list[torch.nn.Module] = []
    for i, (a, b) in enumerate(zip(widths[:-1], widths[1:])):
        layers.append(torch.nn.Linear(a, b, dtype=dtype))
        if i < len(widths) - 2:
            layers.append(torch.nn.ReLU())
    model = torch.nn.Sequential(*layers)
    tr = torch.from_numpy(idx_train)
    loss_dense = train(model, Xt[tr], yt[tr], spec["epochs"], spec["lr"])
    linears = [m for m in model if isinstance(m, torch.nn.Linear)]
    if spec["pruning"] == "global":
        prune.global_unstructured([(m, "weight") for m in linears], pruning_method=prune.L1Unstructured,
                                  amount=spec["amount"])
        how = f"torch.nn.utils.prune.global_unstructured(L1Unstructured, amount={spec['amount']}) over all weights"
    else:
        for m in linears:
            prune.l1_unstructured(m, "weight", amount=spec["amount"])
        how = f"torch.nn.utils.prune.l1_unstructured(amount={spec['amount']}) on every Linear weight"
    loss_pruned = train(model, Xt[tr], yt[tr], spec["finetune_epochs"], spec["lr"])

    net = reluscope.from_torch(model).with_provenance(None)
    pred = net(X).argmax(axis=1)
    acc_train = float((pred[idx_train] == y[idx_train]).mean())
    acc_test = float((pred[idx_test] == y[idx_test]).mean())

    out_dir.mkdir(parents=True, exist_ok=True)
    model_path = out_dir / f"{name}.safetensors"
    _save(net, model_path, spec["dtype"])
    assert reluscope.load(model_path) == net, "the stored example must be the trained network"
    scope = "globally" if spec["pruning"] == "global" else "per layer"
    info = {
        "name": name,
        "description": (
            f"{'-'.join(map(str, widths))} ReLU MLP on {spec['title']}, "
            f"{int(spec['amount'] * 100)}% magnitude-pruned {scope}; test accuracy {acc_test:.3f}"
        ),
        "widths": list(widths),
        "dataset": {
            "loader": spec["loader"],
            "source": f"sklearn.datasets.{spec['loader']}",
            "n_samples": int(len(y)),
            "n_features": int(d),
            "classes": spec["classes"],
            "split": {"test_size": 0.25, "random_state": SEED, "stratify": True,
                      "function": "sklearn.model_selection.train_test_split on arange(n_samples)"},
        },
        "preprocessing": pre,
        "training": {
            "framework": f"torch {torch.__version__}",
            "dtype": spec["dtype"],
            "optimizer": "Adam (full batch)",
            "lr": spec["lr"],
            "epochs": spec["epochs"],
            "pruning": how,
            "finetune_epochs": spec["finetune_epochs"],
            "seed": SEED,
            "final_loss_dense": loss_dense,
            "final_loss_pruned": loss_pruned,
        },
        "accuracy": {"train": acc_train, "test": acc_test},
        "output": f"logits of the {'two' if k == 2 else k} classes (argmax = predicted class)",
        "sha256": hashlib.sha256(model_path.read_bytes()).hexdigest(),
        "regenerate": ".venv/bin/python scripts/make_example.py" + ("" if name == "pruned_mlp" else f" --only {name}"),
    }
    (out_dir / f"{name}.json").write_text(json.dumps(info, indent=2) + "\n")
    print(f"wrote {model_path}: widths {widths}, train acc {acc_train:.3f}, test acc {acc_test:.3f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out-dir", type=Path, default=Path(__file__).resolve().parents[1] / "src/reluscope/examples")
    parser.add_argument("--only", choices=sorted(EXAMPLES), help="Regenerate one example.")
    args = parser.parse_args()
    for name in [args.only] if args.only else EXAMPLES:
        make(name, args.out_dir)


if __name__ == "__main__":
    main()
