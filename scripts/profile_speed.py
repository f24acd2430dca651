"""Where a forward pass spends its CPU time, by kind of operation (the README's profile of the fp32 lead).

    python scripts/profile_speed.py ../shared/golden/v2_default/weights.safetensors --size 256 --threads 1
    python scripts/profile_speed.py mirnet_v2-nf16-denoise --size 256 --threads 2 --paths plain,fp32,bf16

Each path (``plain``: the authors' code, eager fp32 NCHW; ``fp32`` / ``bf16``: the engine's default formulation,
channels-last, in that precision) runs ``--repeats`` times under ``torch.profiler`` after a warm-up; the self CPU
time of every operator is attributed to one kind: 3×3 convolutions (dense / grouped by their ``groups``), 1×1
convolutions on feature maps, 1×1 convolutions on the pooled vectors (SKFF, context block), pooling, softmax,
matrix products (the context block's attention pooling), element-wise (activations, adds, multiplies), resampling,
layout conversions and copies (``copy_``, ``contiguous``, casts), the allocator (``empty*``) and the rest. The
figures are ms per forward pass; ``wall`` is the median time of as many passes without the profiler. Paths
alternate (one unprofiled and one profiled pass each per repeat), so a shared machine's load falls on all alike.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections import defaultdict

KINDS = ("conv 3x3 dense", "conv 3x3 grouped", "conv 1x1 maps", "conv 1x1 vectors", "pool", "softmax", "matmul",
         "elementwise", "resample", "layout/copy/cast", "allocator", "other")

_CONV_OPS = {"aten::mkldnn_convolution", "aten::_convolution", "aten::convolution", "aten::conv2d",
             "aten::thnn_conv2d", "aten::_slow_conv2d_forward", "aten::slow_conv_dilated2d",
             "aten::_nnpack_spatial_convolution", "aten::_convolution_mode"}


def kind_of(name: str, shapes: list) -> str:
    if name in _CONV_OPS:
        if len(shapes) < 2 or len(shapes[0]) != 4 or len(shapes[1]) != 4:
            return "other"
        x, w = shapes[0], shapes[1]
        if x[2] == 1 and x[3] == 1:
            return "conv 1x1 vectors"
        if w[2] == 1 and w[3] == 1:
            return "conv 1x1 maps"
        return "conv 3x3 grouped" if w[1] and x[1] // w[1] > 1 else "conv 3x3 dense"
    if any(k in name for k in ("pool", "mean", "sum")):
        return "pool"
    if "softmax" in name:
        return "softmax"
    if any(k in name for k in ("mm", "matmul", "bmm", "linear")):
        return "matmul"
    if "upsample" in name:
        return "resample"
    if any(k in name for k in ("copy", "contiguous", "clone", "_to_copy", "aten::to", "permute", "reshape", "view",
                               "transpose", "as_strided")):
        return "layout/copy/cast"
    if any(k in name for k in ("empty", "resize", "zeros")):
        return "allocator"
    if any(k in name for k in ("relu", "add", "mul", "cat", "div", "sub", "stack", "fill", "clamp")):
        return "elementwise"
    return "other"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model", help="registry name or checkpoint")
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--paths", default="plain,fp32", help="comma-separated: plain, fp32, bf16")
    parser.add_argument("--top", type=int, default=0, help="also list the N most expensive operators per path")
    args = parser.parse_args(argv)

    import torch
    from torch.profiler import ProfilerActivity, profile

    from mirnet_cli import load_model
    from mirnet_cli.engine.inference import InferenceEngine
    from mirnet_cli.models.common import reference_forward

    torch.set_num_threads(args.threads)
    x = torch.rand(1, 3, args.size, args.size, generator=torch.Generator().manual_seed(0))
    plain_model = load_model(args.model).float().eval()
    runs = {}
    for path in args.paths.split(","):
        if path == "plain":
            def plain():
                with torch.inference_mode(), reference_forward():
                    return plain_model(x)
            runs[path] = plain
        else:
            engine = InferenceEngine(load_model(args.model), device="cpu", tile=0, precision=path)
            runs[path] = lambda e=engine: e.run(x)
    table: dict[str, dict[str, float]] = {}
    walls: dict[str, float] = {}
    tops: dict[str, list[tuple[str, float]]] = {}
    kinds: dict[str, dict[str, float]] = {path: defaultdict(float) for path in runs}
    per_op: dict[str, dict[str, float]] = {path: defaultdict(float) for path in runs}
    times: dict[str, list[float]] = {path: [] for path in runs}
    for run in runs.values():
        run()  # warm-up
    for _ in range(args.repeats):  # alternating, so that the machine's load falls on every path alike
        for path, run in runs.items():
            t0 = time.perf_counter()
            run()
            times[path].append(time.perf_counter() - t0)
            with profile(activities=[ProfilerActivity.CPU], record_shapes=True) as prof:
                run()
            for evt in prof.key_averages(group_by_input_shape=True):
                ms = evt.self_cpu_time_total / 1000 / args.repeats
                kinds[path][kind_of(evt.key, list(evt.input_shapes or []))] += ms
                per_op[path][f"{evt.key} {evt.input_shapes}"[:110]] += ms
    for path in runs:
        table[path] = dict(kinds[path])
        walls[path] = statistics.median(times[path]) * 1000
        tops[path] = sorted(per_op[path].items(), key=lambda kv: -kv[1])[: args.top]
    names = list(runs)
    print(f"{args.model}  {args.size}x{args.size}  {args.threads} thread(s)  ms per forward (profiler self time)")
    print(f"{'kind':20s}" + "".join(f"{n:>12s}" for n in names))
    for kind in KINDS:
        if any(table[n].get(kind, 0) >= 0.05 for n in names):
            print(f"{kind:20s}" + "".join(f"{table[n].get(kind, 0.0):12.1f}" for n in names))
    print(f"{'sum (profiled)':20s}" + "".join(f"{sum(table[n].values()):12.1f}" for n in names))
    print(f"{'wall (no profiler)':20s}" + "".join(f"{walls[n]:12.1f}" for n in names))
    for path in names:
        for op, ms in tops[path]:
            print(f"  {path:6s} {ms:8.2f} ms  {op}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
