"""Every CPU path against the authors' code, in one process, in alternating runs (the README's backend figures).

    python scripts/backend_speed.py ../shared/golden/v2_default/weights.safetensors --size 256 --repeats 5
    python scripts/backend_speed.py mirnet_v2-nf16-denoise --size 1024 --repeats 3

``plain`` is the model as the authors wrote it (eager PyTorch, fp32, NCHW, their formulation); ``torch (default:
PRECISION)`` is the engine's default PyTorch path (fast formulation, channels-last, the precision ``--precision
auto`` picks on this CPU); with ``--torch-bf16`` also the other of fp32 and bf16 (bf16 only where the CPU runs it
natively); then OpenVINO fp32 and bf16 and ONNX Runtime when installed. The variants run one after the other in every repeat, so a shared machine's load falls on all of them
alike; the speed-up is the ratio of medians. The first call of each (export, compile, warm-up) is not timed.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model", help="registry name or checkpoint")
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--threads", default="auto", help="as mirnet's --threads")
    parser.add_argument("--torch-bf16", action="store_true",
                        help="also PyTorch in the precision the default did not choose (fp32 or bf16)")
    parser.add_argument("--backends", default="openvino,onnxruntime",
                        help="compiled runtimes to add when installed (comma-separated; '' for PyTorch only)")
    args = parser.parse_args(argv)

    import torch

    from mirnet_cli import load_model
    from mirnet_cli.engine.backends import backend_available
    from mirnet_cli.engine.cpu import choose_threads
    from mirnet_cli.engine.inference import InferenceEngine
    from mirnet_cli.models.common import reference_forward

    threads = choose_threads(None if args.threads == "auto" else int(args.threads))  # applies it to PyTorch too
    plain_model = load_model(args.model).float().eval()
    model = load_model(args.model)
    x = torch.rand(1, 3, args.size, args.size, generator=torch.Generator().manual_seed(0))

    def plain():
        with torch.inference_mode(), reference_forward():
            return plain_model(x)

    variants = {"plain (authors' code)": plain}
    default = InferenceEngine(model, device="cpu", tile=0, threads=threads)
    chosen = str(default.dtype).replace("torch.", "").replace("bfloat16", "bf16").replace("float32", "fp32")
    engines = {f"torch (default: {chosen})": default}
    if args.torch_bf16:
        from mirnet_cli.engine.cpu import cpu_has_native_bf16

        for precision in ("fp32", "bf16") if cpu_has_native_bf16() else ("fp32",):  # emulated bf16: ~500x slower
            if precision != chosen:
                engines[f"torch {precision}"] = InferenceEngine(model, device="cpu", tile=0, precision=precision,
                                                                threads=threads)
    for backend, precision in (("openvino", "fp32"), ("openvino", "bf16"), ("onnxruntime", "fp32")):
        if backend in args.backends.split(",") and backend_available(backend):
            engines[f"{backend} {precision}"] = InferenceEngine(model, device="cpu", tile=0, backend=backend,
                                                                precision=precision, threads=threads)
    variants.update({name: (lambda e=e: e.run(x)) for name, e in engines.items()})
    reference = plain()
    for name, run in variants.items():
        out = run()  # export, compile, warm-up
        diff = float((out.float() - reference).abs().max())
        print(f"{name:24s} max abs difference to plain {diff:.1e}", file=sys.stderr)
    times: dict[str, list[float]] = {name: [] for name in variants}
    for _ in range(args.repeats):
        for name, run in variants.items():
            start = time.perf_counter()
            run()
            times[name].append(time.perf_counter() - start)
    base = statistics.median(times["plain (authors' code)"])
    from mirnet_cli.engine.cpu import cpu_has_amx, cpu_has_native_bf16

    isa = "AMX" if cpu_has_amx() else "AVX512-BF16, no AMX" if cpu_has_native_bf16() else "no native bf16"
    print(f"{args.model}  {args.size}x{args.size}  {threads} thread(s)  median of {args.repeats}  ({isa})")
    for name, values in times.items():
        median = statistics.median(values)
        print(f"{name:24s} {median * 1000:9.0f} ms   speed-up {base / median:5.2f}x")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
