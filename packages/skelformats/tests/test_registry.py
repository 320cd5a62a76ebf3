import sys
import textwrap
from importlib.metadata import EntryPoint
from pathlib import Path

import numpy as np
import pytest
import skelformats as sf
from skelformats import registry
from skelformats.errors import CorruptDataError, UnknownFormatError


@pytest.fixture
def clean_registry(monkeypatch):
    sf.list_readers()  # make sure the built-ins are in before taking the snapshot
    sf.list_layouts()
    monkeypatch.setattr(registry, "_READERS", dict(registry._READERS))
    monkeypatch.setattr(registry, "_WRITERS", dict(registry._WRITERS))
    monkeypatch.setattr(registry, "_LAYOUTS", dict(registry._LAYOUTS))


def _tiny_reader(path: Path) -> sf.Motion:
    rows = [
        list(map(float, line.split())) for line in path.read_text().splitlines()[1:] if line.strip()
    ]
    return sf.Motion(np.asarray(rows).reshape(len(rows), 2, 3), "tiny2")


def _register_tiny():
    sf.register_layout(sf.Layout(name="tiny2", joints=("pelvis", "head"), parents=(-1, 0)))
    sf.register_reader(
        "tiny", extensions=(".tiny",), sniff=lambda p, head: head.startswith(b"TINY")
    )(_tiny_reader)


def test_dispatch_by_extension_content_and_name(clean_registry, tmp_path):
    _register_tiny()
    body = "TINY\n0 0 0 0 1 0\n0 0 1 0 1 1\n"
    (tmp_path / "a.tiny").write_text(body)
    (tmp_path / "a.txt.bak").write_text(body)  # unknown extension: found by content
    (tmp_path / "noext").write_text("0 0 0 0 1 0\n0 0 0 0 1 0\n")
    assert sf.load(tmp_path / "a.tiny").num_frames == 2
    assert sf.detect_format(tmp_path / "a.txt.bak") == "tiny"
    assert sf.load(tmp_path / "a.txt.bak").meta["format"] == "tiny"
    with pytest.raises(UnknownFormatError, match="noext"):
        sf.load(tmp_path / "noext")
    # an explicit format skips detection (the first line is skipped by the reader)
    assert sf.load(tmp_path / "noext", format="tiny").num_frames == 1
    with pytest.raises(UnknownFormatError, match="no_such_format"):
        sf.load(tmp_path / "a.tiny", format="no_such_format")


def test_reader_bare_errors_become_specific(clean_registry, tmp_path):
    _register_tiny()
    (tmp_path / "bad.tiny").write_text(
        "TINY\n0 0 0 0 1\n"
    )  # 5 numbers: reshape fails inside the reader
    with pytest.raises(CorruptDataError, match="bad.tiny") as e:
        sf.load(tmp_path / "bad.tiny")
    assert e.value.path == str(tmp_path / "bad.tiny")
    (tmp_path / "short.tiny").write_text("TINY\n0 0 0\n")
    with pytest.raises(sf.SkelFormatError, match="short.tiny"):
        sf.load(tmp_path / "short.tiny")


def test_unknown_format_names_file(tmp_path):
    p = tmp_path / "mystery.xyz"
    p.write_bytes(b"\x00\x01garbage")
    with pytest.raises(UnknownFormatError) as e:
        sf.load(p)
    assert "mystery.xyz" in str(e.value) and e.value.path == str(p)
    m = sf.Motion(np.zeros((1, 25, 3)), "ntu25")
    with pytest.raises(UnknownFormatError, match="out.xyz"):
        sf.save(m, tmp_path / "out.xyz")


def test_content_beats_extension(tmp_path):
    m = sf.Motion(np.random.default_rng(0).normal(size=(3, 25, 3)), "ntu25")
    sf.save(m, tmp_path / "m.npz")
    (tmp_path / "m.json").write_bytes((tmp_path / "m.npz").read_bytes())
    assert sf.detect_format(tmp_path / "m.json") == "npz"


def test_entry_points(clean_registry, monkeypatch, tmp_path):
    mod = tmp_path / "skf_plugin_demo.py"
    mod.write_text(
        textwrap.dedent("""
        import numpy as np
        import skelformats as sf

        STICK = sf.Layout(name="stick3", joints=("pelvis", "neck", "head"), parents=(-1, 0, 1))

        def layouts():
            return [STICK]

        @sf.register_reader("stick", extensions=(".stick",))
        def read_stick(path):
            vals = np.loadtxt(path, ndmin=2)
            return sf.Motion(vals.reshape(len(vals), 3, 3), "stick3", fps=25)
    """)
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    eps = {
        "skelformats.layouts": [
            EntryPoint("stick", "skf_plugin_demo:layouts", "skelformats.layouts")
        ],
        "skelformats.readers": [EntryPoint("stick", "skf_plugin_demo", "skelformats.readers")],
    }
    monkeypatch.setattr(registry, "_entry_points", lambda group: eps.get(group, []))
    monkeypatch.setattr(registry, "_layout_eps_loaded", False)
    monkeypatch.setattr(registry, "_reader_eps_loaded", False)
    assert "stick3" in sf.list_layouts()
    (tmp_path / "walk.stick").write_text("0 0 0 0 1 0 0 1.5 0\n0 0 1 0 1 1 0 1.5 1\n")
    m = sf.load(tmp_path / "walk.stick")
    assert m.layout.name == "stick3" and m.num_frames == 2 and m.fps == 25
    out = sf.convert(m, "ntu25")
    assert out.confidence[:, out.layout.index("Head")].all()
    sys.modules.pop("skf_plugin_demo", None)


def test_broken_entry_point_warns(clean_registry, monkeypatch):
    eps = {
        "skelformats.layouts": [EntryPoint("broken", "skf_no_such_module:x", "skelformats.layouts")]
    }
    monkeypatch.setattr(registry, "_entry_points", lambda group: eps.get(group, []))
    monkeypatch.setattr(registry, "_layout_eps_loaded", False)
    with pytest.warns(sf.SkelFormatWarning, match="broken"):
        names = sf.list_layouts()
    assert "ntu25" in names


def test_builtin_readers_present():
    readers = sf.list_readers()
    for name in ("npz", "bvh", "amc", "asf", "nwucla"):
        assert name in readers
    assert {"npz", "bvh"} <= set(sf.list_writers())
