"""Offline tokenizers for the tiny backbones: a byte-level BPE trained on the task vocabulary.

Byte-level BPE can encode any text, so the small vocabulary only costs sequence length on words it has
never seen. The chat template is a plain ChatML template whose placeholder for visual content is
family-specific (``<|vision_start|><|video_pad|><|vision_end|>`` for Qwen2-VL, ``<image>`` otherwise).
"""

from __future__ import annotations

from collections.abc import Iterable

from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers

#: Words of the task domain: actions, body parts, directions, counting and the instruction wording.
TASK_WORDS = """
what action is the person performing in this skeleton sequence answer with the action name describe motion
the a an person subject someone human body moves moving waves waving walks walking runs running jumps jumping
sits sitting down stands standing up squats squatting bends bending kicks kicking punches punching throws
throwing claps clapping raises raising lowers lowering arms arm hands hand legs leg head turns turning nods
nodding shakes shaking reaches reaching picks picking carries carrying pushes pulls spins spinning rotates
left right both forward backward sideways upward downward slowly quickly fast slow once twice three times
four five six seven eight nine ten one two 0 1 2 3 4 5 6 7 8 9 repetitions repeats repeated cycles steps
step while with and then after before during at the start end beginning finally first later is does do yes
no not doing which of following options correct caption question sequence frames video shows motion
elbow wrist shoulder knee ankle hip pelvis torso chest spine neck foot feet toe heel high low height above
below level big small large amplitude stays still stationary remains place toward away from in place
because therefore so observations conclusion reasoning moves most rise rises falls fall drop drops
""".split()

SPECIAL_TOKENS = [
    "<|endoftext|>",
    "<|im_start|>",
    "<|im_end|>",
    "<|vision_start|>",
    "<|vision_end|>",
    "<|image_pad|>",
    "<|video_pad|>",
    "<image>",
    "<fake_token_around_image>",
    "<global-img>",
    "<end_of_utterance>",
]

#: ChatML template. ``content`` is a string or a list of {"type": "text"|"image"|"video"} parts.
CHATML_TEMPLATE = (
    "{% for message in messages %}"
    "<|im_start|>{{ message['role'] }}\n"
    "{% if message['content'] is string %}{{ message['content'] }}"
    "{% else %}{% for part in message['content'] %}"
    "{% if part['type'] == 'video' %}{{ VIDEO }}"
    "{% elif part['type'] == 'image' %}{{ IMAGE }}"
    "{% else %}{{ part['text'] }}{% endif %}"
    "{% endfor %}{% endif %}<|im_end|>\n"
    "{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)


def chat_template(image_placeholder: str, video_placeholder: str | None = None) -> str:
    """The ChatML template with the family's placeholders substituted in."""
    video_placeholder = video_placeholder or image_placeholder
    return CHATML_TEMPLATE.replace("{{ VIDEO }}", video_placeholder).replace(
        "{{ IMAGE }}", image_placeholder
    )


def train_bpe(corpus: Iterable[str], vocab_size: int = 1024) -> Tokenizer:
    """Train a byte-level BPE on ``corpus`` (deterministic for a fixed corpus)."""
    tok = Tokenizer(models.BPE(unk_token=None))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    tok.post_processor = processors.ByteLevel(trim_offsets=False)
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=SPECIAL_TOKENS,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(list(corpus), trainer=trainer)
    return tok


def build_tokenizer(
    *,
    image_placeholder: str,
    video_placeholder: str | None = None,
    extra_corpus: Iterable[str] = (),
    vocab_size: int = 1024,
):
    """A ``PreTrainedTokenizerFast`` with ChatML template, pad/eos set and the multimodal special tokens."""
    from transformers import PreTrainedTokenizerFast

    corpus = [" ".join(TASK_WORDS)] + [" " + w for w in TASK_WORDS] + list(extra_corpus)
    raw = train_bpe(corpus, vocab_size=vocab_size)
    tok = PreTrainedTokenizerFast(
        tokenizer_object=raw,
        bos_token=None,
        eos_token="<|im_end|>",
        pad_token="<|endoftext|>",
        additional_special_tokens=SPECIAL_TOKENS[1:],
    )
    tok.chat_template = chat_template(image_placeholder, video_placeholder)
    tok.padding_side = "left"
    return tok
