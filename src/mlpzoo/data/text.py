"""Text data that installs offline: WordNet 3.0 glosses, rendered emoji with their Unicode names, a vocabulary.

- ``wordnet``: every synset of Princeton WordNet 3.0 as Debian's ``wordnet-base`` ships it
  (``/usr/share/wordnet/data.{noun,verb,adj,adv}``; ``$MLPZOO_WORDNET`` or ``<data dir>/wordnet`` win):
  lemmas, lexicographer file (the supersense, e.g. ``noun.animal``), gloss, example sentences and
  hypernyms. Human-written definitions: the real text behind the ``mvp`` and ``armorm`` stand-ins.
- ``emoji-captions``: every single-code-point emoji that Debian's ``fonts-noto-color-emoji`` draws,
  rendered at 32 x 32 on white, captioned with its Unicode character name ("cat face with tears of
  joy"): real images paired with real, human-written text for ``img-text-match``.

:class:`Vocabulary` maps words (and word n-grams) to ids with a minimum count, a padding id 0 and one
out-of-vocabulary id 1, so an unseen word is never an error but a documented fallback.
"""

from __future__ import annotations

import os
import re
import unicodedata
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import numpy as np
import torch

from mlpzoo.errors import DataError, DataMissingError

WORDNET_DIR = "/usr/share/wordnet"
EMOJI_FONT = "/usr/share/fonts/truetype/noto/NotoColorEmoji.ttf"
PARTS_OF_SPEECH = ("noun", "verb", "adj", "adv")
# The 45 lexicographer files in the order of their numbers (WordNet's lexnames(5WN)).
LEXNAMES = (
    "adj.all adj.pert adv.all noun.Tops noun.act noun.animal noun.artifact noun.attribute noun.body noun.cognition "
    "noun.communication noun.event noun.feeling noun.food noun.group noun.location noun.motive noun.object "
    "noun.person noun.phenomenon noun.plant noun.possession noun.process noun.quantity noun.relation noun.shape "
    "noun.state noun.substance noun.time verb.body verb.change verb.cognition verb.communication verb.competition "
    "verb.consumption verb.contact verb.creation verb.emotion verb.motion verb.perception verb.possession "
    "verb.social verb.stative verb.weather adj.ppl"
).split()
PAD, OOV = 0, 1
_WORD = re.compile(r"[a-z0-9]+(?:'[a-z]+)?")


# ------------------------------------------------------------------------------------------- WordNet
@dataclass(frozen=True)
class Synset:
    """One WordNet synset: ``key`` is ``<pos>:<offset>``; ``hypernyms`` are keys too."""

    key: str
    pos: str
    lexname: str
    lemmas: tuple[str, ...]
    definition: str
    examples: tuple[str, ...]
    hypernyms: tuple[str, ...]

    @property
    def word(self) -> str:
        """The first lemma, as a reader writes it ("ice cream", not "ice_cream")."""
        return self.lemmas[0].replace("_", " ")


def wordnet_dir(data_dir=None) -> Path:
    """``$MLPZOO_WORDNET``, else ``<data_dir>/wordnet`` when it exists, else Debian's ``/usr/share/wordnet``."""
    env = os.environ.get("MLPZOO_WORDNET", "").strip()
    if env:
        return Path(env)
    if data_dir is not None and (Path(data_dir) / "wordnet").is_dir():
        return Path(data_dir) / "wordnet"
    return Path(WORDNET_DIR)


def _pos_letter(letter: str) -> str:
    return {"n": "noun", "v": "verb", "a": "adj", "s": "adj", "r": "adv"}[letter]


def parse_data_line(line: str, pos: str) -> Synset:
    """One line of a WordNet ``data.<pos>`` file (format wndb(5WN))."""
    head, _, gloss = line.partition(" | ")
    fields = head.split()
    offset, lex_filenum, count = fields[0], int(fields[1]), int(fields[3], 16)
    lemmas = tuple(re.sub(r"\(.*\)$", "", fields[4 + 2 * i]) for i in range(count))
    at = 4 + 2 * count
    pointers = int(fields[at])
    hypernyms = []
    for i in range(pointers):
        symbol, target, target_pos = fields[at + 1 + 4 * i : at + 4 + 4 * i]
        if symbol in ("@", "@i"):
            hypernyms.append(f"{_pos_letter(target_pos)}:{target}")
    gloss = gloss.strip()
    examples = tuple(re.findall(r'"([^"]+)"', gloss))
    definition = re.sub(r'"[^"]*"', "", gloss).strip(" ;")
    return Synset(f"{pos}:{offset}", pos, LEXNAMES[lex_filenum], lemmas, definition, examples, tuple(hypernyms))


