"""PyTorch peer of `npm run bench:train`: the same Llama-family training step (forward, per-token log-prob
surrogate Σ c·logp, backward, AdamW), same shapes and threads, timed per step. Prints one JSON line.
Run with OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE unset (they slow OpenBLAS down)."""
import json, sys, time, math
import torch
import torch.nn.functional as F

args = json.loads(sys.argv[1])
c, B, T, steps, dtype = args["config"], args["B"], args["T"], args["steps"], args["dtype"]
torch.set_num_threads(args["threads"])
torch.manual_seed(0)
D, H, Hkv, hd, Fd, V = c["dim"], c["nHeads"], c["nKvHeads"], c["headDim"], c["ffnDim"], c["vocabSize"]


def P(*shape, std=0.02):
    return torch.nn.Parameter(torch.randn(*shape) * std)


class Block(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.n1, self.n2 = torch.nn.Parameter(torch.ones(D)), torch.nn.Parameter(torch.ones(D))
        self.q, self.k, self.v, self.o = P(H * hd, D), P(Hkv * hd, D), P(Hkv * hd, D), P(D, H * hd)
        self.bq = P(H * hd) if c["qkvBias"] else None
        self.bk = P(Hkv * hd) if c["qkvBias"] else None
        self.bv = P(Hkv * hd) if c["qkvBias"] else None
        self.qn = torch.nn.Parameter(torch.ones(hd)) if c["qkNorm"] else None
        self.kn = torch.nn.Parameter(torch.ones(hd)) if c["qkNorm"] else None
        self.g, self.u, self.d = P(Fd, D), P(Fd, D), P(D, Fd)


def rms(x, w):
    x32 = x.float()
    return (x32 * torch.rsqrt(x32.pow(2).mean(-1, keepdim=True) + c["normEps"])).to(x.dtype) * w


def rope(x, cos, sin):  # NeoX / Hugging Face half rotation
    h = x.shape[-1] // 2
    return x * cos + torch.cat((-x[..., h:], x[..., :h]), -1) * sin


class Model(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.emb = P(V, D)
        self.blocks = torch.nn.ModuleList(Block() for _ in range(c["nLayers"]))
        self.norm = torch.nn.Parameter(torch.ones(D))
        self.head = None if c["tieEmbeddings"] else P(V, D)

    def forward(self, tok, tgt, coef, cos, sin, mask):
        x = self.emb[tok]
        for b in self.blocks:
            h = rms(x, b.n1)
            q = F.linear(h, b.q, b.bq).view(B, T, H, hd)
            k = F.linear(h, b.k, b.bk).view(B, T, Hkv, hd)
            v = F.linear(h, b.v, b.bv).view(B, T, Hkv, hd)
            if b.qn is not None:
                q, k = rms(q, b.qn), rms(k, b.kn)
            q, k = rope(q.transpose(1, 2), cos, sin), rope(k.transpose(1, 2), cos, sin)
            v = v.transpose(1, 2)
            k, v = k.repeat_interleave(H // Hkv, 1), v.repeat_interleave(H // Hkv, 1)
            att = torch.softmax(q @ k.transpose(-1, -2) / math.sqrt(hd) + mask, -1)
            x = x + F.linear((att @ v).transpose(1, 2).reshape(B, T, H * hd), b.o)
            h = rms(x, b.n2)
            x = x + F.linear(F.silu(F.linear(h, b.g)) * F.linear(h, b.u), b.d)
        logits = F.linear(rms(x, self.norm), self.emb if self.head is None else self.head)
        logp = torch.log_softmax(logits.float(), -1).gather(-1, tgt.unsqueeze(-1)).squeeze(-1)
        return (logp * coef).sum()


model = Model()
opt = torch.optim.AdamW(model.parameters(), lr=1e-4)
tok = torch.randint(0, V, (B, T))
tgt = torch.randint(0, V, (B, T))
coef = torch.full((B, T), -1.0 / (B * T))
inv = 1.0 / (c["ropeTheta"] ** (torch.arange(0, hd, 2).float() / hd))
ang = torch.outer(torch.arange(T).float(), inv)
cos, sin = torch.cat((ang.cos(), ang.cos()), -1), torch.cat((ang.sin(), ang.sin()), -1)
mask = torch.full((T, T), float("-inf")).triu(1)
times = []
for i in range(steps + 2):
    t0 = time.perf_counter()
    with torch.autocast("cpu", dtype=torch.bfloat16, enabled=dtype == "bf16"):
        loss = model(tok, tgt, coef, cos, sin, mask)
    loss.backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
    opt.step()
    opt.zero_grad(set_to_none=True)
    if i >= 2:
        times.append((time.perf_counter() - t0) * 1000)
times.sort()
print(json.dumps({"ms": times[len(times) // 2], "torch": torch.__version__}))
