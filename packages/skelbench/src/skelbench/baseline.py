"""The reference classifier: a small spatial-temporal GCN (ST-GCN style, Yan et al. 2018) trained
on the same split in the same run under a fixed CPU-time budget.

Every input is first converted to one layout with ``skelformats.convert`` (default ``ntu25``), so
one network reads all formats; joints the source lacks arrive with confidence 0, which is an input
channel. It exposes the model's evaluation interface (``score`` / ``generate``) so the runner
treats it exactly like a SkeletonLLM."""

from __future__ import annotations

import json
import math
import os
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

DEFAULT_LAYOUT = "ntu25"
DEFAULT_LAYOUT_2D = "coco17"  # 2D data cannot be lifted to 3D; such tasks run in 2D
FRAMES = 32


# --------------------------------------------------------------------------- features


def to_layout(motion, layout: str):
    """``skelformats.convert`` unless the motion is already in ``layout``."""
    import skelformats

    if motion.layout.name == layout:
        return motion
    if motion.dims == 3 and skelformats.get_layout(layout).dims == 2:
        # Orthographic view along z, the same for training and test inputs.
        return skelformats.convert(motion, layout, project="xy")
    return skelformats.convert(motion, layout)


def features(
    motion, layout: str = DEFAULT_LAYOUT, dims: int = 3, frames: int = FRAMES
) -> np.ndarray:
    """(dims + 1, frames, J) float32: coordinates centred and scaled per sequence, resampled to a
    fixed length, plus the confidence channel. 2D sources get z = 0 when dims == 3."""
    m = to_layout(motion, layout)
    if m.data.ndim == 4:  # several people: the first one
        m = m.person(0)
    x = m.data.astype(np.float64)
    conf = m.confidence_or_ones().astype(np.float64)
    if x.shape[-1] < dims:
        x = np.concatenate([x, np.zeros(x.shape[:-1] + (dims - x.shape[-1],))], -1)
    x = x[..., :dims]
    obs = conf > 0
    if obs.any():
        centre = x[obs].mean(0)
        scale = np.sqrt(((x[obs] - centre) ** 2).sum(-1).mean()) + 1e-6
    else:
        centre, scale = np.zeros(dims), 1.0
    x = np.where(obs[..., None], (x - centre) / scale, 0.0)
    t = np.linspace(0, len(x) - 1, frames)
    lo = np.floor(t).astype(int)
    hi = np.minimum(lo + 1, len(x) - 1)
    w = (t - lo)[:, None, None]
    x = (1 - w) * x[lo] + w * x[hi]
    c = np.minimum(conf[lo], conf[hi])
    out = np.concatenate([x, c[..., None]], -1)  # (F, J, dims+1)
    return np.ascontiguousarray(out.transpose(2, 0, 1), dtype=np.float32)


def adjacency(layout: str) -> np.ndarray:
    """(2, J, J): identity and the symmetrically normalised neighbour matrix of the skeleton."""
    import skelformats

    lay = skelformats.get_layout(layout)
    J = lay.num_joints
    a = np.zeros((J, J))
    for i, j in np.asarray(lay.edges).reshape(-1, 2):
        a[i, j] = a[j, i] = 1.0
    d = a.sum(1)
    dinv = np.where(d > 0, 1.0 / np.sqrt(np.maximum(d, 1e-9)), 0.0)
    return np.stack([np.eye(J), dinv[:, None] * a * dinv[None, :]]).astype(np.float32)


# --------------------------------------------------------------------------- network


class GraphConv(nn.Module):
    """x (N, C, T, J) -> (N, C_out, T, J): one 1x1 conv per adjacency partition, summed."""

    def __init__(self, c_in: int, c_out: int, A: torch.Tensor):
        super().__init__()
        # Derived from the layout on construction, so not part of the saved state.
        self.register_buffer("A", A.clone(), persistent=False)
        self.edge_importance = nn.Parameter(torch.ones_like(A))
        self.conv = nn.Conv2d(c_in, c_out * A.shape[0], 1)
        self.k = A.shape[0]

    def forward(self, x):
        n, _, t, j = x.shape
        y = self.conv(x).view(n, self.k, -1, t, j)
        return torch.einsum("nkctv,kvw->nctw", y, self.A * self.edge_importance)