@lru_cache(maxsize=4)
def _read_wordnet(folder: str, pos: tuple[str, ...]) -> tuple[Synset, ...]:
    synsets = []
    for part in pos:
        path = Path(folder) / f"data.{part}"
        if not path.is_file():
            raise DataMissingError(
                f"WordNet file {path} is missing; apt-get install wordnet-base (or set MLPZOO_WORDNET to a folder "
                "holding data.noun, data.verb, data.adj and data.adv)"
            )
        with open(path, encoding="utf-8", errors="replace") as lines:
            synsets += [parse_data_line(line, part) for line in lines if not line.startswith(" ")]
    return tuple(synsets)


def load_wordnet(data_dir=None, pos: Sequence[str] = PARTS_OF_SPEECH) -> tuple[Synset, ...]:
    """Every synset of the given parts of speech, in file order (cached per process: the files never change)."""
    unknown = [p for p in pos if p not in PARTS_OF_SPEECH]
    if unknown:
        raise DataError(f"wordnet pos={unknown}; choose from {', '.join(PARTS_OF_SPEECH)}")
    return _read_wordnet(str(wordnet_dir(data_dir)), tuple(pos))


def synonyms(synsets: Iterable[Synset]) -> dict[str, tuple[str, ...]]:
    """Word -> the other one-word lemmas of every synset it belongs to (WordNet's synonyms, lower case)."""
    found: dict[str, set[str]] = {}
    for synset in synsets:
        words = [w.lower() for w in synset.lemmas if "_" not in w and "-" not in w]
        for word in words:
            found.setdefault(word, set()).update(w for w in words if w != word)
    return {word: tuple(sorted(others)) for word, others in found.items() if others}


# ------------------------------------------------------------------------------------------- words
def tokenize(text: str) -> list[str]:
    """Lower-case words and numbers (apostrophe suffixes kept: "don't")."""
    return _WORD.findall(text.lower())


def ngrams(words: Sequence[str], n: int) -> list[str]:
    """Word unigrams up to ``n``-grams, n-grams joined with a space ("red circle")."""
    grams = list(words)
    for size in range(2, n + 1):
        grams += [" ".join(words[i : i + size]) for i in range(len(words) - size + 1)]
    return grams


@dataclass
class Vocabulary:
    """Token -> id with padding id 0 and one out-of-vocabulary id 1 (the fallback for unseen tokens).

    Args:
        min_count: tokens seen fewer times in the fitting text map to the out-of-vocabulary id.
        max_size: keep at most this many tokens (most frequent first; ties in first-seen order).
        ngram: 1 for words, 2 adds bigrams, ... (the n-gram text towers).
        specials: extra tokens with fixed ids after PAD and OOV (e.g. "[mask]", "[cls]").
    """

    min_count: int = 1
    max_size: int | None = None
    ngram: int = 1
    specials: tuple[str, ...] = ()
    index: dict[str, int] = field(default_factory=dict)

    def fit(self, texts: Iterable[str]) -> "Vocabulary":
        counts = Counter(g for text in texts for g in ngrams(tokenize(text), self.ngram))
        kept = [g for g, c in counts.most_common(self.max_size) if c >= self.min_count]
        self.index = {g: i for i, g in enumerate(["[pad]", "[oov]", *self.specials, *kept])}
        return self

    def __len__(self) -> int:
        return len(self.index)

    def __contains__(self, token: str) -> bool:
        return token in self.index

    def id(self, token: str) -> int:
        return self.index.get(token, OOV)

    def encode(self, text: str, length: int, where: str = "text") -> torch.Tensor:
        """Ids of the text's n-grams, cut or padded with 0 to ``length``; unseen tokens are OOV (1).

        An empty text (no word at all) is refused: it carries nothing to encode.
        """
        words = tokenize(text)
        if not words:
            raise DataError(f"{where} is empty ({text!r}): it has no word to encode; drop it or give it text")
        ids = [self.id(g) for g in ngrams(words, self.ngram)][:length]
        return torch.tensor(ids + [PAD] * (length - len(ids)), dtype=torch.long)

    def encode_all(self, texts: Sequence[str], length: int, where: str = "texts") -> torch.Tensor:
        if not self.index:
            raise DataError("Vocabulary.encode before fit: call vocabulary.fit(training_texts) first")
        return torch.stack([self.encode(t, length, f"{where}[{i}]") for i, t in enumerate(texts)])


# ------------------------------------------------------------------------------------------- emoji
def _emoji_code_points(font_path: str) -> list[int]:
    """Code points the colour font draws that are emoji with a Unicode name (digits, '#', '*' left out)."""
    from fontTools.ttLib import TTFont

    cmap = TTFont(font_path, lazy=True).getBestCmap()
    return [
        cp
        for cp in sorted(cmap)
        if cp >= 0x00A9 and unicodedata.name(chr(cp), "") and unicodedata.category(chr(cp)) == "So"
    ]


