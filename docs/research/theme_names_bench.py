#!/usr/bin/env python3
"""Theme names on Banking77: which way of choosing among a theme's phrases matches its intent
(research, not product code). See docs/research/theme-names.md.

For UMAP seeds given on the command line, the product's themes (discover_themes), keywords
and phrases (theme_keywords, theme_phrases with describe's PHRASES_PER_THEME), and for each
theme up to 16 candidate phrases of 2-6 words, scored once by the packaged model after the
product's naming prompt (name_prompt on the theme's three nearest quotes) and embedded; then
every choice rule is applied to the same scores. Themes are named largest first and a
candidate another theme's name already says (same stems) is skipped, as describe does. The
measure is the evaluation's (devtools.evaluation.names.match_share): the share of items in
themes whose name is nearest (MiniLM cosine) to the theme's majority intent among the 77.

Rules (ranks summed by insights.pipeline.describing.naming.choose, best first):
- model: mean token log-probability of the phrase after the prompt;
- contrast: naming.picking_out (cosine to the own centre less the highest to another's);
- model+contrast: the product's rule until name-6 (8 candidates);
- all3: model + contrast + c-TF-IDF order; contrast+items, model+contrast+items: with the
  number of items that write the phrase;
- finds: naming.finds_theme, the phrase as a search query among a sample of every theme's
  items (Neighbourhood.of): the share of this theme's among its k nearest, k the theme's
  count there (R-precision); model+finds;
  finds+contrast, model+finds+contrast; finds, then model: the best finds, the model's
  log-probability breaking ties; finds, then items, then model: ties go first to the
  phrase more items write (the product's rule from name-7).
- oracle: whether any of the candidates would match (the ceiling of any rule).

    cd /work/main && DEBUG=true HF_HUB_OFFLINE=1 .venv/bin/python \
        docs/research/theme_names_bench.py 0 1 2
"""

import os
import pickle
import sys
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "feedlens.settings")
import django  # noqa: E402

django.setup()

import numpy as np  # noqa: E402

from devtools.evaluation.cache import embeddings  # noqa: E402
from devtools.evaluation.datasets import read_banking77  # noqa: E402
from devtools.evaluation.names import (  # noqa: E402
    bertopic_label_as_words,
    bertopic_names,
    match_share,
    theme_members,
)
from devtools.evaluation.pain_points import nearest_quotes  # noqa: E402
from insights.local_models import configured_embedder, configured_llm  # noqa: E402
from insights.pipeline.describing.describe import PHRASES_PER_THEME  # noqa: E402
from insights.pipeline.describing.naming import (  # noqa: E402
    NAME_MAX_WORDS,
    NAME_MIN_WORDS,
    NAME_QUOTES_SHOWN,
    Neighbourhood,
    choose,
    finds_theme,
    keyword_name,
    name_prompt,
)
from insights.pipeline.themes.clustering import discover_themes  # noqa: E402
from insights.pipeline.themes.keywords import (  # noqa: E402
    KEYWORD_TEXTS_PER_THEME,
    theme_keywords,
    theme_phrases,
)
from insights.wording import stems_of  # noqa: E402

CACHE = Path(os.environ.get("NAMES_BENCH_CACHE", "/tmp/theme_names_bench"))
DATASETS = Path(os.environ.get("FEEDLENS_DATASETS_DIR", "../shared/datasets"))
MOST_CANDIDATES = 16
RULES = (
    "model",
    "contrast",
    "model+contrast",
    "all3",
    "contrast+items",
    "model+contrast+items",
    "finds",
    "model+finds",
    "finds+contrast",
    "model+finds+contrast",
    "finds, then model",
    "finds, then items, then model",
)


def scored_themes(seed, texts, vectors, embedder):
    """The themes of one UMAP seed with every candidate's scores, cached on disk."""
    path = CACHE / f"seed{seed}.pkl"
    if path.exists():
        return pickle.loads(path.read_bytes())
    llm = configured_llm()
    clustering = discover_themes(vectors, seed=seed)
    members = theme_members(vectors, clustering)
    bucket = {p: [texts[i] for i in rows[:KEYWORD_TEXTS_PER_THEME]] for p, rows in members.items()}
    keywords, phrases = theme_keywords(bucket), theme_phrases(bucket, top_n=PHRASES_PER_THEME)
    per_theme = {}
    for p, rows in members.items():
        candidates = [
            phrase for phrase in phrases[p] if NAME_MIN_WORDS <= phrase.words <= NAME_MAX_WORDS
        ][:MOST_CANDIDATES]
        centre = clustering.centroids[p]
        quotes = nearest_quotes(texts, vectors, np.array(rows), centre, NAME_QUOTES_SHOWN)
        words = [c.text for c in candidates]
        prompt = llm.render(name_prompt(quotes))
        per_theme[p] = {
            "candidates": candidates,
            "log_probs": llm.continuation_logprobs(prompt, words) if words else [],
            "vectors": embedder.embed(words) if words else np.zeros((0, vectors.shape[1])),
            "centre": centre,
            "others": np.delete(clustering.centroids, p, axis=0),
        }
    label_of = np.full(len(texts), -1)
    for p, rows in members.items():
        label_of[rows] = p
    assigned = np.flatnonzero(label_of >= 0).tolist()
    bertopic = bertopic_names([texts[i] for i in assigned], label_of[assigned])
    result = {"members": members, "keywords": keywords, "themes": per_theme, "bertopic": bertopic}
    CACHE.mkdir(parents=True, exist_ok=True)
    path.write_bytes(pickle.dumps(result))
    return result