class STBlock(nn.Module):
    def __init__(self, c_in, c_out, A, stride=1, kernel=9):
        super().__init__()
        self.gcn = GraphConv(c_in, c_out, A)
        self.tcn = nn.Sequential(
            nn.BatchNorm2d(c_out),
            nn.ReLU(),
            nn.Conv2d(c_out, c_out, (kernel, 1), (stride, 1), (kernel // 2, 0)),
            nn.BatchNorm2d(c_out),
        )
        if c_in == c_out and stride == 1:
            self.res = nn.Identity()
        else:
            self.res = nn.Sequential(nn.Conv2d(c_in, c_out, 1, (stride, 1)), nn.BatchNorm2d(c_out))

    def forward(self, x):
        return torch.relu(self.tcn(self.gcn(x)) + self.res(x))


class STGCN(nn.Module):
    """(N, C, T, J) -> logits (N, num_classes)."""

    def __init__(self, in_channels: int, num_classes: int, A: np.ndarray, width: int = 32):
        super().__init__()
        At = torch.as_tensor(A)
        J = At.shape[-1]
        self.data_bn = nn.BatchNorm1d(in_channels * J)
        self.blocks = nn.ModuleList(
            [
                STBlock(in_channels, width, At),
                STBlock(width, width, At),
                STBlock(width, 2 * width, At, stride=2),
                STBlock(2 * width, 2 * width, At),
            ]
        )
        self.fc = nn.Linear(2 * width, num_classes)

    def forward(self, x):
        n, c, t, j = x.shape
        x = (
            self.data_bn(x.permute(0, 1, 3, 2).reshape(n, c * j, t))
            .view(n, c, j, t)
            .permute(0, 1, 3, 2)
        )
        for b in self.blocks:
            x = b(x)
        return self.fc(x.mean(dim=(2, 3)))


# --------------------------------------------------------------------------- classifier


@dataclass
class BaselineConfig:
    classes: list[str]
    layout: str = DEFAULT_LAYOUT
    dims: int = 3
    frames: int = FRAMES
    width: int = 32
    budget_s: float = 60.0
    max_epochs: int = 200
    lr: float = 5e-3
    batch_size: int = 16
    seed: int = 0


def _augment(x: torch.Tensor, g: torch.Generator, dims: int) -> torch.Tensor:
    """Random rotation (about every axis for 3D, in-plane for 2D) and scale of the coordinates."""
    n = x.shape[0]
    coords, conf = x[:, :dims], x[:, dims:]
    ang = (torch.rand(n, 3, generator=g) - 0.5) * (math.pi / 6)
    if dims == 3:
        ang[:, 1] *= 3  # the body may face anywhere around the vertical axis
    cx, cy, cz = torch.cos(ang).unbind(1)
    sx, sy, sz = torch.sin(ang).unbind(1)
    o, z = torch.ones(n), torch.zeros(n)
    rz = torch.stack([cz, -sz, z, sz, cz, z, z, z, o], 1).view(n, 3, 3)
    if dims == 3:
        rx = torch.stack([o, z, z, z, cx, -sx, z, sx, cx], 1).view(n, 3, 3)
        ry = torch.stack([cy, z, sy, z, o, z, -sy, z, cy], 1).view(n, 3, 3)
        r = rx @ ry @ rz
    else:
        r = rz[:, :2, :2]
    s = 0.9 + 0.2 * torch.rand(n, 1, 1, generator=g)
    coords = torch.einsum("nij,njtv->nitv", r * s, coords)
    return torch.cat([coords, conf], 1)


class BaselineGCN:
    """ST-GCN classifier with the evaluation interface of SkeletonLLM."""

    model_id = "stgcn-baseline"

    def __init__(self, config: BaselineConfig):
        self.config = config
        torch.manual_seed(config.seed)
        self.net = STGCN(
            config.dims + 1, len(config.classes), adjacency(config.layout), config.width
        )
        self.net.eval()
        self.train_stats: dict = {}

    # -- data
    def featurize(self, motions) -> torch.Tensor:
        c = self.config
        return torch.from_numpy(
            np.stack([features(m, c.layout, c.dims, c.frames) for m in motions])
        )

    # -- training
    def fit(self, motions, labels, *, progress=None) -> dict:
        """Train until the CPU-time budget (process time, seconds) or max_epochs is spent."""
        c = self.config
        x = self.featurize(motions)
        y = torch.as_tensor(np.asarray(labels), dtype=torch.long)
        g = torch.Generator().manual_seed(c.seed)
        torch.manual_seed(c.seed)
        opt = torch.optim.AdamW(self.net.parameters(), lr=c.lr, weight_decay=1e-3)
        t0, cpu0 = time.perf_counter(), time.process_time()
        # Budget in process CPU seconds divided by the threads torch uses, so the figure reads as
        # wall time on an idle machine yet is not stretched by other jobs on shared cores.
        threads = max(1, torch.get_num_threads())
        epochs = steps = 0
        self.net.train()
        loss_v = float("nan")

        def spent() -> bool:
            return (time.process_time() - cpu0) / threads >= c.budget_s

        while epochs < c.max_epochs and not spent():
            perm = torch.randperm(len(x), generator=g)
            for i in range(0, len(x), c.batch_size):
                if steps and spent():  # the budget is checked every step, at least one step runs
                    break
                idx = perm[i : i + c.batch_size]
                if len(idx) < 2:
                    continue
                xb = _augment(x[idx], g, c.dims)
                loss = nn.functional.cross_entropy(self.net(xb), y[idx], label_smoothing=0.1)
                opt.zero_grad()
                loss.backward()
                opt.step()
                steps += 1
                loss_v = float(loss.detach())
            epochs += 1
            if progress is not None:
                progress(epochs, loss_v)
        self.net.eval()
        self.train_stats = {
            "epochs": epochs,
            "steps": steps,
            "train_samples": len(x),
            "final_loss": loss_v,
            "wall_s": time.perf_counter() - t0,
            "cpu_s": time.process_time() - cpu0,
            "budget_s": c.budget_s,
        }
        return self.train_stats

    # -- evaluation interface
    @torch.no_grad()
    def logits(self, motions) -> torch.Tensor:
        out = [self.net(self.featurize(motions[i : i + 64])) for i in range(0, len(motions), 64)]
        return torch.cat(out) if out else torch.zeros(0, len(self.config.classes))

    def score(self, motions, prompts=None, candidates=None) -> torch.Tensor:
        """(B, n_cand) log-probabilities of the candidate class names (all classes if None);
        a candidate the baseline was not trained on gets -inf."""
        logp = torch.log_softmax(self.logits(list(motions)), -1)
        if candidates is None:
            return logp
        cols = []
        for name in candidates:
            if name in self.config.classes:
                cols.append(logp[:, self.config.classes.index(name)])
            else:
                cols.append(torch.full((logp.shape[0],), float("-inf")))
        return torch.stack(cols, 1)

    def generate(self, motions, prompts=None, **kw) -> list[str]:
        idx = self.logits(list(motions)).argmax(-1).tolist()
        return [self.config.classes[i] for i in idx]

    # -- persistence (safetensors + JSON, no pickle)
    def save(self, path: str | Path) -> Path:
        from safetensors.torch import save_file

        path = Path(path)
        path.mkdir(parents=True, exist_ok=True)
        state = {k: v.contiguous() for k, v in self.net.state_dict().items()}
        fd, tmp = tempfile.mkstemp(dir=path, suffix=".tmp")
        os.close(fd)
        save_file(state, tmp)
        os.replace(tmp, path / "baseline.safetensors")
        doc = {"config": asdict(self.config), "train_stats": self.train_stats}
        fd, tmp = tempfile.mkstemp(dir=path, suffix=".tmp")
        with os.fdopen(fd, "w") as f:
            json.dump(doc, f, indent=2)
        os.replace(tmp, path / "baseline.json")
        return path

    @classmethod
    def load(cls, path: str | Path) -> BaselineGCN:
        from safetensors.torch import load_file

        path = Path(path)
        for name in ("baseline.json", "baseline.safetensors"):
            if not (path / name).is_file():
                raise FileNotFoundError(f"{path}: not a baseline directory ({name} missing)")
        doc = json.loads((path / "baseline.json").read_text())
        obj = cls(BaselineConfig(**doc["config"]))
        obj.net.load_state_dict(load_file(str(path / "baseline.safetensors")))
        obj.net.eval()
        obj.train_stats = doc.get("train_stats", {})
        return obj


def train_baseline(
    train_motions,
    train_labels,
    classes,
    *,
    layout=DEFAULT_LAYOUT,
    dims=3,
    budget_s=60.0,
    seed=0,
    max_epochs=200,
    progress=None,
) -> BaselineGCN:
    model = BaselineGCN(
        BaselineConfig(
            list(classes),
            layout=layout,
            dims=dims,
            budget_s=budget_s,
            seed=seed,
            max_epochs=max_epochs,
        )
    )
    model.fit(train_motions, train_labels, progress=progress)
    return model
