"""Cost of the student's width: CPU seconds per training iteration and per megapixel restored, for n_feat 16/32/48.
(With chan_factor 1.5, MIRNet-v2's grouped convolutions need n_feat to be a multiple of 16.)

Usage (from the repository root):  python weights/bundled/model_choices.py [--widths 16,32,48] [--repeats 3]

Everything runs in one process on one thread, the widths measured in turn, round after round, and the best time of
each kept, so the ratios hold on a shared, noisy machine. A training iteration is the campaign's (batch 8 of 96²
patches, Charbonnier-like L1, Adam step) in fp32 and, where the CPU has native bf16, under bf16 autocast; a photo is
one 1024×1024 image through the inference engine's default path (fp32). Quality per CPU-hour comes from the
campaign's curves (weights/campaign/*/curve.csv): the ratio of these costs converts iterations into CPU time.
"""

from __future__ import annotations

import argparse
import time

import torch


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--widths", default="16,32,48")
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    from mirnet_cli import build_model
    from mirnet_cli.engine.cpu import cpu_has_native_bf16
    from mirnet_cli.engine.inference import InferenceEngine

    torch.set_num_threads(1)
    widths = [int(w) for w in args.widths.split(",")]
    bf16 = cpu_has_native_bf16()
    nets = {w: build_model("mirnet_v2", n_feat=w, chan_factor=1.5, n_MRB=2) for w in widths}
    x, y = torch.rand(8, 3, 96, 96), torch.rand(8, 3, 96, 96)
    photo = torch.rand(1024, 1024, 3).numpy()
    best: dict[tuple[int, str], float] = {}

    def step(net: torch.nn.Module, amp: bool) -> None:
        opt = torch.optim.Adam(net.parameters(), 1e-4)
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=amp):
            out = net(x)
        loss = (out.float() - y).abs().mean()
        opt.zero_grad()
        loss.backward()
        opt.step()

    for _ in range(args.repeats):
        for w, net in nets.items():
            for mode in ("fp32", "bf16") if bf16 else ("fp32",):
                net.train()
                t = time.perf_counter()
                step(net, mode == "bf16")
                best[(w, mode)] = min(best.get((w, mode), 1e9), time.perf_counter() - t)
            net.eval()
            engine = InferenceEngine(net, device="cpu", precision="fp32", tile=0, threads=1)
            t = time.perf_counter()
            engine.restore(photo)
            best[(w, "photo")] = min(best.get((w, "photo"), 1e9), time.perf_counter() - t)
    base = widths[0]
    print("n_feat | parameters | s / iteration fp32 | s / iteration bf16 | s / MP restored | cost vs n_feat "
          f"{base}")
    print("---|---|---|---|---|---")
    for w, net in nets.items():
        params = sum(p.numel() for p in net.parameters())
        it_bf = best.get((w, "bf16"))
        mode = "bf16" if bf16 else "fp32"
        print(f"{w} | {params:,} | {best[(w, 'fp32')]:.2f} | {it_bf:.2f} | {best[(w, 'photo')] / 1.048576:.2f} | "
              f"{best[(w, mode)] / best[(base, mode)]:.2f}× per iteration, "
              f"{best[(w, 'photo')] / best[(base, 'photo')]:.2f}× per photo" if it_bf is not None else
              f"{w} | {params:,} | {best[(w, 'fp32')]:.2f} | – | {best[(w, 'photo')] / 1.048576:.2f} | "
              f"{best[(w, 'fp32')] / best[(base, 'fp32')]:.2f}× per iteration, "
              f"{best[(w, 'photo')] / best[(base, 'photo')]:.2f}× per photo")


if __name__ == "__main__":
    main()
