"""The README's "add your own format" example, run as a plug-in through its entry points."""

import re
import sys
from importlib.metadata import EntryPoint
from pathlib import Path

import numpy as np
import pytest
import skelformats as sf
from skelformats import registry

README = Path(__file__).resolve().parents[1] / "README.md"


def _example():
    text = README.read_text()
    section = text[text.index("## Add your own format") :]
    code = re.search(r"```python\n(.*?)```", section, flags=re.S).group(1)
    toml = re.search(r"```toml\n(.*?)```", section, flags=re.S).group(1)
    return code, toml


def test_readme_plugin_example(monkeypatch, tmp_path):
    code, toml = _example()
    assert len(code.strip().splitlines()) <= 25
    (tmp_path / "my_plugin.py").write_text(code)
    monkeypatch.syspath_prepend(str(tmp_path))
    sf.list_readers()
    sf.list_layouts()
    monkeypatch.setattr(registry, "_READERS", dict(registry._READERS))
    monkeypatch.setattr(registry, "_LAYOUTS", dict(registry._LAYOUTS))
    # the entry points exactly as declared in the README's pyproject snippet
    eps = {}
    group = None
    for line in toml.splitlines():
        m = re.match(r'\[project\.entry-points\."(.+)"\]', line)
        if m:
            group = m.group(1)
        elif "=" in line and group:
            name, value = (s.strip().strip('"') for s in line.split("=", 1))
            eps.setdefault(group, []).append(EntryPoint(name, value, group))
    assert set(eps) == {"skelformats.layouts", "skelformats.readers"}
    monkeypatch.setattr(registry, "_entry_points", lambda g: eps.get(g, []))
    monkeypatch.setattr(registry, "_layout_eps_loaded", False)
    monkeypatch.setattr(registry, "_reader_eps_loaded", False)
    try:
        assert sf.get_layout("stick5").num_joints == 5
        rng = np.random.default_rng(0)
        f = tmp_path / "take.stk"
        np.savetxt(f, rng.normal(size=(4, 15)), header="stick5", comments="#")
        f.write_text(f.read_text().replace("# stick5", "#stick5", 1))
        m = sf.load(f)
        assert m.layout.name == "stick5" and m.num_frames == 4
        k = sf.convert(m, "ntu25")
        assert k.confidence[:, k.layout.index("HandLeft")].all()
        np.testing.assert_allclose(k.data[:, k.layout.index("HandLeft")], m.data[:, 3])
        g = tmp_path / "take.other"
        g.write_bytes(f.read_bytes())
        assert sf.detect_format(g) == "stick5"  # by content
        bad = tmp_path / "bad.stk"
        np.savetxt(bad, rng.normal(size=(2, 12)))
        with pytest.raises(sf.JointCountError, match="bad.stk"):
            sf.load(bad)
    finally:
        sys.modules.pop("my_plugin", None)
