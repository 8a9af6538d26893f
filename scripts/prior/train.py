#!/usr/bin/env python3
"""train.py - learns a prior (start weights) for a FADE preset offline.

The FADE model (codec/model_pass.h) is rebuilt here in PyTorch with the same
tensors in the same layout (W[in][out]), so that weights trained here load
into the C model unchanged.  Exactness does not matter here (DESIGN.md):
the prior is only where online learning starts; every coded probability is
still computed by the C model.  The online model is reproduced as it runs
inside a block:

  * every training segment is a sub-stream start: its context is padded
    with byte 0 and its global cache starts as GeGLU_full of the padded
    context (cache0), exactly as mdl_reset leaves a stream;
  * at step t >= 1 the cache has dropped its oldest L features and gained
    GeGLU_last(newest context position of the LayerNorm'd embedding),
    features detached from the gradient (as in the C model); the two
    global GeGLUs are the preset's seeded, untrained tensors, read from
    `fade_prior fixed`;
  * one U and one coarse bias are trained (stream 0's); the C model starts
    every stream from them.

Usage:
  train.py --init INIT --fixed FIXED --data DATA --out OUT [--seconds S]
           [--segment N] [--batch B] [--lr LR]
  train.py --init PRIOR --fixed FIXED --probe FILE [--probe-bytes N]

INIT is `fade_prior init PRESET` output (the seeded start values in prior
format, also what the dimensions are read from); DATA is a file of training
bytes with an index DATA.idx of document start offsets (u64 LE), written by
scripts/prior/collect.sh.  --probe prints the bits per byte of the first N
bytes of FILE with no training, using the C model's frequency rule; it
must agree with `fade_prior probe` on the same prior (checked before a
trained prior is committed).
"""
import argparse
import math
import struct
import sys
import time

import torch
import torch.nn.functional as Fn

MAGIC = b"FADEPRI1"
V = 256
FREQ_TOTAL = 1 << 16


def crc32c(data):
    tab = []
    for i in range(256):
        c = i
        for _ in range(8):
            c = (c >> 1) ^ (0x82F63B78 if c & 1 else 0)
        tab.append(c)
    crc = 0xFFFFFFFF
    for b in data:
        crc = tab[(crc ^ b) & 0xFF] ^ (crc >> 8)
    return crc ^ 0xFFFFFFFF


def shapes(T, D, G, L, F, H):
    """Trained tensors in prior order (enum mdl_par, then S_U, S_BIAS)."""
    TD, C = T * D, T * D // 2
    return [
        ("emb", (V, D)), ("ln0_w", (TD,)), ("ln0_b", (TD,)),
        ("ll_w", (D,)), ("ll_b", (D,)), ("conv_w", (D, 3)), ("conv_b", (D,)),
        ("gout_w", (G, TD)), ("gout_b", (TD,)), ("gskip", (1,)),
        ("gate_w", (TD, TD)), ("gate_b", (TD,)),
        ("cln_w", (C,)), ("cln_b", (C,)), ("cdown_w", (C, H)), ("cdown_b", (H,)),
        ("cup_w", (H, C)), ("cup_b", (C,)), ("cgate_w", (C, C)), ("cgate_b", (C,)),
        ("cskip", (1,)),
        ("fln1_w", (TD,)), ("fln1_b", (TD,)), ("fglu_w", (TD, 2 * F)), ("fglu_b", (2 * F,)),
        ("fout_w", (F, TD)), ("fout_b", (TD,)), ("fln2_w", (TD,)), ("fln2_b", (TD,)),
        ("fskip", (1,)), ("out_w", (TD, V)), ("out_b", (V,)),
        ("U", (H, H)), ("bias", (2, C)),
    ]


def read_prior(path):
    b = open(path, "rb").read()
    if b[:8] != MAGIC or len(b) < 40:
        sys.exit(f"{path}: not a prior")
    if struct.unpack_from("<I", b, len(b) - 4)[0] != crc32c(b[:-4]):
        sys.exit(f"{path}: checksum mismatch")
    dims = struct.unpack_from("<6I", b, 8)
    n = struct.unpack_from("<I", b, 32)[0]
    vals = torch.frombuffer(bytearray(b[36:36 + 4 * n]), dtype=torch.float32)
    params, o = {}, 0
    for name, shp in shapes(*dims):
        k = math.prod(shp)
        params[name] = vals[o:o + k].clone().reshape(shp)
        o += k
    if o != n:
        sys.exit(f"{path}: {n} floats, dimensions want {o}")
    return dims, params


