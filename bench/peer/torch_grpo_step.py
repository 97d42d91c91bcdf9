"""PyTorch peer of `npm run bench:step`: one whole GRPO step with LoRA as a plain TRL-like loop (PEFT adapters, HF
generate without vLLM) does it, on a Llama-family model of the given shape with random weights, timed per stage:
  1. generation: the batch's prompts left-padded to the longest, KV-cache sampling at temperature 1, one token for
     every row per step until the longest completion's length (HF generate keeps decoding finished rows);
  2. reference: a no-grad pass of the padded prompt + completion batch with the adapters off (TRL's reference with
     PEFT), log-softmax of the completion positions only (TRL's logits_to_keep);
  3. update: the same pass with grad and adapters on, GRPO's per-token loss (ratio·advantage and the k3 KL to the
     reference, masked to each completion's real length, sequence-mean of token-means), backward, grad-norm clip,
     AdamW on the adapters.
The job (argv[1], JSON) gives the model config, threads, dtype ("bf16": base frozen in bf16 and torch.autocast
bfloat16, LoRA in fp32, as a bf16 PEFT run holds them; "f32": all fp32), lora {r, alpha} on all seven projections,
steps: [{prompts: [lengths], completions: [lengths]}], one entry per sequence, the shapes grpo-ts trained on, and
microBatch: sequences per reference / update pass (gradient accumulation; default the whole batch).
Prints one JSON line: seconds per stage for each step, the peak RSS and the CPU time used. Run with
OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE unset."""
import json, sys, time, math, resource
import torch
import torch.nn.functional as F

args = json.loads(sys.argv[1])
c, lora, steps = args["config"], args["lora"], args["steps"]
bf16 = args["dtype"] == "bf16"
torch.set_num_threads(args["threads"])
torch.manual_seed(0)
D, H, Hkv, hd, Fd, V, L = c["dim"], c["nHeads"], c["nKvHeads"], c["headDim"], c["ffnDim"], c["vocabSize"], c["nLayers"]
wdt = torch.bfloat16 if bf16 else torch.float32  # storage of the frozen base
r, scale = lora["r"], lora["alpha"] / lora["r"]
beta, temperature = args.get("klBeta", 0.04), args.get("temperature", 1.0)
micro = args.get("microBatch", 1 << 30)  # sequences per reference / update pass


class Linear:
    """A frozen base projection (and bias) with a PEFT LoRA adapter: W·x + b + alpha/r · B·A·x, A and B fp32."""

    def __init__(self, out, inp, bias=False):
        self.w = (torch.randn(out, inp) * 0.02).to(wdt)
        self.b = torch.zeros(out, dtype=wdt) if bias else None
        # B is not zero (PEFT starts it at 0) so that every adapter gets a gradient from the first step
        self.a = torch.nn.Parameter(torch.randn(r, inp) / math.sqrt(inp))
        self.bb = torch.nn.Parameter(torch.randn(out, r) * 0.01)

    def __call__(self, x, adapters):
        y = F.linear(x, self.w, self.b)
        return y + scale * F.linear(F.linear(x, self.a), self.bb) if adapters else y


class Block:
    def __init__(self):
        self.n1, self.n2 = torch.ones(D, dtype=wdt), torch.ones(D, dtype=wdt)
        bias = c["qkvBias"]
        self.q, self.k, self.v = Linear(H * hd, D, bias), Linear(Hkv * hd, D, bias), Linear(Hkv * hd, D, bias)
        self.o = Linear(D, H * hd)
        self.g, self.u, self.d = Linear(Fd, D), Linear(Fd, D), Linear(D, Fd)
        self.qn = torch.ones(hd, dtype=wdt) if c["qkNorm"] else None
        self.kn = torch.ones(hd, dtype=wdt) if c["qkNorm"] else None

    def params(self):
        return [p for m in (self.q, self.k, self.v, self.o, self.g, self.u, self.d) for p in (m.a, m.bb)]


emb = (torch.randn(V, D) * 0.02).to(wdt)
blocks = [Block() for _ in range(L)]
final_norm = torch.ones(D, dtype=wdt)
head = emb if c["tieEmbeddings"] else (torch.randn(V, D) * 0.02).to(wdt)
trainable = [p for b in blocks for p in b.params()]
opt = torch.optim.AdamW(trainable, lr=args.get("lr", 1e-5))
inv_freq = 1.0 / (c["ropeTheta"] ** (torch.arange(0, hd, 2).float() / hd))


def rms(x, w):
    x32 = x.float()
    return (x32 * torch.rsqrt(x32.pow(2).mean(-1, keepdim=True) + c["normEps"])).to(x.dtype) * w


def rope_tables(positions, dtype):  # [B, T] → cos, sin [B, 1, T, hd] in the activations' dtype (as HF casts them)
    ang = positions.float().unsqueeze(-1) * inv_freq
    ang = torch.cat((ang, ang), -1).unsqueeze(1)
    return ang.cos().to(dtype), ang.sin().to(dtype)


def rope(x, cos, sin):  # NeoX / Hugging Face half rotation
    h = x.shape[-1] // 2
    return x * cos + torch.cat((-x[..., h:], x[..., :h]), -1) * sin


def attention_mask(valid, Tq):  # key padding [B, Tk] and causality of the last Tq queries → additive [B, 1, 1, Tq, Tk]
    Tk = valid.shape[1]
    causal = torch.ones(Tq, Tk, dtype=torch.bool).tril(Tk - Tq)
    ok = causal.unsqueeze(0) & valid.unsqueeze(1)
    # a large finite value, as HF does: a padding query sees no key at all, and -inf would give it NaN that spreads
    return torch.zeros(ok.shape).masked_fill(~ok, -1e9).view(valid.shape[0], 1, 1, Tq, Tk)


