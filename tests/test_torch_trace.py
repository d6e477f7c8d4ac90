"""PyTorch beyond nn.Sequential: torch.fx tracing of custom modules, exact BatchNorm
folding, DataParallel and training checkpoints, and one-line refusals that say why."""

from __future__ import annotations

import numpy as np
import pytest

from reluscope import InvalidNetwork, UnsupportedLayer, from_torch, load

torch = pytest.importorskip("torch")
nn = torch.nn
F = torch.nn.functional


def _bn(n, g):
    bn = nn.BatchNorm1d(n, dtype=torch.float64)
    with torch.no_grad():
        bn.running_mean.copy_(torch.randn(n, generator=g, dtype=torch.float64))
        bn.running_var.copy_(torch.rand(n, generator=g, dtype=torch.float64) + 0.1)
        bn.weight.copy_(torch.randn(n, generator=g, dtype=torch.float64))
        bn.bias.copy_(torch.randn(n, generator=g, dtype=torch.float64))
    return bn


class Custom(nn.Module):
    """Names that sort differently from the forward order, BatchNorm on both sides of a ReLU,
    functional ReLU, a flattening view."""

    def __init__(self, g):
        super().__init__()
        self.fc_out = nn.Linear(8, 3, dtype=torch.float64)
        self.fc_in = nn.Linear(6, 8, dtype=torch.float64)
        self.fc_hidden = nn.Linear(8, 8, dtype=torch.float64)
        self.bn_a, self.bn_b = _bn(8, g), _bn(8, g)

    def forward(self, x):
        x = x.view(x.size(0), -1)
        x = F.relu(self.bn_a(self.fc_in(x)))
        x = self.bn_b(torch.relu(self.fc_hidden(x)))
        return self.fc_out(torch.flatten(x, 1))


class Blocks(nn.Module):
    def __init__(self, container):
        super().__init__()
        lins = [nn.Linear(5, 7, dtype=torch.float64), nn.Linear(7, 7, dtype=torch.float64),
                nn.Linear(7, 2, dtype=torch.float64)]
        self.container = container
        self.layers = nn.ModuleList(lins) if container == "list" else nn.ModuleDict({"z": lins[0], "a": lins[1],
                                                                                     "m": lins[2]})

    def forward(self, x):
        layers = list(self.layers) if self.container == "list" else [self.layers[k] for k in ("z", "a", "m")]
        for lin in layers[:-1]:
            x = lin(x).relu()
        return layers[-1](x)


def _max_diff(net, module, d, seed=0):
    X = torch.randn(300, d, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)
    with torch.no_grad():
        return float(np.abs(net(X.numpy()) - module(X).numpy()).max())


@pytest.mark.parametrize("seed", range(4))
def test_custom_module_with_batchnorm_is_folded_exactly(seed):
    g = torch.Generator().manual_seed(seed)
    module = Custom(g).eval()
    before = {k: v.clone() for k, v in module.state_dict().items()}
    net = from_torch(module)
    assert net.widths == (6, 8, 8, 3)
    assert _max_diff(net, module, 6, seed) <= 1e-10
    notes = " ".join(net.provenance.notes)
    assert "'bn_a' folded into the preceding Linear 'fc_in'" in notes
    assert "'bn_b' folded into the following Linear 'fc_out'" in notes
    assert all(torch.equal(before[k], v) for k, v in module.state_dict().items())  # not mutated
    assert module.training is False


def test_sequential_batchnorm_and_pruning_masks_survive_folding():
    import torch.nn.utils.prune as prune

    g = torch.Generator().manual_seed(0)
    module = nn.Sequential(nn.Linear(4, 6, dtype=torch.float64), _bn(6, g), nn.ReLU(),
                           nn.Linear(6, 2, dtype=torch.float64))
    prune.l1_unstructured(module[0], "weight", amount=0.5)
    module.eval()
    net = from_torch(module)
    assert net.masks is not None and net.masks[0].sum() == 12
    assert _max_diff(net, module, 4) <= 1e-10


@pytest.mark.parametrize("container", ["list", "dict"])
def test_modulelist_and_moduledict(container):
    module = Blocks(container)
    net = from_torch(module)
    assert net.widths == (5, 7, 7, 2)
    assert _max_diff(net, module, 5) <= 1e-12


