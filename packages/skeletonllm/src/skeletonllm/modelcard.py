"""The model card (``README.md``) of a saved checkpoint: Hub metadata plus what a reader needs to judge
the model: backbone, renderer, training data and recipe, measured figures, the labels it was trained on.

``info`` (``SkeletonLLM.card_info``) is filled by whoever trains or evaluates: ``data`` (a description or
settings dict), ``recipe`` (path or settings), ``stages`` (list of dicts), ``metrics`` (name -> number).
"""

from __future__ import annotations

import json
from pathlib import Path

from .config import SkeletonLLMConfig

CARD_INFO = "card.json"


def _is_hub_id(name: str) -> bool:
    from .hub import is_hub_id

    return is_hub_id(name)


def _block(value) -> str:
    if isinstance(value, str):
        return value
    return "```json\n" + json.dumps(value, indent=1, default=str) + "\n```"


def render(config: SkeletonLLMConfig, info: dict | None = None, *, name: str | None = None) -> str:
    """Model card text (YAML front matter through ``huggingface_hub.ModelCardData``)."""
    from huggingface_hub import ModelCard, ModelCardData

    info = dict(info or {})
    lora = config.lora
    data = ModelCardData(
        library_name="skeletonllm",
        base_model=config.backbone if _is_hub_id(config.backbone) else None,
        tags=["skeleton", "action-recognition", "skeletonllm"] + (["lora"] if lora.enabled else []),
        pipeline_tag="video-text-to-text",
    )
    r = config.renderer
    lines = [
        f"# {name or 'SkeletonLLM'}",
        "",
        "A skeleton-sequence language model: the DrAction renderer draws the motion into frames that a "
        "vision-language backbone reads. Load it with `SkeletonLLM.from_pretrained(...)` "
        "(package `skeletonllm`).",
        "",
        "## Backbone",
        "",
        f"- backbone: `{config.backbone}`"
        + (
            ""
            if _is_hub_id(config.backbone)
            else " (built into skeletonllm; weights in `backbone/`)"
        ),
        f"- dtype: {config.dtype or 'float32'}",
        f"- trainable groups: {', '.join(config.trainable)}",
    ]
    if lora.enabled:
        lines.append(
            f"- LoRA: r={lora.r}, alpha={lora.alpha}, dropout={lora.dropout}, targets "
            f"{', '.join(lora.target_modules)}; PEFT adapter in `adapter/` "
            '(`PeftModel.from_pretrained(base, "adapter")`)'
        )
    lines += [
        "",
        "## Renderer",
        "",
        f"- DrAction: {r.frames} frames of {r.size[0]}x{r.size[1]}, {r.views} view(s), "
        f"{r.num_part_tags} part tags" + (f", {_block(r.extra)}" if r.extra else ""),
        f"- input normalisation: {'on' if config.normalize else 'off'}",
        "",
        "## Training data and recipe",
        "",
    ]
    if info.get("data") is not None:
        lines += ["Data:", "", _block(info["data"]), ""]
    if info.get("recipe") is not None:
        lines += ["Recipe:", "", _block(info["recipe"]), ""]
    if info.get("stages"):
        lines += [
            "| stage | kind | trainable | steps | records | final loss |",
            "|---|---|---|---|---|---|",
        ]
        for s in info["stages"]:
            if s.get("skipped"):
                continue
            lines.append(
                f"| {s.get('name', '')} | {s.get('kind', '')} | {', '.join(s.get('trainable', []))} "
                f"| {s.get('steps', '')} | {s.get('records', '')} | {s.get('final_loss', '')} |"
            )
        lines.append("")
    if not any(info.get(k) for k in ("data", "recipe", "stages")):
        lines += ["Not recorded (the model was saved outside a recipe run).", ""]
    lines += ["## Measured figures", ""]
    metrics = info.get("metrics") or {}
    if metrics:
        lines += ["| metric | value |", "|---|---|"]
        lines += [f"| {k} | {v} |" for k, v in metrics.items()]
    else:
        lines.append("None measured yet.")
    lines += ["", "## Labels it was trained on", ""]
    if config.trained_labels:
        lines.append(", ".join(f"`{t}`" for t in config.trained_labels))
    else:
        lines.append("None recorded (recognition on any label set is zero-shot).")
    card = ModelCard(f"---\n{data.to_yaml()}\n---\n\n" + "\n".join(lines) + "\n")
    return str(card)


def write(folder: Path, config: SkeletonLLMConfig, info: dict | None) -> None:
    """``README.md`` (and ``card.json`` with ``info``, so a reloaded model keeps it) into ``folder``."""
    from .checkpoint import atomic_write_text

    folder = Path(folder)
    atomic_write_text(folder / "README.md", render(config, info))
    atomic_write_text(folder / CARD_INFO, json.dumps(info or {}, indent=1, default=str))


def read_info(folder: Path) -> dict:
    """The card info saved beside a checkpoint ({} when absent or unreadable: the card is advisory)."""
    try:
        info = json.loads((Path(folder) / CARD_INFO).read_text())
    except (OSError, ValueError):
        return {}
    return info if isinstance(info, dict) else {}
