"""--device / --dtype on train, predict and serve (skelbench run: its own tests): bad values and absent devices are
usage errors (exit 2, one line) found before a model loads; the model and renderer move together."""

import pytest
import torch
from helpers import raw_records, tiny_model
from skeletonllm import SkeletonLLM
from skeletonllm.cli import main
from skeletonllm.devices import dtype_arg, resolve_device

NO_CUDA = not torch.cuda.is_available()


@pytest.fixture(scope="module")
def ckpt(tmp_path_factory):
    path = tmp_path_factory.mktemp("dev") / "ck"
    tiny_model(renderer={"frames": 4, "size": [28, 28]}).save_pretrained(path)
    return path


@pytest.fixture(scope="module")
def motion_file(tmp_path_factory):
    import skelformats
    from skelformats import synth

    f = tmp_path_factory.mktemp("motion") / "m.npz"
    skelformats.save(synth.generate("wave", layout="ntu25", seed=0), f)
    return str(f)


def test_default_device_is_cuda_when_available():
    assert resolve_device(None) == ("cpu" if NO_CUDA else "cuda:0")
    assert resolve_device("cpu") == "cpu"
    assert dtype_arg("BF16") == "bfloat16" and dtype_arg("float16") == "float16"


@pytest.mark.parametrize(
    "argv_tail, expected",
    [
        (["--device", "gpu0"], "unknown device 'gpu0'"),
        (["--dtype", "int8"], "unknown dtype 'int8'"),
    ],
)
def test_bad_device_or_dtype_is_a_usage_error(ckpt, motion_file, capsys, argv_tail, expected):
    for argv in (
        ["predict", "--model", str(ckpt), motion_file, *argv_tail],
        ["serve", "--model", str(ckpt), *argv_tail],
    ):
        with pytest.raises(SystemExit) as e:
            main(argv)
        assert e.value.code == 2
        err = capsys.readouterr().err
        assert expected in err and err.count("\n") == 2, err  # message + "(see ...)"


@pytest.mark.skipif(not NO_CUDA, reason="needs a machine without CUDA")
def test_absent_cuda_is_refused_before_loading(ckpt, motion_file, capsys, monkeypatch, tmp_path):
    def boom(*a, **k):
        raise AssertionError("the model was loaded")

    monkeypatch.setattr(SkeletonLLM, "from_pretrained", boom)
    assert main(["predict", "--model", str(ckpt), motion_file, "--device", "cuda"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("skeletonllm predict: error: --device cuda: CUDA is not available")
    assert main(["serve", "--model", str(ckpt), "--device", "cuda:1"]) == 2
    assert "--device cuda:1: CUDA is not available" in capsys.readouterr().err
    cfg = tmp_path / "run.yaml"
    cfg.write_text("model: {backbone: tiny-qwen2vl}\n")
    assert main(["train", str(cfg), "--device", "cuda"]) == 2
    assert not (tmp_path / "out").exists()


def test_predict_in_bfloat16(ckpt, motion_file, capsys):
    rc = main(["predict", "--model", str(ckpt), motion_file, "--device", "cpu", "--dtype", "bf16"])
    assert rc == 0 and capsys.readouterr().out.strip()


def test_from_pretrained_places_model_and_renderer_together(ckpt):
    m = SkeletonLLM.from_pretrained(ckpt, device="cpu", dtype="bfloat16")
    assert {p.dtype for p in m.backbone.parameters()} == {torch.bfloat16}
    assert {p.dtype for p in m.renderer.parameters()} == {torch.float32}  # frames cast at the input
    assert {p.device for p in m.parameters()} == {torch.device("cpu")}
    assert m.config.dtype == "bfloat16"
    batch = m.collator()(raw_records(2))
    with torch.no_grad():
        loss = m(batch)
        ref = SkeletonLLM.from_pretrained(ckpt)(batch)
    assert torch.isfinite(loss) and abs(float(loss) - float(ref)) < 0.05 * float(ref)
    with pytest.raises(ValueError, match="unknown dtype"):
        SkeletonLLM.from_pretrained(ckpt, dtype="float12")


def test_gpucheck_script_runs_shrunk_on_cpu(capsys):
    """The prepared GPU check (Qwen2.5-VL-3B architecture at toy widths here): one LoRA training step
    and a generate, reporting its figures as JSON."""
    import json

    from skeletonllm.gpucheck import QWEN25_VL_3B
    from skeletonllm.gpucheck import main as gpucheck

    assert QWEN25_VL_3B["text"]["hidden_size"] == 2048  # the real widths stay in the script
    argv = ["--shrink", "--models", "qwen2.5-vl-3b", "--device", "cpu", "--size", "56"]
    assert gpucheck([*argv, "--frames", "4", "--new-tokens", "2"]) == 0
    row = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert row["model"] == "qwen2.5-vl-3b" and row["batch"] == 4 and row["dtype"] == "float32"
    assert row["step_s"] > 0 and 0 < row["renderer_share"] and row["loss"] > 0
    assert row["samples_per_s"] > 0 and row["trainable_M"] < row["params_M"]


def test_gpucheck_configs_have_the_published_sizes():
    """Built on the meta device (no memory): the hard-coded configs give Qwen2-VL-2B's 2.21 B and
    Qwen2.5-VL-3B's 3.75 B parameters."""
    from skeletonllm.gpucheck import MODELS, build_backbone

    sizes = {}
    for name, spec in MODELS.items():
        bb = build_backbone(spec, size=(224, 224), dtype=torch.bfloat16, device="meta")
        sizes[name] = round(sum(p.numel() for p in bb.model.parameters()) / 1e9, 2)
    assert sizes == {"qwen2-vl-2b": 2.21, "qwen2.5-vl-3b": 3.75}