def test_dataparallel_and_checkpoints(tmp_path):
    inner = nn.Sequential(nn.Linear(3, 4, dtype=torch.float64), nn.ReLU(), nn.Linear(4, 2, dtype=torch.float64))
    dp = nn.DataParallel(inner)
    net = from_torch(dp)
    assert net == from_torch(inner) and "DataParallel wrapper unwrapped" in net.provenance.notes
    opt = torch.optim.Adam(dp.parameters())
    torch.save({"epoch": 3, "model_state_dict": dp.state_dict(), "optimizer_state_dict": opt.state_dict()},
               tmp_path / "ckpt.pt")
    loaded = load(tmp_path / "ckpt.pt")
    assert loaded == net
    assert any("'module.'" in n for n in loaded.provenance.notes)
    assert loaded.provenance.inferred.startswith("architecture inferred from a state dict")
    torch.save({"ema": inner.state_dict(), "step": 10}, tmp_path / "other.pt")
    assert load(tmp_path / "other.pt") == net
    # a torch.compile'd module's state dict: every key prefixed by _orig_mod.
    torch.save({f"_orig_mod.{k}": v for k, v in inner.state_dict().items()}, tmp_path / "compiled.pt")
    assert load(tmp_path / "compiled.pt") == net


@pytest.mark.slow
def test_torch_compile_wrapper_is_unwrapped():
    inner = nn.Sequential(nn.Linear(3, 4, dtype=torch.float64), nn.ReLU(), nn.Linear(4, 2, dtype=torch.float64))
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        compiled = torch.compile(inner)
    net = from_torch(compiled)
    assert net == from_torch(inner) and "torch.compile wrapper unwrapped" in net.provenance.notes


@pytest.mark.parametrize("module, needle", [
    (lambda: nn.Sequential(nn.Linear(3, 3), nn.Tanh(), nn.Linear(3, 1)), "layer '1' (Tanh) is not supported"),
    (lambda: nn.Sequential(nn.Conv1d(1, 1, 2), nn.Flatten(), nn.Linear(2, 1)), "(Conv1d) is not supported"),
    (lambda: Residual(), "(a residual or branching connection)"),
    (lambda: Gelu(), "gelu"),
    (lambda: nn.Sequential(nn.Linear(3, 3), nn.BatchNorm1d(3), nn.ReLU(), nn.Linear(3, 1)), "call model.eval()"),
    (lambda: Branch(), "reuses"),
])
def test_refusals_say_what_is_supported(module, needle):
    with pytest.raises(UnsupportedLayer) as info:
        from_torch(module())
    message = str(info.value)
    assert needle in message and "\n" not in message
    assert "fully connected ReLU networks" in message or "eval" in message


def test_batchnorm_width_mismatch_is_invalid():
    m = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(5), nn.ReLU(), nn.Linear(4, 1)).eval()
    with pytest.raises(InvalidNetwork, match="BatchNorm1d"):
        from_torch(m)


class Residual(nn.Module):
    def __init__(self):
        super().__init__()
        self.a, self.b = nn.Linear(4, 4), nn.Linear(4, 1)

    def forward(self, x):
        return self.b(x + F.relu(self.a(x)))


class Gelu(nn.Module):
    def __init__(self):
        super().__init__()
        self.a, self.b = nn.Linear(4, 4), nn.Linear(4, 1)

    def forward(self, x):
        return self.b(F.gelu(self.a(x)))


class Branch(nn.Module):
    def __init__(self):
        super().__init__()
        self.a, self.b = nn.Linear(4, 4), nn.Linear(4, 4)

    def forward(self, x):
        h = F.relu(self.a(x))
        self.b(h)
        return self.b(F.relu(self.a(x)))


@pytest.mark.slow
def test_batchnorm_fold_on_random_stacks():
    """Rules 2 and 3 of docs/background/model-import.md on random stacks: BatchNorm1d before
    or after a ReLU, with or without affine parameters, at random widths."""
    from hypothesis import given, settings
    from hypothesis import strategies as st

    @settings(max_examples=40, deadline=None)
    @given(widths=st.lists(st.integers(1, 6), min_size=2, max_size=5), seed=st.integers(0, 2**31 - 1),
           data=st.data())
    def check(widths, seed, data):
        g = torch.Generator().manual_seed(seed)
        layers: list = []
        if data.draw(st.booleans()):  # input normalization before the first Linear
            layers.append(_bn(widths[0], g))
        for i, (a, b) in enumerate(zip(widths[:-1], widths[1:])):
            layers.append(nn.Linear(a, b, dtype=torch.float64))
            last = i == len(widths) - 2
            where = data.draw(st.sampled_from(["none", "before"] if last else ["none", "before", "after"]))
            if where == "before":
                layers.append(_bn(b, g))
            if not last:
                layers.append(nn.ReLU())
                if where == "after":
                    bn = _bn(b, g)
                    if data.draw(st.booleans()):
                        bn = nn.BatchNorm1d(b, affine=False, dtype=torch.float64)
                        with torch.no_grad():
                            bn.running_var.uniform_(0.2, 3.0, generator=g)
                    layers.append(bn)
        module = nn.Sequential(*layers).eval()
        net = from_torch(module)
        assert net.widths == tuple(widths)
        X = torch.randn(64, widths[0], generator=g, dtype=torch.float64)
        with torch.no_grad():
            ref = module(X).numpy()
        assert np.abs(net(X.numpy()) - ref).max() <= 1e-10 * max(1.0, np.abs(ref).max())

    check()