def _render(cp: int, font, size: int) -> np.ndarray:
    from PIL import Image, ImageDraw

    canvas = Image.new("RGB", (136, 128), "white")
    ImageDraw.Draw(canvas).text((0, 0), chr(cp), font=font, embedded_color=True)
    box = canvas.convert("L").point(lambda v: 255 if v < 250 else 0).getbbox()
    if box is not None:
        canvas = canvas.crop(box)
    side = max(canvas.size)
    square = Image.new("RGB", (side, side), "white")
    square.paste(canvas, ((side - canvas.width) // 2, (side - canvas.height) // 2))
    return np.asarray(square.resize((size, size), Image.LANCZOS)).transpose(2, 0, 1).copy()


def load_emoji_captions(data_dir=None, size: int = 32) -> tuple[torch.Tensor, list[str]]:
    """Every single-code-point emoji of the Noto Color Emoji font, drawn on white, and its Unicode name in
    lower case. Blank drawings (a code point the font maps without a colour glyph) are left out."""
    font_path = os.environ.get("MLPZOO_EMOJI_FONT", "").strip() or EMOJI_FONT
    if not Path(font_path).is_file():
        raise DataMissingError(
            f"emoji font {font_path} is missing; apt-get install fonts-noto-color-emoji (or set MLPZOO_EMOJI_FONT)"
        )
    from PIL import ImageFont

    font = ImageFont.truetype(font_path, 109)  # the font's one bitmap size
    images, captions = [], []
    for cp in _emoji_code_points(font_path):
        image = _render(cp, font, size)
        if image.min() > 240:
            continue
        images.append(image)
        captions.append(unicodedata.name(chr(cp)).lower())
    return torch.from_numpy(np.stack(images)), captions


# ------------------------------------------------------------------------------------------- batches
@dataclass
class TensorFields:
    """Named tensors with one row per sample (and a ``label`` row), batched by slicing like ``ArrayData``."""

    fields: dict[str, torch.Tensor]
    label: torch.Tensor

    def __post_init__(self) -> None:
        for name, value in self.fields.items():
            if len(value) != len(self.label):
                raise DataError(f"TensorFields: {name} has {len(value)} rows but label {len(self.label)}")

    def __len__(self) -> int:
        return len(self.label)

    def select(self, index) -> "TensorFields":
        return TensorFields({k: v[index] for k, v in self.fields.items()}, self.label[index])

    def num_batches(self, batch_size: int) -> int:
        return -(-len(self) // batch_size)

    def iter_batches(self, batch_size: int, shuffle: bool = False, seed: int = 0, epoch: int = 0):
        data = self
        if shuffle:
            data = self.select(
                torch.randperm(len(self), generator=torch.Generator().manual_seed(seed * 100_003 + epoch))
            )
        for start in range(0, len(data), batch_size):
            part = data.select(slice(start, start + batch_size))
            yield {**part.fields, "label": part.label}


@dataclass
class MaskedTokens:
    """Token rows for masked-LM training: each batch masks a fresh 15 % of the real tokens (BERT's 80/10/10
    rule: [mask], a random id, or kept), drawn from ``(seed, epoch)`` so a rerun sees the same masks.
    With ``fixed=True`` (validation) the masks never change. ``first_word`` is the lowest id a random
    replacement may take (after the padding, out-of-vocabulary and special ids)."""

    tokens: torch.Tensor
    mask_id: int
    vocab_size: int
    first_word: int
    rate: float = 0.15
    fixed: bool = False

    def __len__(self) -> int:
        return len(self.tokens)

    @property
    def label(self) -> torch.Tensor:
        return self.tokens

    def num_batches(self, batch_size: int) -> int:
        return -(-len(self) // batch_size)

    def _mask(self, tokens: torch.Tensor, generator: torch.Generator) -> dict[str, torch.Tensor]:
        real = tokens >= self.first_word
        chosen = real & (torch.rand(tokens.shape, generator=generator) < self.rate)
        label = torch.where(chosen, tokens, torch.full_like(tokens, -100))
        roll = torch.rand(tokens.shape, generator=generator)
        random_ids = torch.randint(self.first_word, self.vocab_size, tokens.shape, generator=generator)
        inputs = torch.where(chosen & (roll < 0.8), torch.full_like(tokens, self.mask_id), tokens)
        inputs = torch.where(chosen & (roll >= 0.8) & (roll < 0.9), random_ids, inputs)
        return {"tokens": inputs, "label": label}

    def iter_batches(self, batch_size: int, shuffle: bool = False, seed: int = 0, epoch: int = 0):
        generator = torch.Generator().manual_seed(0 if self.fixed else seed * 100_003 + epoch)
        order = torch.arange(len(self))
        if shuffle:
            order = torch.randperm(len(self), generator=generator)
        for start in range(0, len(self), batch_size):
            rows = self.tokens[order[start : start + batch_size]]
            if not self.fixed:  # training batches are cut to their longest row; validation keeps one width
                rows = rows[:, : int(rows.ne(PAD).sum(1).max())]
            yield self._mask(rows, generator)
