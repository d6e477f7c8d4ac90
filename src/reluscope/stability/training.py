"""PyTorch training over the restricted parametrization set, beside an unrestricted baseline.

:class:`RestrictedShallowReLU` parametrizes neuron ``i`` by a direction ``u_i`` (a free
vector in ``R^{d+1}``, normalized in the forward pass) and a signed magnitude ``m_i``:
``(a_i, b_i) = |m_i| u_i / ||u_i||`` and ``c_i = m_i``, so ``|c_i| = ||(a_i, b_i)||``
(condition (i), balanced) holds *by construction*. The affine part ``<w, x> + e`` is
explicit. After every optimizer step, :meth:`RestrictedShallowReLU.project_` restores
conditions (ii)-(iv):

* a neuron whose kink hyperplane has left the box (within ``margin``, normalized) is dead
  there (dropped) or affine there (folded exactly into ``(w, e)``), and its slot re-seeded;
* two neurons with (almost) the same direction are merged (``v = m|m|`` adds up); two with
  (almost) opposite directions are merged through ``relu(-z) = relu(z) - z``, the linear
  remainder going into ``(w, e)``; the freed slot is re-seeded;
* a re-seeded slot gets a random direction whose kink passes through a uniform random
  point of the box and magnitude ``+-reseed_scale``; this changes the realization by at
  most ``reseed_scale^2 * max_Omega |<u, (x, 1)>|`` per slot (nothing when
  ``reseed_scale = 0``: the slot is then an unused zero neuron, which receives no gradient).

:func:`unrestricted_shallow` is the plain ``Linear-ReLU-Linear`` baseline; :func:`train`
trains either with the same data, loss (mean squared error, optional ``l2`` penalty) and
optimizer.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

import numpy as np

from .._results import ResultMixin
from .._validation import check_choice, check_int, check_seed, check_tol
from ..domain import Box
from ..errors import InvalidData, ReluscopeError
from ..network import ReLUNetwork
from ..torch_interop import from_torch
from .restricted import RestrictedShallowNetwork, box_bounds, to_restricted

try:  # torch is an optional extra
    import torch
    from torch import nn
except ImportError:  # pragma: no cover - depends on the environment
    raise ReluscopeError(
        "reluscope.stability.training needs PyTorch, which is not installed: pip install 'reluscope[torch]'"
    ) from None

__all__ = [
    "RestrictedShallowReLU",
    "unrestricted_shallow",
    "module_to_network",
    "train",
    "TrainingHistory",
    "ProjectionStats",
]


@dataclasses.dataclass(frozen=True)
class ProjectionStats(ResultMixin):
    """What one :meth:`RestrictedShallowReLU.project_` call did (neuron counts)."""

    dead: int = 0
    folded_affine: int = 0
    merged_parallel: int = 0
    merged_opposite: int = 0
    reseeded: int = 0

    def __add__(self, other: ProjectionStats) -> ProjectionStats:
        return ProjectionStats(*(getattr(self, f.name) + getattr(other, f.name) for f in dataclasses.fields(self)))

    def __str__(self) -> str:
        return ", ".join(f"{f.name}={getattr(self, f.name)}" for f in dataclasses.fields(self))


class RestrictedShallowReLU(nn.Module):
    """Shallow scalar ReLU network trained inside the restricted set on a box.

    Parameters
    ----------
    input_dim:
        Input dimension ``d``.
    width:
        Number of neuron slots ``m``.
    domain:
        Box ``Omega`` (default ``[-1, 1]^d``).
    seed:
        Seed of the initialization and of re-seeding.
    init_scale:
        Magnitudes start as ``init_scale * N(0, 1)``; default ``width ** -0.25`` (output
        of order 1).
    reseed_scale, merge_tol, margin:
        Projection settings (see the module docstring). ``margin`` is the normalized
        distance a kink must keep from the boundary; ``merge_tol`` the Euclidean distance
        of normalized directions below which neurons are merged.
    dtype:
        Parameter dtype (default float64).
    """

    def __init__(
        self,
        input_dim: int,
        width: int,
        domain: Any = None,
        *,
        seed: int = 0,
        init_scale: float | None = None,
        reseed_scale: float = 1e-2,
        merge_tol: float = 1e-6,
        margin: float = 1e-6,
        dtype: torch.dtype = torch.float64,
    ) -> None:
        super().__init__()
        self.input_dim = check_int(input_dim, "input_dim", minimum=1)
        self.width = check_int(width, "width", minimum=1)
        lo, hi = box_bounds(domain, self.input_dim)
        self.lo, self.hi = lo, hi
        self.reseed_scale = check_tol(reseed_scale, "reseed_scale")
        self.merge_tol = check_tol(merge_tol, "merge_tol")
        self.margin = check_tol(margin, "margin")
        self._rng = check_seed(seed)
        dirs = np.stack([self._random_direction() for _ in range(self.width)])
        scale = self.width ** -0.25 if init_scale is None else float(init_scale)
        mags = scale * self._rng.standard_normal(self.width)
        self.direction = nn.Parameter(torch.tensor(dirs, dtype=dtype))
        self.magnitude = nn.Parameter(torch.tensor(mags, dtype=dtype))
        self.w = nn.Parameter(torch.zeros(self.input_dim, dtype=dtype))
        self.e = nn.Parameter(torch.zeros((), dtype=dtype))

    # ------------------------------------------------------------------ construction
    def _random_direction(self) -> np.ndarray:
        """Unit ``(a, b)`` with ``a`` uniform on the sphere and its kink through a random box point."""
        a = self._rng.standard_normal(self.input_dim)
        a /= np.linalg.norm(a)
        x0 = self._rng.uniform(self.lo, self.hi)
        u = np.append(a, -a @ x0)
        return u / np.linalg.norm(u)

    @classmethod
    def from_restricted(
        cls, net: RestrictedShallowNetwork | ReLUNetwork, domain: Any = None, *, width: int | None = None, **kwargs: Any
    ) -> RestrictedShallowReLU:
        """A module realizing ``net`` on ``domain`` (converted with :func:`to_restricted` first).

        Unused slots become zero-magnitude neurons with a random direction.
        """
        r = to_restricted(net, domain, width=width)
        module = cls(r.input_dim, max(r.width, 1), domain, **kwargs)
        used = r.used
        with torch.no_grad():
            dirs = module.direction.detach().cpu().numpy().copy()
            mags = np.zeros(module.width)
            for i in np.flatnonzero(used):
                v = np.append(r.a[i], r.b[i])
                dirs[i] = v / np.linalg.norm(v)
                mags[i] = r.c[i]
            module.direction.copy_(torch.tensor(dirs))
            module.magnitude.copy_(torch.tensor(mags))
            module.w.copy_(torch.tensor(r.w))
            module.e.fill_(float(r.e))
        return module

    # ------------------------------------------------------------------ realization
    def unit_directions(self) -> torch.Tensor:
        return self.direction / self.direction.norm(dim=1, keepdim=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``(n, d) -> (n, 1)``."""
        u = self.unit_directions()
        pre = x @ u[:, :-1].T + u[:, -1]
        v = self.magnitude * self.magnitude.abs()
        return (torch.relu(pre) @ v + x @ self.w + self.e)[:, None]

    def parameter_norm_sq(self) -> torch.Tensor:
        """``||Theta||_2^2`` of the realized parameters ``(a, b, c, w, e)``: ``sum 2 m_i^2 + ||w||^2 + e^2``."""
        return 2 * (self.magnitude ** 2).sum() + (self.w ** 2).sum() + self.e ** 2

    def to_restricted_network(self) -> RestrictedShallowNetwork:
        """The current parameters as a float64 :class:`RestrictedShallowNetwork`."""
        with torch.no_grad():
            u = self.unit_directions().detach().cpu().double().numpy()
            m = self.magnitude.detach().cpu().double().numpy()
            w = self.w.detach().cpu().double().numpy()
            e = float(self.e.detach().cpu())
        ab = np.abs(m)[:, None] * u
        return RestrictedShallowNetwork(ab[:, :-1], ab[:, -1], m.copy(), w, e)

    def to_network(self) -> ReLUNetwork:
        """Plain :class:`ReLUNetwork` with the same realization on the box (width ``m + 1``
        when the affine part is nonzero)."""
        return self.to_restricted_network().to_network(_box(self))

    # ------------------------------------------------------------------ projection
    @torch.no_grad()
    def project_(self, optimizer: torch.optim.Optimizer | None = None) -> ProjectionStats:
        """Restore conditions (ii)-(iv) in place (see the module docstring).

        ``optimizer`` (optional): its per-parameter state rows of re-seeded neurons are
        zeroed (momentum of a neuron that no longer exists is dropped).
        """
        d = self.input_dim
        dirs = self.direction.detach().cpu().double().numpy().copy()
        u = dirs / np.linalg.norm(dirs, axis=1, keepdims=True)
        m = self.magnitude.detach().cpu().double().numpy().copy()
        w = self.w.detach().cpu().double().numpy().copy()
        e = float(self.e.detach().cpu())
        v = m * np.abs(m)
        center, radius = (self.lo + self.hi) / 2, (self.hi - self.lo) / 2
        mid = u[:, :d] @ center + u[:, d]
        spread = np.abs(u[:, :d]) @ radius
        z_min, z_max = mid - spread, mid + spread
        reseed: list[int] = []
        dead = folded = par = opp = 0
        for i in range(self.width):
            if not np.any(u[i, :d] != 0) or z_max[i] <= self.margin or z_min[i] >= -self.margin:
                if z_max[i] <= self.margin:
                    dead += int(v[i] != 0)
                else:  # affine on the box (a constant neuron included)
                    w += v[i] * u[i, :d]
                    e += v[i] * u[i, d]
                    folded += int(v[i] != 0)
                v[i] = 0.0
                reseed.append(i)
        alive = [i for i in range(self.width) if i not in reseed and v[i] != 0]
        if len(alive) > 1:  # vectorized screen: most steps have no close pair at all
            U = u[alive]
            gram = np.clip(U @ U.T, -1.0, 1.0)
            close = np.sqrt(np.maximum(2 - 2 * np.abs(gram), 0.0)) <= self.merge_tol
            np.fill_diagonal(close, False)
            if not close.any():
                alive = []
        for pos, i in enumerate(alive):
            if i in reseed:
                continue  # merged into an earlier neuron
            for j in alive[pos + 1:]:
                if j in reseed:
                    continue
                if np.linalg.norm(u[i] - u[j]) <= self.merge_tol:
                    v[i] += v[j]
                    par += 1
                elif np.linalg.norm(u[i] + u[j]) <= self.merge_tol:
                    v[i] += v[j]
                    w -= v[j] * u[i, :d]
                    e -= v[j] * u[i, d]
                    opp += 1
                else:
                    continue
                v[j] = 0.0
                reseed.append(j)
        m = np.sign(v) * np.sqrt(np.abs(v))
        for j in reseed:
            u[j] = self._random_direction()
            m[j] = self.reseed_scale * (1.0 if self._rng.random() < 0.5 else -1.0)
        dtype = self.direction.dtype
        self.direction.copy_(torch.tensor(u, dtype=dtype))
        self.magnitude.copy_(torch.tensor(m, dtype=dtype))
        self.w.copy_(torch.tensor(w, dtype=dtype))
        self.e.fill_(e)
        if optimizer is not None and reseed:
            rows = torch.tensor(sorted(set(reseed)), dtype=torch.long)
            for p in (self.direction, self.magnitude):
                for value in optimizer.state.get(p, {}).values():
                    if torch.is_tensor(value) and value.shape[:1] == p.shape[:1] and value.dim() >= 1:
                        value[rows] = 0
        return ProjectionStats(dead, folded, par, opp, len(set(reseed)))


