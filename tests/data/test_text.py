"""WordNet parsing, the vocabulary's OOV fallback and empty-text error, emoji captions, the text batches."""

import os
from pathlib import Path

import pytest
import torch

from mlpzoo.data.text import (
    OOV,
    PAD,
    MaskedTokens,
    TensorFields,
    Vocabulary,
    ngrams,
    parse_data_line,
    synonyms,
    tokenize,
    wordnet_dir,
)
from mlpzoo.errors import DataError, DataMissingError

LINE = (
    "02084071 05 n 03 dog 0 domestic_dog 0 Canis_familiaris 0 002 @ 02083346 n 0000 ~ 01322604 n 0000 | "
    'a member of the genus Canis; "the dog barked all night"'
)


def require_text_data(what: str) -> None:
    """Skip (or fail under MLPZOO_REQUIRE_DATA=1) when Debian's wordnet-base or emoji font is missing."""
    from mlpzoo.data.text import EMOJI_FONT

    path = wordnet_dir() / "data.noun" if what == "wordnet" else Path(EMOJI_FONT)
    if path.is_file():
        return
    if os.environ.get("MLPZOO_REQUIRE_DATA") == "1":
        pytest.fail(f"{path} missing while MLPZOO_REQUIRE_DATA=1 (apt-get install wordnet-base fonts-noto-color-emoji)")
    pytest.skip(f"{path} missing; apt-get install wordnet-base fonts-noto-color-emoji")


def test_parse_data_line():
    synset = parse_data_line(LINE, "noun")
    assert synset.key == "noun:02084071" and synset.lexname == "noun.animal"
    assert synset.lemmas == ("dog", "domestic_dog", "Canis_familiaris")
    assert synset.definition == "a member of the genus Canis"
    assert synset.examples == ("the dog barked all night",)
    assert synset.hypernyms == ("noun:02083346",)  # the ~ (hyponym) pointer is not a hypernym
    assert synonyms([synset]) == {}  # multi-word lemmas are no one-word synonyms
    other = parse_data_line("00000001 05 n 02 dog 0 hound 0 000 | a hunting dog", "noun")
    assert synonyms([synset, other]) == {"dog": ("hound",), "hound": ("dog",)}


def test_vocabulary_out_of_vocabulary_fallback_and_empty_text():
    vocabulary = Vocabulary(ngram=2).fit(["red circle", "blue circle"])
    ids = vocabulary.encode("red square", 4)
    assert ids[0] == vocabulary.id("red") and ids[1] == OOV and ids[2] == OOV and ids[3] == PAD
    assert "red circle" in vocabulary and ngrams(["a", "b"], 2) == ["a", "b", "a b"]
    for empty in ("", "  ", "?!"):
        with pytest.raises(DataError, match="is empty"):
            vocabulary.encode_all(["red", empty], 4, "captions")
    with pytest.raises(DataError, match="before fit"):
        Vocabulary().encode_all(["red"], 3)
    assert tokenize("Don't STOP-me 42") == ["don't", "stop", "me", "42"]


def test_missing_wordnet_names_the_package(tmp_path, monkeypatch):
    from mlpzoo.data import load_dataset

    monkeypatch.setenv("MLPZOO_WORDNET", str(tmp_path))
    with pytest.raises(DataMissingError, match="wordnet-base"):
        load_dataset("wordnet", pos=("adv",))
    with pytest.raises(DataError, match="pos"):
        load_dataset("wordnet", pos=("nouns",))


def test_text_batches_are_seeded():
    tokens = torch.randint(4, 50, (20, 8), generator=torch.Generator().manual_seed(0))
    data = MaskedTokens(tokens, mask_id=2, vocab_size=50, first_word=4, rate=0.5)
    first = [b["label"] for b in data.iter_batches(8, shuffle=True, seed=1, epoch=1)]
    again = [b["label"] for b in data.iter_batches(8, shuffle=True, seed=1, epoch=1)]
    assert all(torch.equal(a, b) for a, b in zip(first, again))
    batch = next(data.iter_batches(20))
    masked = batch["label"].ne(-100)
    assert masked.any() and torch.equal(batch["label"][masked], tokens[masked])
    fields = TensorFields({"x": torch.arange(10)}, torch.arange(10))
    assert sum(len(b["label"]) for b in fields.iter_batches(3, shuffle=True)) == 10
    with pytest.raises(DataError, match="rows"):
        TensorFields({"x": torch.arange(3)}, torch.arange(4))


def test_real_wordnet_and_emoji():
    require_text_data("wordnet")
    from mlpzoo.data import load_dataset

    nouns = load_dataset("wordnet", pos=("noun",))
    assert len(nouns) == 82115  # WordNet 3.0's noun synsets
    require_text_data("emoji")
    images, captions = load_dataset("emoji-captions")
    assert images.dtype == torch.uint8 and images.shape[1:] == (3, 32, 32) and len(captions) == len(images) > 1000
    assert "grinning face" in captions and all(c == c.lower() and c.strip() for c in captions)
