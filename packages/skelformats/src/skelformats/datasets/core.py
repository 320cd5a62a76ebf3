"""The data model of the dataset layer: ``Example``, ``Split``, ``Protocol``, ``Dataset``."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import SkelFormatError
from ..motion import Motion


class DatasetError(SkelFormatError, RuntimeError):
    """A dataset root is missing, or does not hold what the dataset needs."""

    def __init__(self, path_or_problem, problem: str | None = None):
        # DatasetError("message") and DatasetError(path, "message") both work
        if problem is None:
            super().__init__(None, str(path_or_problem))
        else:
            super().__init__(path_or_problem, problem)


class Example:
    """One item: ``id``, ``motion`` (a :class:`~skelformats.Motion`, read on first access when it
    comes from a cache or a file), ``label`` (the class name as the dataset publishes it, or None),
    ``label_index`` (its index in ``Dataset.classes``, -1 without a label), ``text`` (the first
    caption / description or None), ``texts`` (all of them) and ``meta`` (subject, view, setup,
    source file, ...)."""

    __slots__ = ("id", "label", "label_index", "text", "texts", "meta", "_motion", "_loader")

    def __init__(
        self,
        id: str,
        motion: Motion | None = None,
        label: str | None = None,
        label_index: int = -1,
        texts: Sequence[str] = (),
        meta: dict | None = None,
        loader: Callable[[], Motion] | None = None,
    ):
        if motion is None and loader is None:
            raise ValueError(f"example {id!r}: needs a motion or a loader")
        self.id = id
        self.label = label
        self.label_index = label_index
        self.texts = list(texts)
        self.text = self.texts[0] if self.texts else None
        self.meta = {} if meta is None else meta
        self._motion = motion
        self._loader = loader

    @property
    def motion(self) -> Motion:
        if self._motion is not None:
            return self._motion
        # not kept: a pass over a large split holds one motion at a time
        return self._loader()

    def __getstate__(self):
        return {k: getattr(self, k) for k in self.__slots__}

    def __setstate__(self, state):
        for k, v in state.items():
            setattr(self, k, v)

    def __repr__(self) -> str:
        return f"Example({self.id!r}, label={self.label!r})"


class Split(list):
    """The examples of one split of one protocol (a list), with the dataset's ``classes``,
    ``protocol`` / ``name`` / ``description`` and the files the loader ``skipped``."""

    def __init__(
        self,
        examples: Iterable[Example],
        *,
        dataset: str,
        protocol: str,
        name: str,
        classes: Sequence[str],
        description: str = "",
        skipped: Sequence[str] = (),
    ):
        super().__init__(examples)
        self.dataset, self.protocol, self.name = dataset, protocol, name
        self.classes = list(classes)
        self.description = description
        self.skipped = list(skipped)

    def __reduce__(self):
        return (
            _make_split,
            (
                list(self),
                self.dataset,
                self.protocol,
                self.name,
                self.classes,
                self.description,
                self.skipped,
            ),
        )


def _make_split(ex, dataset, protocol, name, classes, description, skipped) -> Split:
    return Split(
        ex,
        dataset=dataset,
        protocol=protocol,
        name=name,
        classes=classes,
        description=description,
        skipped=skipped,
    )


@dataclass
class Protocol:
    """A named evaluation protocol: split name -> example indices.

    ``unseen``: zero-shot protocols name their unseen classes (the ``test`` split holds exactly
    their examples, ``train`` the seen classes'); ``source`` says where the lists come from."""

    name: str
    splits: dict[str, list[int]]
    description: str = ""
    unseen: tuple[str, ...] = ()
    source: str = ""


@dataclass
class Dataset:
    """Files + labels (+ texts) + named protocols, each a set of splits.

    ``sd.load(name, root)`` builds one; ``split(protocol, split)`` gives its examples."""

    name: str
    root: Path | None
    classes: list[str]
    examples: list[Example]
    protocol_specs: dict[str, Protocol]
    skipped: list[str] = field(default_factory=list)
    description: str = ""
    info: dict[str, Any] = field(default_factory=dict)

    @property
    def protocols(self) -> list[str]:
        return list(self.protocol_specs)

    @property
    def default_protocol(self) -> str:
        return self.protocols[0]

    def protocol(self, name: str | None = None) -> Protocol:
        name = name or self.default_protocol
        try:
            return self.protocol_specs[name]
        except KeyError:
            raise DatasetError(
                self.root,
                f"dataset {self.name!r} has no protocol {name!r}; known: {self.protocols}",
            ) from None

    def splits(self, protocol: str | None = None) -> list[str]:
        return list(self.protocol(protocol).splits)

    def split(self, protocol: str | None = None, split: str = "train") -> Split:
        p = self.protocol(protocol)
        try:
            idx = p.splits[split]
        except KeyError:
            raise DatasetError(
                self.root,
                f"protocol {p.name!r} of {self.name!r} has no split {split!r}; known: {list(p.splits)}",
            ) from None
        return Split(
            (self.examples[i] for i in idx),
            dataset=self.name,
            protocol=p.name,
            name=split,
            classes=self.classes,
            description=p.description,
            skipped=self.skipped,
        )

    def sizes(self) -> dict[str, dict[str, int]]:
        """{protocol: {split: number of examples}}."""
        return {
            p.name: {s: len(i) for s, i in p.splits.items()} for p in self.protocol_specs.values()
        }

    def to_hf_dataset(
        self, protocol: str | None = None, split: str = "train", layout: str | None = None
    ):
        """The split as a Hugging Face ``datasets.Dataset`` (needs the ``datasets`` extra).

        Columns: ``id``, ``label`` (a ``ClassLabel`` over ``classes`` when the dataset has classes,
        else absent), ``text``, ``layout``, ``fps``, ``people``, ``motion`` (float32
        ``(people * T, J, C)``: ``np.asarray(row["motion"]).reshape(people, -1, J, C)``) and
        ``confidence`` (``(people * T, J)``).  Every motion of the split must share J and C;
        ``layout`` converts them all to one layout first."""
        from .hf import to_hf_dataset

        return to_hf_dataset(self, self.split(protocol, split), layout=layout)

    def __repr__(self) -> str:
        return (
            f"Dataset({self.name!r}, {len(self.examples)} examples, {len(self.classes)} classes, "
            f"protocols={self.protocols})"
        )


def build_protocol(
    name: str,
    examples: Sequence[Example],
    assign: Callable[[Example], str | None],
    description: str = "",
    required: Sequence[str] = ("train", "test"),
    **kw,
) -> Protocol:
    """A protocol from a function naming each example's split (None: in no split); the
    ``required`` splits exist even when empty."""
    splits: dict[str, list[int]] = {}
    for i, ex in enumerate(examples):
        s = assign(ex)
        if s is not None:
            splits.setdefault(s, []).append(i)
    for s in required:
        splits.setdefault(s, [])
    order = {"train": 0, "val": 1, "test": 2}
    splits = dict(sorted(splits.items(), key=lambda kv: (order.get(kv[0], 3), kv[0])))
    return Protocol(name, splits, description, **kw)


__all__ = ["DatasetError", "Example", "Split", "Protocol", "Dataset", "build_protocol"]