def _box(module: RestrictedShallowReLU) -> Any:
    return Box(module.lo, module.hi)


def unrestricted_shallow(input_dim: int, width: int, seed: int = 0, dtype: torch.dtype = torch.float64) -> nn.Sequential:
    """The unrestricted baseline ``Linear(d, width) - ReLU - Linear(width, 1)`` with PyTorch's
    default initialization drawn from ``seed``."""
    input_dim = check_int(input_dim, "input_dim", minimum=1)
    width = check_int(width, "width", minimum=1)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(check_int(seed, "seed"))
        model = nn.Sequential(nn.Linear(input_dim, width), nn.ReLU(), nn.Linear(width, 1))
    return model.to(dtype)


def module_to_network(model: nn.Module) -> ReLUNetwork:
    """A trained model (restricted module or ``nn.Sequential`` baseline) as a :class:`ReLUNetwork`."""
    if isinstance(model, RestrictedShallowReLU):
        return model.to_network()
    return from_torch(model)


def _parameter_norm_sq(model: nn.Module) -> torch.Tensor:
    if isinstance(model, RestrictedShallowReLU):
        return model.parameter_norm_sq()
    return sum((p ** 2).sum() for p in model.parameters())


@dataclasses.dataclass(frozen=True)
class TrainingHistory(ResultMixin):
    """Per recorded step: training (batch) loss, validation MSE and max error, extras.

    ``records`` holds what the optional ``record`` callback returned at each recorded step.
    """

    steps: tuple[int, ...]
    loss: tuple[float, ...]
    val_mse: tuple[float, ...]
    val_max_error: tuple[float, ...]
    records: tuple[Any, ...]
    projection: ProjectionStats
    final_loss: float

    def __str__(self) -> str:
        last = f"val mse {self.val_mse[-1]:.4g}, max error {self.val_max_error[-1]:.4g}" if self.val_mse else ""
        return f"{len(self.steps)} records; final loss {self.final_loss:.4g}; {last}; projection: {self.projection}"


