"""mlxn_moe_softmax_topk / mlxn_moe_weighted_reduce / mlxn_softmax_sample
against MLX (mx.softmax, mx.topk, mx.argsort, mx.sigmoid, mx.argmax) and an
independent numpy implementation of HF transformers' warpers (TopK, TopP,
MinP, applied after the temperature in HF's order) on MLX's probabilities.

Tolerances (why they are what they are):
  router ids: exact. Logits are distinct after rounding to the dtype, so the
    order is unambiguous; MLX's top-k set (mx.topk of the probabilities) must
    equal ours as a set, and the order is checked against mx.argsort.
  router weights: both sides compute softmax in f32 (exp within a few ulp,
    sums of <= 512 terms, a division): |ours - mlx| <= 1e-5 * |mlx| + 1e-7
    (f32 relative error ~1e-6 at most with margin).
  combine: f32 accumulation of <= 8 products plus two terms on both sides,
    each rounded once to the output dtype: |ours - ref| <= 2 u_out |ref| +
    4e-6 * (sum of |terms|).
  sampling: the token must equal the inverse-CDF token of the HF-filtered
    MLX distribution, except where u (or the top-p cut) lies within 2e-6 of
    a boundary (MLX's f32 probabilities carry ~1e-7 relative error, our
    masses <= 2.4e-7 plus 2^-33 per token: both far below 2e-6); at most a
    quarter of the draws may be skipped that way. Logprobs agree within
    1e-4 + 1e-5 |lp|.
Logits are distinct (no ties): HF keeps every token tied at the k-th value,
mlxn keeps exactly k (ties to the lower index), a documented difference.
"""
import numpy as np
import pytest

import mlxn
import mlxn.sample as ms
from oracle_util import U_F32, UNIT_ROUNDOFF, decode, encode

mx = pytest.importorskip("mlx.core")

DTYPES = ["f32", "f16", "bf16"]
MXDT = {"f32": "float32", "f16": "float16", "bf16": "bfloat16"}


