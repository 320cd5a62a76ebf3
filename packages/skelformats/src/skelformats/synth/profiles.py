"""Smooth time profiles: minimum-jerk keyframe tracks and circular bumps for periodic gaits."""

from __future__ import annotations

from collections import defaultdict

import numpy as np


def min_jerk(tau: np.ndarray) -> np.ndarray:
    """Minimum-jerk blend 10τ³ − 15τ⁴ + 6τ⁵ of τ clipped to [0, 1] (zero velocity and acceleration at both ends)."""
    tau = np.clip(tau, 0.0, 1.0)
    return tau**3 * (10.0 + tau * (-15.0 + 6.0 * tau))


def interpolate_keys(t: np.ndarray, times: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Minimum-jerk interpolation through keys ``(times[k], values[k])`` sampled at ``t``; held outside."""
    times = np.asarray(times, float)
    values = np.asarray(values, float)
    if len(times) == 1:
        return np.full(t.shape, values[0])
    k = np.clip(np.searchsorted(times, t, side="right") - 1, 0, len(times) - 2)
    t0, t1 = times[k], times[k + 1]
    span = np.where(t1 > t0, t1 - t0, 1.0)
    tau = np.where(t1 > t0, (t - t0) / span, 1.0)
    out = values[k] + (values[k + 1] - values[k]) * min_jerk(tau)
    out = np.where(t < times[0], values[0], out)
    return np.where(t >= times[-1], values[-1], out)


def bump(phase: np.ndarray, centre: float, width: float) -> np.ndarray:
    """Circular Gaussian bump on a unit-period phase, peak 1 at ``centre``."""
    d = (phase - centre + 0.5) % 1.0 - 0.5
    return np.exp(-0.5 * (d / width) ** 2)


class Script:
    """Builds keyframe tracks for named degrees of freedom (degrees) on a clock in seconds.

    ``move(duration, dof=value, ...)`` blends the named DOFs from their current values to the new ones
    over ``duration`` with a minimum-jerk profile while every other DOF holds; ``hold(duration)``
    advances the clock.  Phases and repetitions are recorded on the same clock.
    """

    def __init__(
        self,
        rest: dict[str, float] | None = None,
        variability: float = 0.0,
        rng: np.random.Generator | None = None,
    ):
        self.t = 0.0
        # people never repeat a movement with the same timing: each move and hold lasts a random
        # factor 1 + variability * N(0, 1) (clipped to [0.6, 1.4]) of its nominal duration
        self.variability = float(variability)
        self.rng = rng if rng is not None else np.random.default_rng(0)
        self.rest = dict(rest or {})
        self.keys: dict[str, list[tuple[float, float]]] = defaultdict(list)
        self.phases: list[dict] = []
        self.repetitions: list[dict] = []

    def value(self, dof: str) -> float:
        keys = self.keys.get(dof)
        return keys[-1][1] if keys else self.rest.get(dof, 0.0)

    def _jitter(self, duration: float) -> float:
        if self.variability <= 0:
            return duration
        return duration * float(
            np.clip(1.0 + self.variability * self.rng.standard_normal(), 0.6, 1.4)
        )

    def move(self, duration: float, exact: bool = False, **targets: float) -> Script:
        """Blend ``targets`` in over ``duration`` seconds (``exact``: no timing variability, e.g. ballistic flight)."""
        if not exact:
            duration = self._jitter(duration)
        for dof, v in targets.items():
            keys = self.keys[dof]
            if not keys or keys[-1][0] < self.t:
                keys.append((self.t, self.value(dof) if keys else self.rest.get(dof, 0.0)))
            keys.append((self.t + duration, float(v)))
        self.t += duration
        return self

    def hold(self, duration: float) -> Script:
        self.t += self._jitter(duration)
        return self

    def phase(self, name: str, start: float, end: float | None = None) -> None:
        self.phases.append(
            {"name": name, "start": float(start), "end": float(self.t if end is None else end)}
        )

    def vary(self, amplitude: float) -> float:
        """One repetition's amplitude: ``amplitude`` times 1 + variability / 2 * N(0, 1), clipped to [0.7, 1.3]."""
        if self.variability <= 0:
            return amplitude
        f = float(np.clip(1.0 + 0.5 * self.variability * self.rng.standard_normal(), 0.7, 1.3))
        return round(amplitude * f, 4)

    def repetition(self, start: float, peak: float, end: float, **extra) -> None:
        self.repetitions.append(
            {"start": float(start), "peak": float(peak), "end": float(end), **extra}
        )

    def evaluate(self, t: np.ndarray) -> dict[str, np.ndarray]:
        """Every scripted DOF sampled at times ``t`` (seconds), in degrees."""
        out = {dof: np.full(t.shape, float(v)) for dof, v in self.rest.items()}
        for dof, keys in self.keys.items():
            times = np.array([k[0] for k in keys])
            values = np.array([k[1] for k in keys])
            out[dof] = interpolate_keys(t, times, values)
        return out


__all__ = ["min_jerk", "interpolate_keys", "bump", "Script"]