def train(
    model: nn.Module,
    X: Any,
    y: Any = None,
    *,
    steps: int = 1000,
    lr: float = 1e-3,
    batch_size: int | None = None,
    optimizer: str = "sgd",
    momentum: float = 0.0,
    l2: float = 0.0,
    sampler: Callable[[np.random.Generator, int], tuple[np.ndarray, np.ndarray]] | None = None,
    X_val: Any = None,
    y_val: Any = None,
    record_every: int = 1,
    record: Callable[[int, nn.Module], Any] | None = None,
    project: bool = True,
    seed: int = 0,
) -> TrainingHistory:
    """Train ``model`` on mean squared error (+ ``l2 * ||Theta||_2^2``).

    Parameters
    ----------
    model:
        A :class:`RestrictedShallowReLU` (projected after every step when ``project``) or
        any module mapping ``(n, d)`` to ``(n, 1)`` (the unrestricted baseline).
    X, y:
        Training inputs ``(n, d)`` and targets ``(n,)`` or ``(n, 1)``; minibatches of
        ``batch_size`` are drawn with replacement (full batch when ``None``). Ignored
        when ``sampler`` is given.
    steps, lr, optimizer, momentum:
        ``optimizer`` is ``"sgd"`` (with ``momentum``) or ``"adam"``.
    l2:
        Weight of the penalty ``||Theta||_2^2`` (for the restricted module: of the realized
        parameters ``(a, b, c, w, e)``).
    sampler:
        ``sampler(rng, batch_size) -> (X_batch, y_batch)``: fresh data every step.
    X_val, y_val:
        Validation set for the recorded MSE and max error.
    record_every, record:
        Record every ``record_every`` steps (and after the last); ``record(step, model)``
        may return extra numbers to keep.
    seed:
        Seed of the minibatch draws.

    Returns
    -------
    TrainingHistory
    """
    steps = check_int(steps, "steps")
    lr = check_tol(lr, "lr", positive=True)
    record_every = check_int(record_every, "record_every", minimum=1)
    check_choice(optimizer, ("sgd", "adam"), "optimizer")
    dtype = next(model.parameters()).dtype
    rng = check_seed(seed)
    if sampler is None:
        if X is None or y is None:
            raise InvalidData("train needs X and y, or a sampler")
        Xt = torch.as_tensor(np.asarray(X, dtype=np.float64), dtype=dtype)
        yt = torch.as_tensor(np.asarray(y, dtype=np.float64).reshape(-1, 1), dtype=dtype)
        if Xt.ndim != 2 or Xt.shape[0] != yt.shape[0] or Xt.shape[0] == 0:
            raise InvalidData(f"X must be (n, d) and y (n,) with n >= 1; got shapes {tuple(np.shape(X))} and {tuple(np.shape(y))}")
    if optimizer == "sgd":
        opt: torch.optim.Optimizer = torch.optim.SGD(model.parameters(), lr=lr, momentum=momentum)
    else:
        opt = torch.optim.Adam(model.parameters(), lr=lr)
    has_val = X_val is not None and y_val is not None
    if has_val:
        Xv = torch.as_tensor(np.asarray(X_val, dtype=np.float64), dtype=dtype)
        yv = torch.as_tensor(np.asarray(y_val, dtype=np.float64).reshape(-1, 1), dtype=dtype)
    restricted = isinstance(model, RestrictedShallowReLU)
    stats = ProjectionStats()
    out_steps, losses, mses, maxes, records = [], [], [], [], []
    loss_value = float("nan")

    def _record(step: int) -> None:
        out_steps.append(step)
        losses.append(loss_value)
        if has_val:
            with torch.no_grad():
                err = model(Xv) - yv
            mses.append(float((err ** 2).mean()))
            maxes.append(float(err.abs().max()))
        if record is not None:
            records.append(record(step, model))

    if restricted and project:
        stats = stats + model.project_(opt)
    for step in range(1, steps + 1):
        if sampler is not None:
            xb, yb = sampler(rng, batch_size or 1)
            xb = torch.as_tensor(np.asarray(xb, dtype=np.float64), dtype=dtype)
            yb = torch.as_tensor(np.asarray(yb, dtype=np.float64).reshape(-1, 1), dtype=dtype)
        elif batch_size is None:
            xb, yb = Xt, yt
        else:
            idx = torch.as_tensor(rng.integers(0, Xt.shape[0], size=batch_size))
            xb, yb = Xt[idx], yt[idx]
        opt.zero_grad()
        loss = ((model(xb) - yb) ** 2).mean()
        if l2:
            loss = loss + l2 * _parameter_norm_sq(model)
        loss_value = float(loss.detach())
        if not np.isfinite(loss_value):
            raise ReluscopeError(f"training diverged at step {step} (loss {loss_value}); lower lr={lr}")
        loss.backward()
        opt.step()
        if restricted and project:
            stats = stats + model.project_(opt)
        if step % record_every == 0 or step == steps:
            _record(step)
    if steps == 0:
        _record(0)
    return TrainingHistory(tuple(out_steps), tuple(losses), tuple(mses), tuple(maxes), tuple(records), stats, loss_value)
