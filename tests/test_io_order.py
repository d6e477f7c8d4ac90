"""Loading that is right or refuses (#18): a state dict's layers in the file's stored order,
checked against the shape chain; a refusal that says how to supply the architecture when
the order or wiring cannot be established; every load from a bare state dict marked as
inferred in the network's provenance (and shown by `reluscope info`)."""

from __future__ import annotations

import numpy as np
import pytest
from typer.testing import CliRunner

from reluscope import ModelFileError, from_torch, load
from reluscope.cli import app
from reluscope.io.tensors import INFERRED

torch = pytest.importorskip("torch")
nn = torch.nn
F = torch.nn.functional
safetensors_torch = pytest.importorskip("safetensors.torch")


class Named(nn.Module):
    """Registered in forward order, but the names sort otherwise (fc_hidden < fc_in < fc_out)."""

    def __init__(self, d=5, h=8, k=3, hidden_square=1):
        super().__init__()
        self.fc_in = nn.Linear(d, h, dtype=torch.float64)
        self.fc_hidden = nn.Sequential(*[nn.Linear(h, h, dtype=torch.float64) for _ in range(hidden_square)])
        self.fc_out = nn.Linear(h, k, dtype=torch.float64)

    def forward(self, x):
        x = F.relu(self.fc_in(x))
        for lin in self.fc_hidden:
            x = F.relu(lin(x))
        return self.fc_out(x)


class Residual(nn.Module):
    def __init__(self, d=4, h=6):
        super().__init__()
        self.inp, self.block, self.out = (nn.Linear(d, h, dtype=torch.float64), nn.Linear(h, h, dtype=torch.float64),
                                          nn.Linear(h, 2, dtype=torch.float64))

    def forward(self, x):
        h = F.relu(self.inp(x))
        return self.out(h + F.relu(self.block(h)))


class Projection(nn.Module):
    """A shortcut with its own Linear: shapes that only fit a branching wiring."""

    def __init__(self):
        super().__init__()
        self.a = nn.Linear(4, 6, dtype=torch.float64)
        self.shortcut = nn.Linear(4, 6, dtype=torch.float64)
        self.b = nn.Linear(6, 2, dtype=torch.float64)

    def forward(self, x):
        return self.b(F.relu(self.a(x)) + self.shortcut(x))


class Tanhs(nn.Module):
    def __init__(self):
        super().__init__()
        self.layers = nn.ModuleDict({"z_first": nn.Linear(3, 5, dtype=torch.float64),
                                     "a_last": nn.Linear(5, 1, dtype=torch.float64)})

    def forward(self, x):
        return self.layers["a_last"](torch.tanh(self.layers["z_first"](x)))


