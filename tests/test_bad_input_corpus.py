"""Bad-input corpus of the command line (issue 15): hostile files made in code (truncated,
corrupted, wrong dtypes and layouts, unsupported tensor kinds, hostile pickles, extreme
values, bad CSVs, pipes and devices) and bad flags, given to every command.

Each case asserts what a user is promised: exit code 2, exactly one line on stderr that
names the culprit (file, flag or value), no traceback, and no file written. The cases run
in-process through the console entry point :func:`reluscope.cli.main` (an exception other
than the clean exit fails the test); a few run as real processes, where third-party
warnings and blocking reads would show.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import pickle
import struct
import subprocess
import sys
import warnings
import zipfile
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from reluscope import ReLUNetwork, save  # noqa: E402
from reluscope.cli import main  # noqa: E402

MARKER = "reluscope-corpus-payload-ran"


class _Payload:
    """Unpickling this would create a marker file: the safe loaders must never run it."""

    def __reduce__(self):
        return (os.system, (f"touch {MARKER}",))


def _state_dict(**override) -> dict:
    g = torch.Generator().manual_seed(0)
    sd = {"0.weight": torch.randn(4, 3, generator=g), "0.bias": torch.randn(4, generator=g),
          "2.weight": torch.randn(2, 4, generator=g), "2.bias": torch.randn(2, generator=g)}
    sd.update(override)
    return sd


def _module_with(kind: str) -> torch.nn.Sequential:
    """A 3-4-2 ``nn.Sequential`` whose first layer holds a tensor reluscope cannot read as
    dense real values (``kind``: coo, csr, quant, mask_coo, bias_coo)."""
    import torch.nn.utils.prune as prune

    torch.manual_seed(0)
    m = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.ReLU(), torch.nn.Linear(4, 2))
    w = m[0].weight.detach()
    if kind == "coo":
        m[0].weight = torch.nn.Parameter(w.to_sparse())
    elif kind == "csr":
        m[0].weight = torch.nn.Parameter(w.to_sparse_csr())
    elif kind == "quant":
        m[0].weight = torch.nn.Parameter(torch.quantize_per_tensor(w, 0.1, 0, torch.qint8), requires_grad=False)
    elif kind == "mask_coo":
        prune.l1_unstructured(m[0], "weight", amount=0.5)
        m[0].weight_mask = m[0].weight_mask.to_sparse()
    elif kind == "bias_coo":
        m[0].bias = torch.nn.Parameter(m[0].bias.detach().to_sparse())
    return m


def _write_bad_models(d: Path) -> dict[str, Path]:
    """Every hostile model file, by a short name (the name is what the error must mention)."""
    files: dict[str, Path] = {}

    def torch_file(name: str, obj) -> None:
        torch.save(obj, d / name)
        files[name] = d / name

    good = ReLUNetwork.random((3, 4, 2), seed=0)
    save(good, d / "ok.npz")
    save(good, d / "ok.safetensors")
    torch.save(_state_dict(), d / "ok.pt")
    raw = (d / "ok.pt").read_bytes()

    (d / "empty.pt").write_bytes(b"")
    (d / "noise.pt").write_bytes(np.random.default_rng(0).bytes(512))
    (d / "trunc.pt").write_bytes(raw[: len(raw) // 2])
    (d / "trunc.npz").write_bytes((d / "ok.npz").read_bytes()[:200])
    st = (d / "ok.safetensors").read_bytes()
    (d / "trunc.safetensors").write_bytes(st[: len(st) - 16])
    (n,) = struct.unpack("<Q", st[:8])
    (d / "badheader.safetensors").write_bytes(st[:8] + b"{" + b"x" * (n - 1) + st[8 + n:])
    (d / "bigheader.safetensors").write_bytes(struct.pack("<Q", 2**40) + b"{}")
    (d / "garbage.onnx").write_bytes(b"\x08\x07\x12" + b"\xff" * 64)
    (d / "text.npz").write_text("this is not a model\n")
    with zipfile.ZipFile(d / "otherzip.npz", "w") as zf:
        zf.writestr("readme.txt", "hello")
    np.savez(d / "strings.npz", **{"0.weight": np.array([["a", "b"]]), "0.bias": np.array(["c"])})
    np.savez(d / "objects.npz", **{"0.weight": np.array([None, 1], dtype=object)})
    np.savez(d / "nan.npz", **{"0.weight": np.full((4, 3), np.nan), "0.bias": np.zeros(4),
                               "2.weight": np.ones((2, 4)), "2.bias": np.zeros(2)})
    np.savez(d / "inf.npz", **{"0.weight": np.full((4, 3), np.inf), "0.bias": np.zeros(4),
                               "2.weight": np.ones((2, 4)), "2.bias": np.zeros(2)})
    np.savez(d / "chain.npz", **{"0.weight": np.ones((4, 3)), "0.bias": np.zeros(4),
                                 "2.weight": np.ones((2, 5)), "2.bias": np.zeros(2)})
    np.savez(d / "cube.npz", **{"0.weight": np.ones((4, 3, 2)), "0.bias": np.zeros(4)})
    with open(d / "payload.pt", "wb") as fh:
        pickle.dump({"0.weight": _Payload()}, fh, protocol=2)
    with warnings.catch_warnings():  # torch warns that sparse CSR and quantized tensors are beta / deprecated
        warnings.simplefilter("ignore")
        torch_file("sparse_coo.pt", _state_dict(**{"0.weight": torch.randn(4, 3).to_sparse()}))
        torch_file("sparse_csr.pt", _state_dict(**{"0.weight": torch.randn(4, 3).to_sparse_csr()}))
        q = torch.quantize_per_tensor(torch.randn(4, 3), 0.1, 0, torch.qint8)
        torch_file("quant.pt", _state_dict(**{"0.weight": q}))
    torch_file("meta.pt", _state_dict(**{"0.weight": torch.empty(4, 3, device="meta")}))
    with warnings.catch_warnings():  # modules (torch.save(model)) holding the same tensor kinds (issue 24)
        warnings.simplefilter("ignore")
        for name, layout in (("module_coo.pt", "coo"), ("module_csr.pt", "csr"), ("module_quant.pt", "quant"),
                             ("module_mask_coo.pt", "mask_coo"), ("module_bias_coo.pt", "bias_coo")):
            torch_file(name, _module_with(layout))
        torch_file("module_meta.pt", torch.nn.Sequential(torch.nn.Linear(3, 4, device="meta"), torch.nn.ReLU(),
                                                         torch.nn.Linear(4, 2, device="meta")))
    torch_file("complex.pt", _state_dict(**{"0.weight": torch.randn(4, 3, dtype=torch.complex64)}))
    torch_file("nested.pt", {"a": {"b": [_state_dict()]}})
    torch_file("stringentry.pt", _state_dict(**{"0.weight": "weights"}))
    torch_file("nanweights.pt", _state_dict(**{"0.weight": torch.full((4, 3), float("nan"))}))
    torch_file("badchain.pt", _state_dict(**{"2.weight": torch.randn(2, 7)}))
    (d / "adir.pt").mkdir()
    os.mkfifo(d / "fifo.pt")
    for name in ("empty.pt", "noise.pt", "trunc.pt", "trunc.npz", "trunc.safetensors", "badheader.safetensors",
                 "bigheader.safetensors", "garbage.onnx", "text.npz", "otherzip.npz", "strings.npz", "objects.npz",
                 "nan.npz", "inf.npz", "chain.npz", "cube.npz", "payload.pt", "adir.pt", "fifo.pt"):
        files[name] = d / name
    files["missing.pt"] = d / "missing.pt"
    return files


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> tuple[Path, dict[str, Path]]:
    d = tmp_path_factory.mktemp("corpus")
    return d, _write_bad_models(d)


BAD_MODELS = ("empty.pt", "noise.pt", "trunc.pt", "trunc.npz", "trunc.safetensors", "badheader.safetensors",
              "bigheader.safetensors", "garbage.onnx", "text.npz", "otherzip.npz", "strings.npz", "objects.npz",
              "nan.npz", "inf.npz", "chain.npz", "cube.npz", "payload.pt", "sparse_coo.pt", "sparse_csr.pt",
              "meta.pt", "quant.pt", "complex.pt", "nested.pt", "stringentry.pt", "nanweights.pt", "badchain.pt",
              "adir.pt", "fifo.pt", "missing.pt", "module_coo.pt", "module_csr.pt", "module_quant.pt",
              "module_mask_coo.pt", "module_bias_coo.pt", "module_meta.pt")

# {bad} is the hostile model, {ok} a good one of the same widths, {out} a path in a fresh folder
MODEL_COMMANDS = (
    ("info", "{bad}"),
    ("analyze", "{bad}", "-o", "{out}", "--time-limit", "5"),
    ("check-pattern", "{bad}", "--time-limit", "2"),
    ("inspect", "{bad}", "--time-limit", "1"),
    ("canonicalize", "{bad}", "-o", "{out}/c.npz"),
    ("distance", "{ok}", "{bad}", "--time-limit", "1"),
    ("compare", "{bad}", "{ok}", "-o", "{out}/aligned.npz"),
    ("merge", "{ok}", "{bad}", "-o", "{out}/merged.npz"),
)


def run_cli(args: list[str], cwd: Path) -> tuple[int, str]:
    """Run the console entry point in-process; returns (exit code, stderr)."""
    err, out = io.StringIO(), io.StringIO()
    old_argv, old_cwd = sys.argv, os.getcwd()
    sys.argv = ["reluscope", *args]
    os.chdir(cwd)
    try:
        with contextlib.redirect_stderr(err), contextlib.redirect_stdout(out):
            try:
                main()
                code = 0
            except SystemExit as exc:
                code = exc.code if isinstance(exc.code, int) else 1
    finally:
        sys.argv = old_argv
        os.chdir(old_cwd)
    return code, err.getvalue()


def assert_refused(args: list[str], cwd: Path, culprit: str) -> None:
    out_dir = cwd / "out"
    out_dir.mkdir(exist_ok=True)
    args = [a.replace("{out}", str(out_dir)) for a in args]
    code, err = run_cli(args, cwd)
    lines = err.strip().splitlines()
    assert code == 2, (args, code, err)
    assert len(lines) == 1, (args, err)
    assert "Traceback" not in err
    assert culprit.lower() in lines[0].lower(), (args, culprit, lines[0])
    assert not any(out_dir.iterdir()), (args, sorted(p.name for p in out_dir.iterdir()))
    assert not (cwd / MARKER).exists(), "a pickle payload was executed"


@pytest.mark.parametrize("bad", BAD_MODELS)
@pytest.mark.parametrize("command", MODEL_COMMANDS, ids=lambda c: c[0])
def test_hostile_model_file_is_refused_in_one_line(corpus, tmp_path, command, bad) -> None:
    d, files = corpus
    args = [a.replace("{bad}", str(files[bad])).replace("{ok}", str(d / "ok.npz")) for a in command]
    assert_refused(args, tmp_path, bad)


TIME_LIMIT_VALUES = ("nan", "inf", "-inf", "-1", "0", "1e300", "abc", "")
TIME_LIMIT_COMMANDS = (
    ("analyze", "{ok}", "-o", "{out}"),
    ("check-pattern", "{ok}"),
    ("distance", "{ok}", "{ok}"),
    ("sweep-patterns", "--shape", "2x2x2", "--samples", "1", "-o", "{out}"),
)


@pytest.mark.parametrize("value", TIME_LIMIT_VALUES)
@pytest.mark.parametrize("command", TIME_LIMIT_COMMANDS, ids=lambda c: c[0])
def test_bad_time_limit_is_refused_by_every_command(corpus, tmp_path, command, value) -> None:
    d, _ = corpus
    args = [a.replace("{ok}", str(d / "ok.npz")) for a in command] + ["--time-limit", value]
    assert_refused(args, tmp_path, "time-limit" if value in ("abc", "") else "time_limit")


def _write_bad_csvs(d: Path) -> dict[str, str]:
    csvs = {
        "ragged.csv": "a,b,c,label\n1,2,3,0\n1,2,0\n",
        "nonnumeric.csv": "a,b,c,label\n1,x,3,0\n",
        "emptyfile.csv": "",
        "headeronly.csv": "a,b,c,label\n",
        "nanvalue.csv": "a,b,c,label\n1,nan,3,0\n",
        "infvalue.csv": "a,b,c,label\n1,inf,3,0\n",
        "nolabel.csv": "a,b,c\n1,2,3\n",
        "wide.csv": "a,b,c,d,e,label\n1,2,3,4,5,0\n",
        "emptylabel.csv": "a,b,c,label\n1,2,3,\n",
    }
    for name, text in csvs.items():
        (d / name).write_text(text)
    (d / "binary.csv").write_bytes(b"\xff\xfe\x00\x81" * 64)
    os.mkfifo(d / "fifo.csv")
    (d / "adir.csv").mkdir()
    return {**{n: n for n in csvs}, "binary.csv": "binary.csv", "fifo.csv": "fifo.csv", "adir.csv": "adir.csv",
            "missing.csv": "missing.csv"}


@pytest.fixture(scope="module")
def csv_corpus(tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("csv")
    _write_bad_csvs(d)
    save(ReLUNetwork.random((3, 4, 2), seed=0), d / "ok.npz")
    return d


BAD_CSVS = ("ragged.csv", "nonnumeric.csv", "emptyfile.csv", "headeronly.csv", "nanvalue.csv", "infvalue.csv",
            "nolabel.csv", "wide.csv", "emptylabel.csv", "binary.csv", "fifo.csv", "adir.csv", "missing.csv")


@pytest.mark.parametrize("bad", BAD_CSVS)
@pytest.mark.parametrize("command", ("analyze", "construct", "distance"))
def test_hostile_csv_is_refused_in_one_line(csv_corpus, tmp_path, command, bad) -> None:
    d = csv_corpus
    data, model = str(d / bad), str(d / "ok.npz")
    if command == "analyze":
        args = ["analyze", model, "--data", data, "--label-column", "label", "-o", "{out}", "--time-limit", "5"]
    elif command == "construct":
        if bad == "wide.csv":
            pytest.skip("any number of features is valid for construct")
        args = ["construct", data, "--label-column", "label", "-o", "{out}/net.npz"]
    else:
        if bad in ("nolabel.csv", "emptylabel.csv"):
            pytest.skip("distance ignores the label column")
        args = ["distance", model, model, "--data", data, "--radius", "0.1", "--time-limit", "1"]
    assert_refused(args, tmp_path, bad)


OTHER_FLAGS = (
    (["analyze", "{ok}", "--sections", ","], "--sections"),
    (["analyze", "{ok}", "--sections", "bogus"], "bogus"),
    (["analyze", "{ok}", "--domain", "2,1"], "2"),
    (["analyze", "{ok}", "--domain", "nan,1"], "nan"),
    (["analyze", "{ok}", "--seed", "-3"], "seed"),
    (["sweep-patterns", "--shape", "100000x100000x100000", "--samples", "1"], "100000x100000x100000"),
    (["sweep-patterns", "--shape", "3x0x3"], "3x0x3"),
    (["sweep-patterns", "--shape", "axb"], "axb"),
    (["sweep-patterns", "--density", "1.5"], "density"),
    (["sweep-patterns", "--density", "nan"], "density"),
    (["sweep-patterns", "--samples", "0"], "samples"),
    (["distance", "{ok}", "{ok}", "--method", "magic"], "magic"),
    (["distance", "{ok}", "{ok}", "--norm", "l7"], "l7"),
    (["distance", "{ok}", "{ok}", "--domain", "1,1"], "1"),
    (["merge", "{ok}", "{ok}", "-o", "{out}/m.npz", "--alpha", "nan"], "alpha"),
    (["merge", "{ok}", "{ok}", "-o", "{out}/m.npz", "--alpha", "inf"], "alpha"),
    (["compare", "{ok}", "{ok}", "--tol", "-1"], "tol"),
    (["check-pattern", "10/11;1x/01"], "1x"),
    (["check-pattern", "10/11;111"], "layer 2"),
    (["check-pattern", "{ok}", "--output", "{out}/x.npz"], "--output"),
    (["canonicalize", "{ok}", "-o", "{out}/nodir/x.npz"], "nodir"),
    (["reproduce", "no-such-experiment", "-o", "{out}"], "no-such-experiment"),
)


@pytest.mark.parametrize("args,culprit", OTHER_FLAGS, ids=lambda v: " ".join(v) if isinstance(v, list) else None)
def test_bad_flag_is_refused_in_one_line(csv_corpus, tmp_path, args, culprit) -> None:
    args = [a.replace("{ok}", str(csv_corpus / "ok.npz")) for a in args]
    assert_refused(args, tmp_path, culprit)


@pytest.mark.parametrize("name", ("sparse_csr.pt", "quant.pt", "fifo.pt", "payload.pt", "module_coo.pt"))
def test_real_process_prints_one_line_without_warnings_or_hanging(corpus, tmp_path, name) -> None:
    d, files = corpus
    proc = subprocess.run([sys.executable, "-m", "reluscope", "info", str(files[name])], capture_output=True,
                          text=True, cwd=tmp_path, timeout=120)
    assert proc.returncode == 2, proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1 and name in proc.stderr, proc.stderr
    assert not (tmp_path / MARKER).exists()


def test_certificate_round_trip_and_malformed_json(tmp_path) -> None:
    from reluscope.errors import InvalidCertificate
    from reluscope.sparsity import SparsityPattern, certificate_from_dict, is_closed, verify

    for text in ("10/11;11/01", "11/11;10;0/1/1", "11/11;11/11"):
        v = is_closed(SparsityPattern.from_text(text), time_limit=10)
        back = certificate_from_dict(json.loads(json.dumps(v.certificate.to_dict())))
        assert type(back) is type(v.certificate) and verify(back).valid is True
    for bad in ({"kind": "not-closed", "pattern": "10/11;11/01", "limit": [["1/0"]], "factors": []},
                {"kind": "closed"}, {"kind": "closed", "pattern": "10/11", "rule": "dense", "details": 5},
                {"kind": "other"}, ["closed"]):
        with pytest.raises(InvalidCertificate):
            verify(bad)


def test_third_party_warnings_are_captured_not_printed(corpus, tmp_path, monkeypatch) -> None:
    import reluscope.io.formats as formats

    original = formats.detect_format

    def noisy(path):
        warnings.warn("a third-party notice", UserWarning)
        np.float64(1.0) / np.float64(0.0)  # NumPy RuntimeWarning: divide by zero
        return original(path)

    def to_stderr(message, category, filename, lineno, file=None, line=None):
        sys.stderr.write(warnings.formatwarning(message, category, filename, lineno, line))

    monkeypatch.setattr(formats, "detect_format", noisy)
    d, _ = corpus
    with warnings.catch_warnings():  # as outside pytest: warnings shown on stderr
        warnings.simplefilter("always")
        warnings.showwarning = to_stderr
        code, err = run_cli(["info", str(d / "ok.npz")], tmp_path)
        assert code == 0 and "Warning" not in err and "notice" not in err, err
        code, err = run_cli(["info", str(d / "empty.pt")], tmp_path)
        assert code == 2 and len(err.strip().splitlines()) == 1 and "Warning" not in err, err


MODULE_TENSORS = (("module_coo.pt", "weight is sparse (sparse_coo)"), ("module_csr.pt", "weight is sparse (sparse_csr)"),
                  ("module_quant.pt", "weight is quantized"), ("module_mask_coo.pt", "weight_mask is sparse"),
                  ("module_bias_coo.pt", "bias is sparse"), ("module_meta.pt", "weight is on the meta device"))


@pytest.mark.parametrize("name,what", MODULE_TENSORS)
def test_module_with_unreadable_tensor_names_the_file_layer_and_tensor(corpus, tmp_path, name, what) -> None:
    """A saved nn.Sequential goes through the same tensor check as a state dict (issue 24):
    one line naming the file, the layer and the tensor, and how to convert it."""
    _, files = corpus
    code, err = run_cli(["info", str(files[name])], tmp_path)
    assert code == 2 and len(err.strip().splitlines()) == 1, err
    assert f"{files[name]}: layer '0' (Linear) {what}" in err