def picking_out(vectors, centre, other_centres):
    """name-6's contrast: the cosine to the own centre less the highest to another's."""
    return (vectors @ centre - (vectors @ other_centres.T).max(axis=1)).tolist()


def rule_names(scored, most, rule, neighbourhood):
    names = {}
    members = scored["members"]
    for p in sorted(members, key=lambda p: (-len(members[p]), p)):
        theme = scored["themes"][p]
        taken = {tuple(sorted(stems_of(name))) for name in names.values()}
        kept = [
            i
            for i, c in enumerate(theme["candidates"])
            if tuple(sorted(stems_of(c.text))) not in taken
        ][:most]
        if not kept:
            names[p] = keyword_name(scored["keywords"][p], names.values())
            continue
        model = [theme["log_probs"][i] for i in kept]
        contrast = picking_out(theme["vectors"][kept], theme["centre"], theme["others"])
        order = [-float(i) for i in range(len(kept))]
        items = [float(theme["candidates"][i].items) for i in kept]
        finds = finds_theme(theme["vectors"][kept], neighbourhood, p)
        ranks = {
            "model": (model,),
            "contrast": (contrast,),
            "model+contrast": (model, contrast),
            "all3": (model, contrast, order),
            "contrast+items": (contrast, items),
            "model+contrast+items": (model, contrast, items),
            "finds": (finds,),
            "model+finds": (model, finds),
            "finds+contrast": (finds, contrast),
            "model+finds+contrast": (model, finds, contrast),
            "finds, then model": (),
            "finds, then items, then model": (),
        }[rule]
        if ranks:
            best = choose(*ranks)
        elif rule == "finds, then model":  # lexicographic: the model breaks ties in finds
            best = min(range(len(kept)), key=lambda i: (-finds[i], -model[i], i))
        else:
            best = min(range(len(kept)), key=lambda i: (-finds[i], -items[i], -model[i], i))
        names[p] = theme["candidates"][kept[best]].text
    return names


def main(seeds):
    data = read_banking77(DATASETS)
    embedder = configured_embedder()
    vectors = embeddings(data.texts, embedder, CACHE / "embeddings").values
    intents = sorted(set(data.labels))
    for seed in seeds:
        scored = scored_themes(seed, data.texts, vectors, embedder)
        members = scored["members"]
        majority = {
            p: Counter(data.labels[i] for i in rows).most_common(1)[0][0]
            for p, rows in members.items()
        }
        sizes = {p: len(rows) for p, rows in members.items()}

        def share(names, majority=majority, sizes=sizes):
            return match_share(names, majority, sizes, intents, embedder)[0]

        keywords = {p: keyword_name(scored["keywords"][p]) for p in members}
        bertopic = {p: bertopic_label_as_words(scored["bertopic"][p]) for p in members}
        print(f"seed {seed}: keywords {share(keywords):.3f}, BERTopic {share(bertopic):.3f}")
        neighbourhood = Neighbourhood.of({p: vectors[rows] for p, rows in members.items()})
        for most in (8, 12, 16):
            for rule in RULES:
                names = rule_names(scored, most, rule, neighbourhood)
                print(f"  {most} candidates, {rule}: {share(names):.3f}")
            print(f"  {most} candidates, oracle: {oracle(scored, most, majority, intents, embedder)}")


def oracle(scored, most, majority, intents, embedder):
    """The share of items in themes where at least one of the first most candidates of
    2-6 words would match: what a perfect choice among them would reach."""
    intent_vectors = embedder.embed([intent.replace("_", " ") for intent in intents])
    matched = total = 0
    for p, rows in scored["members"].items():
        total += len(rows)
        candidate_vectors = scored["themes"][p]["vectors"][:most]
        if len(candidate_vectors):
            nearest = np.argmax(candidate_vectors @ intent_vectors.T, axis=1)
            matched += len(rows) * any(intents[i] == majority[p] for i in nearest)
    return f"{matched / total:.3f}"


if __name__ == "__main__":
    main([int(seed) for seed in sys.argv[1:]] or [0])