def distinct_logits(rng, rows, n, dtype, scale=4.0):
    """rows x n logits whose values are distinct after rounding to dtype."""
    out = np.empty((rows, n))
    for r in range(rows):
        if dtype == "f32":
            sc = scale * rng.uniform(0.8, 1.25)  # a different distribution per row
            v = rng.permutation(n) / n * 2 * sc - sc + rng.uniform(0, 1e-3)
        else:
            # few enough values to stay distinct: steps of 2^-5 in [-4, 4) are exact in bf16/f16 up to 256 values
            step = 2.0 ** -5 if n <= 256 else 2.0 ** -3
            v = (rng.permutation(n) - n // 2) * step
        out[r] = v
    return out


def mx_of(xv, dtype):
    return mx.array(xv.astype(np.float32)).astype(getattr(mx, MXDT[dtype]))


# ---- router ---------------------------------------------------------------------


@pytest.mark.parametrize("T,E,k", [(1, 8, 2), (16, 128, 8), (3, 256, 8), (5, 512, 64), (4, 60, 4)])
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("renorm", [True, False])
def test_router_matches_mlx(device, rng, dtype, T, E, k, renorm):
    xs, xv = encode(distinct_logits(rng, T, E, dtype), dtype)
    scale = rng.uniform(0.5, 2.0, E).astype(np.float32)
    use_scale = k % 2 == 0 and not renorm
    enc = mlxn.Encoder(device)
    x = mlxn.Buffer.from_numpy(device, xs, dtype=dtype)
    ids = mlxn.Buffer.new(device, "i32", (T, k))
    w = mlxn.Buffer.new(device, "f32", (T, k))
    sb = mlxn.Buffer.from_numpy(device, scale) if use_scale else None
    ms.moe_softmax_topk(enc, x, ids, w, k=k, renormalize=renorm, expert_scale=sb)
    enc.wait()
    got_i, got_w = ids.numpy(), w.numpy().astype(np.float64)
    for b in (x, ids, w, sb, enc):
        if b is not None:
            b.close()
    xm = mx_of(xv, dtype).astype(mx.float32)
    probs = mx.softmax(xm, axis=-1)
    top_vals = np.sort(np.array(mx.topk(probs, k, axis=-1)), axis=-1)[:, ::-1].astype(np.float64)
    order = np.array(mx.argsort(-xm, axis=-1))[:, :k]
    assert np.array_equal(got_i, order)
    p_sel = np.take_along_axis(np.array(probs).astype(np.float64), got_i.astype(np.int64), axis=-1)
    # MLX's top-k values are exactly the probabilities of our experts
    assert np.allclose(np.sort(p_sel, axis=-1)[:, ::-1], top_vals, rtol=1e-6, atol=0)
    want = p_sel / p_sel.sum(axis=-1, keepdims=True) if renorm else p_sel
    if use_scale:
        want = want * scale.astype(np.float64)[got_i]
    assert np.all(np.abs(got_w - want) <= 1e-5 * np.abs(want) + 1e-7)


# ---- combine ----------------------------------------------------------------------


@pytest.mark.parametrize("T,K,D", [(1, 1, 7), (4, 8, 256), (9, 4, 1000)])
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("variant", ["plain", "qwen", "gate_raw", "inplace"])
def test_combine_matches_mlx(device, rng, dtype, T, K, D, variant):
    ys, yv = encode(rng.uniform(-1, 1, (T, K, D)), dtype)
    w64 = rng.uniform(0, 1, (T, K)).astype(np.float32)
    shs, shv = encode(rng.uniform(-1, 1, (T, D)), dtype)
    rss, rsv = encode(rng.uniform(-2, 2, (T, D)), dtype)
    g32 = rng.uniform(-3, 3, T).astype(np.float32)
    enc = mlxn.Encoder(device)
    y = mlxn.Buffer.from_numpy(device, ys, dtype=dtype)
    w = mlxn.Buffer.from_numpy(device, w64)
    sh = mlxn.Buffer.from_numpy(device, shs, dtype=dtype) if variant != "plain" else None
    g = mlxn.Buffer.from_numpy(device, g32) if variant in ("qwen", "gate_raw") else None
    res = mlxn.Buffer.from_numpy(device, rss, dtype=dtype) if variant in ("qwen", "inplace") else None
    out = res if variant == "inplace" else mlxn.Buffer.new(device, dtype, (T, D))
    ms.moe_weighted_reduce(enc, y, w, out, y_shared=sh, gate=g, res=res, shared_sigmoid=variant == "qwen")
    enc.wait()
    got = decode(out.numpy(), dtype)
    for b in {id(o): o for o in (y, w, sh, g, res, out, enc) if o is not None}.values():
        b.close()
    ym, wm = mx.array(yv.astype(np.float32)), mx.array(w64)
    ref = mx.sum(wm[:, :, None] * ym, axis=1)
    mag = mx.sum(mx.abs(wm[:, :, None] * ym), axis=1)
    if variant != "plain":
        gm = mx.array(g32) if g is not None else mx.ones((T,))
        if variant == "qwen":
            gm = mx.sigmoid(gm)
        ref = ref + gm[:, None] * mx.array(shv.astype(np.float32))
        mag = mag + mx.abs(gm[:, None] * mx.array(shv.astype(np.float32)))
    if res is not None:
        ref = ref + mx.array(rsv.astype(np.float32))
        mag = mag + mx.abs(mx.array(rsv.astype(np.float32)))
    ref, mag = np.array(ref).astype(np.float64), np.array(mag).astype(np.float64)
    tol = 2 * UNIT_ROUNDOFF[dtype] * np.abs(ref) + 4e-6 * mag
    assert np.all(np.abs(got - ref) <= tol)


# ---- sampling ----------------------------------------------------------------------


def hf_filtered(probs, top_k, top_p, min_p):
    """HF's TopK, TopP, MinP warpers on one row of probabilities (float64 numpy),
    renormalized. Returns (dist, top-p margin)."""
    p = probs.copy()
    V = p.size
    if 0 < top_k < V:
        kth = np.sort(p)[::-1][top_k - 1]
        p[p < kth] = 0.0
    p = p / p.sum()
    margin = 1.0
    if top_p < 1.0:
        order = np.argsort(p, kind="stable")  # ascending
        cum = np.cumsum(p[order])
        remove = cum <= 1.0 - top_p
        remove[-1] = False
        c = int(np.argmax(~remove))  # the first kept token in ascending order
        thr = 1.0 - top_p
        margin = float(min(cum[c] - thr, thr - cum[c - 1] if c > 0 else np.inf))
        p[order[remove]] = 0.0
        p = p / p.sum()
    if min_p > 0.0:
        p[p < min_p * p.max()] = 0.0
        p = p / p.sum()
    return p, margin


def inverse_cdf(p, u):
    cum = np.cumsum(p)
    tok = int(np.searchsorted(cum, u, side="right"))
    tok = min(tok, int(np.nonzero(p)[0][-1]))
    lo = cum[tok - 1] if tok > 0 else 0.0
    first, last = np.nonzero(p)[0][[0, -1]]
    a = cum[tok] - u if tok != last else np.inf
    b = u - lo if tok != first else np.inf
    return tok, min(a, b)


SETTINGS = [
    dict(temperature=1.0, top_k=0, top_p=1.0, min_p=0.0),
    dict(temperature=0.7, top_k=40, top_p=1.0, min_p=0.0),
    dict(temperature=1.0, top_k=0, top_p=0.9, min_p=0.0),
    dict(temperature=1.5, top_k=0, top_p=1.0, min_p=0.05),
    dict(temperature=0.8, top_k=40, top_p=0.95, min_p=0.05),
    dict(temperature=0.6, top_k=20, top_p=0.8, min_p=0.0),
]


# 16-bit logits only where the row can hold distinct values (V <= 256): with
# ties, HF's and mlxn's tie rules differ by design (the C tests cover ties and
# 16-bit vocabularies against the float64 reference).
SHAPES = [("f32", 64, 50), ("f32", 32, 1000), ("f32", 4, 32000), ("f16", 64, 50), ("f16", 16, 256),
          ("bf16", 64, 50), ("bf16", 16, 256)]


@pytest.mark.parametrize("dtype,B,V", SHAPES)
@pytest.mark.parametrize("si", range(len(SETTINGS)))
def test_sample_matches_hf_warpers_on_mlx(device, rng, dtype, B, V, si):
    cfg = SETTINGS[si]
    xs, xv = encode(distinct_logits(rng, B, V, dtype), dtype)
    u = rng.random(B).astype(np.float32)
    enc = mlxn.Encoder(device)
    x = mlxn.Buffer.from_numpy(device, xs, dtype=dtype)
    ub = mlxn.Buffer.from_numpy(device, u)
    tok = mlxn.Buffer.new(device, "i32", (B,))
    lp = mlxn.Buffer.new(device, "f32", (B,))
    ms.softmax_sample(enc, x, ub, tok, lp, **cfg)
    enc.wait()
    got_t, got_lp = tok.numpy(), lp.numpy().astype(np.float64)
    for b in (x, ub, tok, lp, enc):
        b.close()
    T = np.float32(cfg["temperature"])
    probs = np.array(mx.softmax(mx_of(xv, dtype).astype(mx.float32) / mx.array(T), axis=-1)).astype(np.float64)
    skipped = 0
    for r in range(B):
        row = probs[r]
        srt = np.sort(xv[r])[::-1]
        k = cfg["top_k"]
        if 0 < k < V and srt[k - 1] == srt[k]:
            skipped += 1  # a tie at the k-th logit: HF and mlxn differ by design
            continue
        dist, tpm = hf_filtered(row, k, np.float32(cfg["top_p"]), np.float32(cfg["min_p"]))
        want, um = inverse_cdf(dist, float(u[r]))
        if min(tpm, um) < 2e-6:
            skipped += 1
            continue
        assert got_t[r] == want, (r, got_t[r], want, um, tpm)
        assert abs(got_lp[r] - np.log(dist[want])) <= 1e-4 + 1e-5 * abs(np.log(dist[want]))
    assert skipped <= B // 4 + 1


@pytest.mark.parametrize("dtype", DTYPES)
def test_greedy_matches_mlx_argmax(device, rng, dtype):
    B, V = 8, 5000
    xs, xv = encode(distinct_logits(rng, B, V, dtype), dtype)
    enc = mlxn.Encoder(device)
    x = mlxn.Buffer.from_numpy(device, xs, dtype=dtype)
    ub = mlxn.Buffer.from_numpy(device, rng.random(B).astype(np.float32))
    tok = mlxn.Buffer.new(device, "i32", (B,))
    lp = mlxn.Buffer.new(device, "f32", (B,))
    ms.softmax_sample(enc, x, ub, tok, lp, temperature=0.0, top_k=5, top_p=0.5)
    enc.wait()
    got_t, got_lp = tok.numpy(), lp.numpy()
    for b in (x, ub, tok, lp, enc):
        b.close()
    assert np.array_equal(got_t, np.array(mx.argmax(mx_of(xv, dtype), axis=-1)))
    assert np.all(got_lp == 0.0)


def test_sample_rejects_bad_params(device):
    enc = mlxn.Encoder(device)
    x = mlxn.Buffer.new(device, "f32", (2, 10))
    ub = mlxn.Buffer.new(device, "f32", (2,))
    tok = mlxn.Buffer.new(device, "i32", (2,))
    for bad, text in [(dict(temperature=-1.0), "temperature"), (dict(top_p=0.0), "top_p"),
                      (dict(min_p=1.5), "min_p")]:
        with pytest.raises(mlxn.MlxnError) as e:
            ms.softmax_sample(enc, x, ub, tok, **bad)
        assert text in e.value.message and e.value.message.startswith("softmax_sample:")
    assert ms.softmax_sample_workspace_size(device, 32, 151936) == 0
    for b in (x, ub, tok, enc):
        b.close()