def write_prior(path, dims, params):
    T, D, G, L, F, H = dims
    flat = torch.cat([params[name].detach().float().cpu().reshape(-1)
                      for name, _ in shapes(*dims)])
    body = MAGIC + struct.pack("<7I", T, D, G, L, F, H, flat.numel())
    body += flat.numpy().astype("<f4").tobytes()
    open(path, "wb").write(body + struct.pack("<I", crc32c(body)))


def read_fixed(path, dims, device, dtype):
    T, D, G, L, F, H = dims
    TD = T * D
    raw = open(path, "rb").read()
    v = torch.frombuffer(bytearray(raw), dtype=torch.float32)
    sizes = [("full_w", (TD, 2 * G)), ("full_b", (2 * G,)),
             ("last_w", (D, 2 * L)), ("last_b", (2 * L,))]
    out, o = {}, 0
    for name, shp in sizes:
        k = math.prod(shp)
        out[name] = v[o:o + k].reshape(shp).to(device, dtype)
        o += k
    if o != v.numel():
        sys.exit(f"{path}: {v.numel()} floats, dimensions want {o}")
    return out


def ln(x, w, b):
    return Fn.layer_norm(x, (x.shape[-1],), w, b, 1e-5)


def forward(p, fx, dims, X):
    """Logits [B, S, 256] for segments X [B, S] (int64), each a stream start."""
    T, D, G, L, F, H = dims
    TD, C, K = T * D, T * D // 2, G // L
    B, S = X.shape
    P = torch.cat([torch.zeros(B, T, dtype=X.dtype, device=X.device), X], 1)
    E = p["emb"][P]                                        # [B, T+S, D]
    win = E.unfold(1, T, 1)[:, :S].permute(0, 1, 3, 2)     # [B, S, T, D]
    e = win.reshape(B, S, TD)
    s = ln(e, p["ln0_w"], p["ln0_b"])

    with torch.no_grad():
        e0 = p["emb"][0].repeat(T)
        s0 = ln(e0, p["ln0_w"], p["ln0_b"])
        full = s0 @ fx["full_w"] + fx["full_b"]
        cache0 = (Fn.gelu(full[:G]) * full[G:]).reshape(K, L)
        last = s[:, :, (T - 1) * D:] @ fx["last_w"] + fx["last_b"]
        feat = Fn.gelu(last[..., :L]) * last[..., L:]      # f_j, appended at step j
        seq = torch.cat([cache0.expand(B, K, L), feat[:, 1:]], 1)   # [B, K+S-1, L]
        cache = seq.unfold(1, K, 1).permute(0, 1, 3, 2).reshape(B, S, G)

    glob = Fn.gelu(cache @ p["gout_w"] + p["gout_b"]) + p["gskip"] * s

    u = ln(win, p["ll_w"], p["ll_b"])                      # [B, S, T, D]
    cw = p["conv_w"]
    pre = u * cw[:, 1] + p["conv_b"]
    pre = pre + Fn.pad(u[:, :, :-1], (0, 0, 1, 0)) * cw[:, 0]
    pre = pre + Fn.pad(u[:, :, 1:], (0, 0, 0, 1)) * cw[:, 2]
    loc = Fn.gelu(pre).reshape(B, S, TD)

    a = torch.sigmoid(s @ p["gate_w"] + p["gate_b"])
    h = a * glob + (1 - a) * loc

    hc = h.reshape(B, S, 2, C)
    ck = ln(hc, p["cln_w"], p["cln_b"])
    cdn = ck @ p["cdown_w"] + p["cdown_b"]
    cup = (cdn @ p["U"]) @ p["cup_w"] + p["cup_b"]
    cg = torch.sigmoid(ck @ p["cgate_w"] + p["cgate_b"])
    cout = (cup * cg + p["bias"] + p["cskip"] * ck).reshape(B, S, TD)

    n1 = ln(cout, p["fln1_w"], p["fln1_b"])
    zz = n1 @ p["fglu_w"] + p["fglu_b"]
    z = Fn.gelu(zz[..., :F]) * zz[..., F:]
    z3 = ln(z @ p["fout_w"] + p["fout_b"], p["fln2_w"], p["fln2_b"])
    fo = Fn.gelu(z3) + p["fskip"] * n1
    return fo @ p["out_w"] + p["out_b"]