def _diff(net, module, d):
    X = torch.randn(200, d, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    with torch.no_grad():
        return float(np.abs(net(X.numpy()) - module(X).numpy()).max())


def test_state_dict_in_stored_order_is_the_models_function(tmp_path):
    torch.manual_seed(0)
    module = Named()
    torch.save(module.state_dict(), tmp_path / "named.pt")
    net = load(tmp_path / "named.pt")
    assert _diff(net, module, 5) <= 1e-12  # sorted by name it would differ (fc_hidden first)
    assert net.provenance.inferred == INFERRED
    np.savez(tmp_path / "named.npz", **{k: v.numpy() for k, v in module.state_dict().items()})
    assert load(tmp_path / "named.npz") == net


def test_safetensors_order_from_the_unique_shape_chain_or_refused(tmp_path):
    torch.manual_seed(0)
    module = Named()  # one square layer: the shapes chain in one order only
    safetensors_torch.save_file(module.state_dict(), str(tmp_path / "one.safetensors"))
    net = load(tmp_path / "one.safetensors")
    assert _diff(net, module, 5) <= 1e-12
    assert "only order in which their shapes chain" in net.provenance.inferred
    two = Named(hidden_square=2)  # two square layers: ambiguous
    safetensors_torch.save_file(two.state_dict(), str(tmp_path / "two.safetensors"))
    with pytest.raises(ModelFileError, match="ambiguous.*reluscope.load\\(path, order=") as info:
        load(tmp_path / "two.safetensors")
    assert "\n" not in str(info.value) and "from_torch" in str(info.value)
    order = ["fc_in", "fc_hidden.0", "fc_hidden.1", "fc_out"]
    fixed = load(tmp_path / "two.safetensors", order=order)
    assert _diff(fixed, two, 5) <= 1e-12 and "given order" in fixed.provenance.inferred
    with pytest.raises(ModelFileError, match="must list each layer"):
        load(tmp_path / "two.safetensors", order=order[:-1])


def test_residual_wiring_loads_only_as_an_inference_or_is_refused(tmp_path):
    torch.manual_seed(0)
    res = Residual()
    torch.save(res.state_dict(), tmp_path / "res.pt")
    net = load(tmp_path / "res.pt")
    # shapes chain, so the file cannot tell: a different function, but marked as inferred
    assert _diff(net, res, 4) > 1e-3
    assert net.provenance.inferred == INFERRED
    with pytest.raises(Exception, match="residual or branching"):
        from_torch(res)  # the module itself says what it is
    proj = Projection()
    torch.save(proj.state_dict(), tmp_path / "proj.pt")
    with pytest.raises(ModelFileError, match="does not store the wiring.*from_torch"):
        load(tmp_path / "proj.pt")


def test_other_activations_and_containers(tmp_path):
    torch.manual_seed(0)
    tanh = Tanhs()  # ModuleDict, names sort against the order, not ReLU
    torch.save(tanh.state_dict(), tmp_path / "tanh.pt")
    net = load(tmp_path / "tanh.pt")
    assert net.widths == (3, 5, 1)
    assert net.provenance.inferred == INFERRED  # ReLU assumed: said, not silent
    result = CliRunner().invoke(app, ["info", str(tmp_path / "tanh.pt")])
    assert result.exit_code == 0 and "ReLU assumed between them" in result.output
    with pytest.raises(Exception, match="tanh"):
        from_torch(tanh)
    lst = nn.ModuleList([nn.Linear(3, 4), nn.Linear(4, 4), nn.Linear(4, 2)])
    torch.save(lst.state_dict(), tmp_path / "list.pt")
    assert load(tmp_path / "list.pt").widths == (3, 4, 4, 2)


def test_keys_that_skip_layers_are_refused(tmp_path):
    seq = nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Dropout(), nn.Linear(4, 1))
    torch.save(seq.state_dict(), tmp_path / "gap.pt")
    with pytest.raises(ModelFileError, match="'0' and '3' have unnamed modules between them"):
        load(tmp_path / "gap.pt")


def test_files_that_state_their_architecture_are_not_marked(tmp_path):
    from reluscope import ReLUNetwork, save

    net = ReLUNetwork.random((3, 4, 2), seed=0)
    for suffix in (".safetensors", ".npz", ".onnx"):
        save(net, tmp_path / f"n{suffix}")
        assert load(tmp_path / f"n{suffix}").provenance.inferred is None
    seq = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2))
    torch.save(seq, tmp_path / "module.pt")
    assert load(tmp_path / "module.pt").provenance.inferred is None


@pytest.mark.parametrize("suffix", [".safetensors", ".npz", ".onnx"])
def test_reluscope_files_keep_what_was_inferred_and_folded(tmp_path, suffix):
    """A network read from a state dict (inferred) or with BatchNorm folded keeps saying so
    after reluscope.save / load, once, however often it is saved again."""
    from reluscope import save

    torch.manual_seed(0)
    torch.save(Named().state_dict(), tmp_path / "named.pt")
    inferred = load(tmp_path / "named.pt")
    save(inferred, tmp_path / f"a{suffix}")
    again = load(tmp_path / f"a{suffix}")
    assert again == inferred and again.provenance.inferred == INFERRED
    assert again.provenance.notes[0] == "originally read as torch"
    bn = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4), nn.ReLU(), nn.Linear(4, 1)).eval()
    save(from_torch(bn), tmp_path / f"b{suffix}")
    save(load(tmp_path / f"b{suffix}"), tmp_path / f"c{suffix}")
    assert (tmp_path / f"b{suffix}").read_bytes() == (tmp_path / f"c{suffix}").read_bytes()
    notes = load(tmp_path / f"c{suffix}").provenance.notes
    assert notes == ("originally read as torch module", "BatchNorm1d '1' folded into the preceding Linear '0'")
    result = CliRunner().invoke(app, ["info", str(tmp_path / f"c{suffix}")])
    assert "BatchNorm1d '1' folded" in result.output
