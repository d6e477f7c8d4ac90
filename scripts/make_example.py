"""Regenerate the bundled example model ``src/reluscope/examples/pruned_mlp.safetensors``.

A 30-16-16-2 ReLU MLP trained with PyTorch (float64, full-batch Adam, one thread, fixed
seed) on scikit-learn's breast-cancer data set (standardized), then 50% magnitude-pruned
per layer with ``torch.nn.utils.prune.l1_unstructured`` and fine-tuned with the masks in
place. Writes the model and a JSON sidecar (data set, preprocessing, training, accuracy).
Deterministic: running it twice gives byte-identical files.

Usage::

    .venv/bin/python scripts/make_example.py [--out-dir src/reluscope/examples]
"""

from __future__ import annotations

import argparse
import hashlib
import json
from pathlib import Path

import numpy as np
import torch
import torch.nn.utils.prune as prune
from sklearn.datasets import load_breast_cancer
from sklearn.model_selection import train_test_split

import reluscope

SEED = 0
HIDDEN = (16, 16)
AMOUNT = 0.5
EPOCHS, FINETUNE_EPOCHS, LR = 300, 200, 1e-2


def train(model, X, y, epochs):
    opt = torch.optim.Adam(model.parameters(), lr=LR)
    loss_fn = torch.nn.CrossEntropyLoss()
    for _ in range(epochs):
        opt.zero_grad()
        loss = loss_fn(model(X), y)
        loss.backward()
        opt.step()
    return float(loss.detach())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out-dir", type=Path, default=Path(__file__).resolve().parents[1] / "src/reluscope/examples")
    args = parser.parse_args()
    torch.manual_seed(SEED)
    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)

    X_raw, y = load_breast_cancer(return_X_y=True)
    mean, scale = X_raw.mean(axis=0), X_raw.std(axis=0)
    X = (X_raw - mean) / scale
    idx_train, idx_test = train_test_split(np.arange(len(y)), test_size=0.25, random_state=SEED, stratify=y)
    Xt = torch.from_numpy(X)
    yt = torch.from_numpy(y).long()

    d, k = X.shape[1], 2
    widths = (d, *HIDDEN, k)
    layers: list[torch.nn.Module] = []
    for i, (a, b) in enumerate(zip(widths[:-1], widths[1:])):
        layers.append(torch.nn.Linear(a, b, dtype=torch.float64))
        if i < len(widths) - 2:
            layers.append(torch.nn.ReLU())
    model = torch.nn.Sequential(*layers)
    tr = torch.from_numpy(idx_train)
    loss_dense = train(model, Xt[tr], yt[tr], EPOCHS)
    for layer in model:
        if isinstance(layer, torch.nn.Linear):
            prune.l1_unstructured(layer, "weight", amount=AMOUNT)
    loss_pruned = train(model, Xt[tr], yt[tr], FINETUNE_EPOCHS)

    net = reluscope.from_torch(model)
    pred = net(X).argmax(axis=1)
    acc_train = float((pred[idx_train] == y[idx_train]).mean())
    acc_test = float((pred[idx_test] == y[idx_test]).mean())

    args.out_dir.mkdir(parents=True, exist_ok=True)
    model_path = args.out_dir / "pruned_mlp.safetensors"
    reluscope.save(net, model_path)
    info = {
        "name": "pruned_mlp",
        "description": (
            f"{'-'.join(map(str, widths))} ReLU MLP on breast cancer (sklearn), "
            f"{int(AMOUNT * 100)}% magnitude-pruned per layer; test accuracy {acc_test:.3f}"
        ),
        "widths": list(widths),
        "dataset": {
            "loader": "load_breast_cancer",
            "source": "sklearn.datasets.load_breast_cancer",
            "n_samples": int(len(y)),
            "n_features": int(d),
            "classes": ["malignant", "benign"],
            "split": {"test_size": 0.25, "random_state": SEED, "stratify": True,
                      "function": "sklearn.model_selection.train_test_split on arange(n_samples)"},
        },
        "preprocessing": {
            "kind": "standardize",
            "note": "x -> (x - mean) / scale with the mean and population std of the full data set",
            "mean": mean.tolist(),
            "scale": scale.tolist(),
        },
        "training": {
            "framework": f"torch {torch.__version__}",
            "dtype": "float64",
            "optimizer": "Adam (full batch)",
            "lr": LR,
            "epochs": EPOCHS,
            "pruning": f"torch.nn.utils.prune.l1_unstructured(amount={AMOUNT}) on every Linear weight",
            "finetune_epochs": FINETUNE_EPOCHS,
            "seed": SEED,
            "final_loss_dense": loss_dense,
            "final_loss_pruned": loss_pruned,
        },
        "accuracy": {"train": acc_train, "test": acc_test},
        "output": "logits of the two classes (argmax = predicted class)",
        "sha256": hashlib.sha256(model_path.read_bytes()).hexdigest(),
        "regenerate": ".venv/bin/python scripts/make_example.py",
    }
    (args.out_dir / "pruned_mlp.json").write_text(json.dumps(info, indent=2) + "\n")
    print(f"wrote {model_path}: widths {widths}, train acc {acc_train:.3f}, test acc {acc_test:.3f}")


if __name__ == "__main__":
    main()