def probe(args):
    dims, p = read_prior(args.init)
    p = {k: v.double() for k, v in p.items()}
    fx = read_fixed(args.fixed, dims, "cpu", torch.float64)
    data = open(args.probe, "rb").read()[:args.probe_bytes]
    X = torch.tensor(list(data), dtype=torch.int64).unsqueeze(0)
    with torch.no_grad():
        prob = torch.softmax(forward(p, fx, dims, X)[0].float(), -1)
    # the C frequency rule (model.h) on binary32 probabilities
    f = 1 + torch.floor(prob * float(FREQ_TOTAL - V)).long()
    best = f.argmax(-1)
    f[torch.arange(f.shape[0]), best] += FREQ_TOTAL - f.sum(-1)
    fx_true = f[torch.arange(f.shape[0]), X[0]].double()
    bits = -torch.log2(fx_true / FREQ_TOTAL)
    for t in range(min(4, len(data))):
        print(f"pos {t}: {bits[t].item():.4f} bits")
    print(f"probe: {len(data)} bytes, {bits.mean().item():.4f} bits/byte")


def train(args):
    dev = "cuda" if torch.cuda.is_available() else "cpu"
    torch.backends.cuda.matmul.allow_tf32 = True
    torch.manual_seed(args.seed)
    dims, p0 = read_prior(args.init)
    fx = read_fixed(args.fixed, dims, dev, torch.float32)
    p = {k: v.to(dev).requires_grad_(True) for k, v in p0.items()}
    data = torch.frombuffer(bytearray(open(args.data, "rb").read()), dtype=torch.uint8)
    idx = open(args.data + ".idx", "rb").read()
    starts = torch.tensor(struct.unpack(f"<{len(idx) // 8}Q", idx), dtype=torch.int64)
    n, S, B = data.numel(), args.segment, args.batch
    starts = starts[starts + S <= n]
    data = data.to(dev)
    starts = starts.to(dev)
    hold = max(S, min(int(n * 0.02), args.heldout) // S * S)   # the tail: held out
    print(f"data {n} bytes, {starts.numel()} documents, device {dev}, dims {dims}",
          flush=True)
    opt = torch.optim.Adam(p.values(), lr=args.lr)
    ar = torch.arange(S, device=dev)

    def batch(gen_from_doc):
        k = torch.randint(0, n - hold - S, (B,), device=dev)
        if gen_from_doc:        # a quarter of the segments start a document
            j = torch.randint(0, starts.numel(), (B // 4,), device=dev)
            k[:B // 4] = torch.clamp(starts[j], max=n - hold - S)
        return data[k[:, None] + ar].long()

    def held_out():
        with torch.no_grad():
            tot, cnt = 0.0, 0
            for o in range(n - hold, n - S + 1, S * B):
                ks = torch.arange(o, min(o + S * B, n - S + 1), S, device=dev)
                X = data[ks[:, None] + ar].long()
                tot += Fn.cross_entropy(forward(p, fx, dims, X).reshape(-1, V),
                                        X.reshape(-1), reduction="sum").item()
                cnt += X.numel()
            return tot / max(cnt, 1) / math.log(2)

    print(f"held-out before: {held_out():.4f} bits/byte", flush=True)
    t0, step = time.time(), 0
    while time.time() - t0 < args.seconds:
        frac = (time.time() - t0) / args.seconds
        for g in opt.param_groups:          # warm-up, then cosine decay
            g["lr"] = args.lr * min(1.0, (step + 1) / 200) * 0.5 * (1 + math.cos(math.pi * frac))
        X = batch(True)
        loss = Fn.cross_entropy(forward(p, fx, dims, X).reshape(-1, V), X.reshape(-1))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(p.values(), 1.0)
        opt.step()
        step += 1
        if step % 200 == 0:
            el = time.time() - t0
            print(f"step {step} {el:.0f}s loss {loss.item() / math.log(2):.4f} bits/byte "
                  f"{step * B * S / el / 1e6:.2f} M positions/s", flush=True)
    print(f"held-out after {step} steps: {held_out():.4f} bits/byte", flush=True)
    write_prior(args.out, dims, p)
    print(f"wrote {args.out}", flush=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--init", required=True)
    ap.add_argument("--fixed", required=True)
    ap.add_argument("--data")
    ap.add_argument("--out")
    ap.add_argument("--seconds", type=float, default=300)
    ap.add_argument("--segment", type=int, default=1024)
    ap.add_argument("--batch", type=int, default=256)
    ap.add_argument("--lr", type=float, default=2e-3)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--heldout", type=int, default=1 << 20, help="held-out bytes (at most 2%%)")
    ap.add_argument("--probe")
    ap.add_argument("--probe-bytes", type=int, default=4096)
    args = ap.parse_args()
    if args.probe:
        probe(args)
    elif args.data and args.out:
        train(args)
    else:
        ap.error("need --probe FILE or --data DATA --out OUT")


if __name__ == "__main__":
    main()
