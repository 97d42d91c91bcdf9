"""PyTorch peer of `npm run bench:train` and `bench:scale`: the same Llama-family training step (forward,
per-token log-prob surrogate Σ c·logp, backward, AdamW), same shapes and threads, timed per step. With "lora"
({r, alpha}), the base is frozen and LoRA adapters (PEFT's math: W·x + alpha/r · B·A·x) on the seven projections
train, as PEFT does. Prints one JSON line. Run with OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE unset (they slow
OpenBLAS down)."""
import json, sys, time, math
import torch
import torch.nn.functional as F

args = json.loads(sys.argv[1])
c, B, T, steps, dtype = args["config"], args["B"], args["T"], args["steps"], args["dtype"]
torch.set_num_threads(args["threads"])
torch.manual_seed(0)
D, H, Hkv, hd, Fd, V = c["dim"], c["nHeads"], c["nKvHeads"], c["headDim"], c["ffnDim"], c["vocabSize"]
lora = args.get("lora")


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
        self.ad = torch.nn.ParameterDict()
        if lora:
            for n in ["q", "k", "v", "o", "g", "u", "d"]:
                w = getattr(self, n)
                self.ad[n + "A"] = torch.nn.Parameter(torch.randn(lora["r"], w.shape[1]) / math.sqrt(w.shape[1]))
                self.ad[n + "B"] = torch.nn.Parameter(torch.randn(w.shape[0], lora["r"]) * 0.01)

    def lin(self, n, x, bias=None):
        y = F.linear(x, getattr(self, n), bias)
        if lora:
            y = y + (lora["alpha"] / lora["r"]) * F.linear(F.linear(x, self.ad[n + "A"]), self.ad[n + "B"])
        return y


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
            q = b.lin("q", h, b.bq).view(B, T, H, hd)
            k = b.lin("k", h, b.bk).view(B, T, Hkv, hd)
            v = b.lin("v", h, b.bv).view(B, T, Hkv, hd)
            if b.qn is not None:
                q, k = rms(q, b.qn), rms(k, b.kn)
            q, k = rope(q.transpose(1, 2), cos, sin), rope(k.transpose(1, 2), cos, sin)
            v = v.transpose(1, 2)
            k, v = k.repeat_interleave(H // Hkv, 1), v.repeat_interleave(H // Hkv, 1)
            att = torch.softmax(q @ k.transpose(-1, -2) / math.sqrt(hd) + mask, -1)
            x = x + b.lin("o", (att @ v).transpose(1, 2).reshape(B, T, H * hd))
            h = rms(x, b.n2)
            x = x + b.lin("d", F.silu(b.lin("g", h)) * b.lin("u", h))
        logits = F.linear(rms(x, self.norm), self.emb if self.head is None else self.head)
        logp = torch.log_softmax(logits.float(), -1).gather(-1, tgt.unsqueeze(-1)).squeeze(-1)
        return (logp * coef).sum()


model = Model()
trainable = [p for n, p in model.named_parameters() if not lora or ".ad." in n]
for p in model.parameters():
    p.requires_grad_(any(p is t for t in trainable))
opt = torch.optim.AdamW(trainable, lr=1e-4)
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
    torch.nn.utils.clip_grad_norm_(trainable, 1.0)
    opt.step()
    opt.zero_grad(set_to_none=True)
    if i >= 2:
        times.append((time.perf_counter() - t0) * 1000)
times.sort()
print(json.dumps({"ms": times[len(times) // 2], "torch": torch.__version__}))