def layer(b, x, cos, sin, mask, adapters, cache=None, at=0):
    Bn, T, _ = x.shape
    h = rms(x, b.n1)
    q = b.q(h, adapters).view(Bn, T, H, hd).transpose(1, 2)
    k = b.k(h, adapters).view(Bn, T, Hkv, hd).transpose(1, 2)
    v = b.v(h, adapters).view(Bn, T, Hkv, hd).transpose(1, 2)
    if b.qn is not None:
        q, k = rms(q, b.qn), rms(k, b.kn)
    q, k = rope(q, cos, sin), rope(k, cos, sin)
    if cache is not None:  # preallocated KV cache: write this step's rows, attend over everything so far
        kc, vc = cache
        kc[:, :, at:at + T], vc[:, :, at:at + T] = k, v
        k, v = kc[:, :, :at + T], vc[:, :, :at + T]
    # GQA: query head j reads KV head j // (H / Hkv), as HF's repeat_kv, without copying K and V
    q = q.reshape(Bn, Hkv, H // Hkv, T, hd)
    s = (q @ k.unsqueeze(2).transpose(-1, -2)) / math.sqrt(hd) + mask
    p = torch.softmax(s.float(), -1).to(q.dtype)  # HF eager attention: softmax in fp32
    o = (p @ v.unsqueeze(2)).reshape(Bn, H, T, hd).transpose(1, 2).reshape(Bn, T, H * hd)
    x = x + b.o(o, adapters)
    h = rms(x, b.n2)
    return x + b.d(F.silu(b.g(h, adapters)) * b.u(h, adapters), adapters)


def trunk(tok, valid, positions, adapters, caches=None, at=0):
    x = emb[tok]
    cos, sin = rope_tables(positions, torch.bfloat16 if bf16 else torch.float32)
    mask = attention_mask(valid, tok.shape[1])
    for i, b in enumerate(blocks):
        x = layer(b, x, cos, sin, mask, adapters, caches[i] if caches else None, at)
    return rms(x, final_norm)


def logits(h):
    return F.linear(h, head).float() / temperature


def generate(prompt, valid, positions, C):
    Bn, P = prompt.shape
    cdt = torch.bfloat16 if bf16 else torch.float32
    caches = [(torch.empty(Bn, Hkv, P + C, hd, dtype=cdt), torch.empty(Bn, Hkv, P + C, hd, dtype=cdt)) for _ in blocks]
    sample = lambda h: torch.multinomial(torch.softmax(logits(h[:, -1]), -1), 1)
    out = [sample(trunk(prompt, valid[:, :P], positions[:, :P], True, caches))]  # prefill: the head on the last position only
    for t in range(P, P + C - 1):
        out.append(sample(trunk(out[-1], valid[:, :t + 1], positions[:, t:t + 1], True, caches, t)))
    return torch.cat(out, 1)


def completion_logp(ids, valid, positions, P, adapters):
    h = trunk(ids, valid, positions, adapters)[:, P - 1:-1]  # the positions that predict completion tokens
    return torch.log_softmax(logits(h), -1).gather(-1, ids[:, P:].unsqueeze(-1)).squeeze(-1)


def step(shape):
    plens, clens = shape["prompts"], shape["completions"]
    Bn, P, C = len(plens), max(plens), max(clens)
    prompt = torch.randint(0, V, (Bn, P))
    valid = torch.ones(Bn, P + C, dtype=torch.bool)
    for i, n in enumerate(plens):
        valid[i, :P - n] = False  # left padding, as TRL pads prompts
    positions = (valid.long().cumsum(-1) - 1).clamp(min=0)
    cmask = (torch.arange(C).unsqueeze(0) < torch.tensor(clens).unsqueeze(1)).float()
    adv = torch.randn(Bn)
    ac = lambda: torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16)
    t0 = time.perf_counter()
    with torch.no_grad(), ac():
        ids = torch.cat((prompt, generate(prompt, valid, positions, C)), 1)
    t1 = time.perf_counter()
    # reference and update in micro-batches of the padded batch (gradient accumulation), as grpo-ts's passes go
    parts = [slice(i, i + micro) for i in range(0, Bn, micro)]
    with torch.no_grad(), ac():
        ref = torch.cat([completion_logp(ids[p], valid[p], positions[p], P, adapters=False) for p in parts])
    t2 = time.perf_counter()
    for p in parts:
        with ac():
            logp = completion_logp(ids[p], valid[p], positions[p], P, adapters=True)
            d = ref[p] - logp
            per_token = -torch.exp(logp - logp.detach()) * adv[p].unsqueeze(1) + beta * (torch.exp(d) - d - 1)
            loss = ((per_token * cmask[p]).sum(-1) / cmask[p].sum(-1)).sum() / Bn  # sequence mean over the whole batch
        if not torch.isfinite(loss):
            raise RuntimeError(f"non-finite loss {loss.item()}")
        loss.backward()
    torch.nn.utils.clip_grad_norm_(trainable, 1.0)
    opt.step()
    opt.zero_grad(set_to_none=True)
    t3 = time.perf_counter()
    return {"generate": t1 - t0, "reference": t2 - t1, "update": t3 - t2, "padded": [Bn, P, C]}


times = [step(s) for s in steps]
usage = resource.getrusage(resource.RUSAGE_SELF)
peak = usage.ru_maxrss * 1024 / 1e9  # KiB on Linux; GB = 1e9 bytes
print(json.dumps({"torch": torch.__version__, "threads": torch.get_num_threads(), "peak_rss_gb": peak, "cpu_s": usage.ru_utime + usage.ru_stime, "steps": times}))
