"""Fine-tuning throughput of Pasture's trainer on a LLaMA-7B-shaped model: tokens/s, MFU, Alpaca epoch time.

    python bench/train_bench.py            # CUDA: random LLaMA-7B shape, bf16, LoRA (Pasture's defaults)
    python bench/train_bench.py --method full --micro-batch-size 2   # full fine-tune (needs an H200)
    python bench/train_bench.py --tiny     # the same code path on the CPU with a 2-layer model

Run from the repository root with Pasture's trainer extra installed (or PYTHONPATH=.).

The model is randomly initialised (no download); the batches are synthetic token ids whose lengths follow
Alpaca-52K: taken from an Alpaca-like JSONL (--lengths-from, default data/alpaca_like.jsonl; each record
rendered with the Alpaca template, its characters divided by --chars-per-token) when there is one, else
drawn from a log-normal with median 150 tokens; capped at 512.
Batches go through Pasture's own pieces: `add_lora`, the length-grouped order the Trainer uses, and
`CompletionCollator` padding. The reference measured in the same run is the same model on the same
examples in random order, which shows what length grouping saves.

FLOPs per trained (non-padding) token, counting matmuls only (N = parameters of every Linear layer,
lm_head included, embeddings excluded; L layers, width d, sequence length s):
    forward                      2N + 2Lds    (attention scores and values under a causal mask)
    backward, LoRA               2N + 4Lds    (activation gradients flow through the frozen weights,
                                               which get no weight gradient; LoRA's own is negligible)
    backward, full               4N + 4Lds    (activation and weight gradients)
so 4N + 6Lds per token for LoRA and 6N + 6Lds for full fine-tuning. Recomputation from gradient
checkpointing is not counted (that would be hardware FLOPs, not model FLOPs). MFU also appears under
the common 6N convention so it compares with published numbers. Peak: H100/H200 SXM bf16 dense
989 TFLOP/s (A100 312); override with --peak-tflops.
"""

from __future__ import annotations

import argparse
import json
import math
import random
import statistics
import time
from dataclasses import dataclass
from pathlib import Path

import torch
from transformers import LlamaConfig, LlamaForCausalLM
from transformers.trainer_pt_utils import get_length_grouped_indices

from app.trainer.config import TrainConfig
from app.trainer.data import IGNORE_INDEX, CompletionCollator, EncodedExample
from app.trainer.model import add_lora, count_parameters
from app.trainer.template import ALPACA

ALPACA_EXAMPLES = 52_002
ALPACA_EPOCHS = 3
REPO = Path(__file__).resolve().parents[1]
LENGTHS_FILES = (REPO / "data" / "alpaca_like.jsonl", REPO / "shared" / "data" / "alpaca_like.jsonl")
PEAK_BF16_FLOPS = {"H100": 989e12, "H200": 989e12, "A100": 312e12}

LLAMA_7B = LlamaConfig(
    vocab_size=32_000,
    hidden_size=4096,
    intermediate_size=11_008,
    num_hidden_layers=32,
    num_attention_heads=32,
    num_key_value_heads=32,
    max_position_embeddings=2048,
)
TINY = LlamaConfig(
    vocab_size=1024,
    hidden_size=64,
    intermediate_size=172,
    num_hidden_layers=2,
    num_attention_heads=4,
    num_key_value_heads=4,
    max_position_embeddings=2048,
)


@dataclass
class Measurement:
    name: str
    seconds: float
    tokens: int  # trained tokens, padding excluded
    padded_tokens: int
    model_flops: float
    flops_6n: float
    peak_memory_mb: float | None

    @property
    def tokens_per_second(self) -> float:
        return self.tokens / self.seconds

    @property
    def padding_share(self) -> float:
        return 1 - self.tokens / self.padded_tokens


def alpaca_lengths(path: Path, chars_per_token: float, max_length: int, seed: int) -> list[int]:
    """Token counts of Alpaca-like examples (prompt + response + EOS), capped at max_length."""
    if path.is_file():
        lengths = []
        with path.open(encoding="utf-8") as handle:
            for line in handle:
                row = json.loads(line)
                text = ALPACA.render(row["instruction"], row.get("input") or "") + row["output"]
                lengths.append(min(max_length, math.ceil(len(text) / chars_per_token) + 2))  # + BOS, EOS
        return lengths
    rng = random.Random(seed)
    return [min(max_length, max(16, round(rng.lognormvariate(math.log(150), 0.55)))) for _ in range(52_002)]


def optimizer_steps(
    lengths: list[int], micro: int, accumulation: int, steps: int, grouped: bool, seed: int
) -> list[list[list[int]]]:
    """`steps` optimizer steps (each `accumulation` micro-batches of example lengths) spread evenly over an
    epoch in the order the Trainer would feed it, so a short run sees short and long batches alike."""
    generator = torch.Generator().manual_seed(seed)
    if grouped:
        # As the Trainer's LengthGroupedSampler: batch_size = micro batch x gradient accumulation.
        order = get_length_grouped_indices(lengths, micro * accumulation, generator=generator)
    else:
        order = torch.randperm(len(lengths), generator=generator).tolist()
    batches = [
        [lengths[index] for index in order[start : start + micro]] for start in range(0, len(order), micro)
    ]
    windows = len(batches) // accumulation
    stride = max(1, windows // steps)
    return [
        batches[window * accumulation : (window + 1) * accumulation]
        for window in range(0, stride * steps, stride)
    ]


def synthetic_batch(
    batch_lengths: list[int], vocab: int, collator: CompletionCollator, device: torch.device
) -> dict[str, torch.Tensor]:
    examples = []
    for length in batch_lengths:
        ids = torch.randint(3, vocab, (length,)).tolist()
        prompt = length * 2 // 5  # prompt tokens carry no loss, as in real examples
        examples.append(EncodedExample(ids, [IGNORE_INDEX] * prompt + ids[prompt:]))
    batch = collator([{"input_ids": e.input_ids, "labels": e.labels} for e in examples])
    return {key: value.to(device) for key, value in batch.items()}


def linear_parameters(model: torch.nn.Module) -> int:
    """N: weights of every Linear in the base model (LoRA's adapter matrices are left out)."""
    return sum(
        module.weight.numel()
        for name, module in model.named_modules()
        if isinstance(module, torch.nn.Linear) and "lora_" not in name
    )


def build_model(
    config: LlamaConfig, method: str, device: torch.device, dtype: torch.dtype, checkpointing: bool
) -> torch.nn.Module:
    torch.manual_seed(0)
    with torch.device(device):
        model = LlamaForCausalLM._from_config(config, dtype=dtype, attn_implementation="sdpa")
    model.config.use_cache = False
    if checkpointing:  # as the Trainer does on GPUs; non-reentrant, so frozen inputs need no gradient
        model.activation_checkpointing_enable(activation_checkpointing_kwargs={"use_reentrant": False})
    if method == "lora":
        lora_defaults = TrainConfig(data_path=Path("unused"), base_model="random", output_dir=Path("unused"))
        return add_lora(model, lora_defaults)
    return model


def measure(
    name: str,
    model: torch.nn.Module,
    steps: list[list[list[int]]],
    vocab_size: int,
    args: argparse.Namespace,
    device: torch.device,
    flops_per_token: tuple[float, float],
    attention_flops_per_token_per_position: float,
) -> Measurement:
    collator = CompletionCollator(pad_token_id=0, pad_to_multiple_of=8 if device.type == "cuda" else None)
    trainable = [parameter for parameter in model.parameters() if parameter.requires_grad]
    optimizer = torch.optim.AdamW(trainable, lr=1e-5, fused=device.type == "cuda")
    autocast = torch.autocast(device.type, dtype=torch.bfloat16, enabled=args.bf16)
    tokens = padded = 0
    attention_flops = 0.0
    started = 0.0
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats()
    # The warmup steps repeat the first timed steps; only the timed ones are counted.
    for number, step in enumerate([*steps[: args.warmup_steps], *steps]):
        timed = number >= args.warmup_steps
        if number == args.warmup_steps:
            if device.type == "cuda":
                torch.cuda.synchronize()
            started = time.perf_counter()
        for batch_lengths in step:
            batch = synthetic_batch(batch_lengths, vocab_size, collator, device)
            with autocast:
                loss = model(**batch).loss / len(step)
            loss.backward()
            if timed:
                tokens += sum(batch_lengths)
                padded += batch["input_ids"].numel()
                attention_flops += sum(length * length for length in batch_lengths)
        torch.nn.utils.clip_grad_norm_(trainable, 1.0)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
    if device.type == "cuda":
        torch.cuda.synchronize()
    seconds = time.perf_counter() - started
    model_per_token, convention_per_token = flops_per_token
    attention = attention_flops * attention_flops_per_token_per_position
    return Measurement(
        name=name,
        seconds=seconds,
        tokens=tokens,
        padded_tokens=padded,
        model_flops=model_per_token * tokens + attention,
        flops_6n=convention_per_token * tokens,
        peak_memory_mb=torch.cuda.max_memory_allocated() / 2**20 if device.type == "cuda" else None,
    )


def _si(value: float) -> str:
    for factor, suffix in ((1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(value) >= factor:
            return f"{value / factor:.2f} {suffix}"
    return f"{value:.0f} "


def peak_flops(device: torch.device, override: float | None) -> tuple[float | None, str]:
    if override:
        return override * 1e12, f"{override:g} TFLOP/s (--peak-tflops)"
    if device.type != "cuda":
        return None, "none known for a CPU (pass --peak-tflops)"
    name = torch.cuda.get_device_name(device)
    for key, value in PEAK_BF16_FLOPS.items():
        if key in name:
            return value, f"{value / 1e12:g} TFLOP/s bf16 dense ({name})"
    return None, f"unknown for {name} (pass --peak-tflops)"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--tiny", action="store_true", help="2-layer model on the CPU: checks the code path")
    parser.add_argument("--method", choices=("lora", "full"), default="lora")
    parser.add_argument("--steps", type=int, default=None, help="timed optimizer steps (30; 4 with --tiny)")
    parser.add_argument(
        "--warmup-steps", type=int, default=None, help="untimed steps first (5; 1 with --tiny)"
    )
    parser.add_argument("--micro-batch-size", type=int, default=None, help="per forward (8; 4 with --tiny)")
    parser.add_argument("--accumulation", type=int, default=4, help="micro-batches per optimizer step")
    parser.add_argument("--max-length", type=int, default=512)
    parser.add_argument("--lengths-from", type=Path, default=None, help="Alpaca-like JSONL for lengths")
    parser.add_argument("--chars-per-token", type=float, default=3.2, help="LLaMA's SentencePiece on English")
    parser.add_argument("--no-gradient-checkpointing", action="store_true")
    parser.add_argument("--no-reference", action="store_true", help="skip the random-order reference")
    parser.add_argument("--peak-tflops", type=float, default=None)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    cuda = torch.cuda.is_available() and not args.tiny
    if not cuda and not args.tiny:
        parser.error("no CUDA device: run with --tiny to check the code path on the CPU")
    device = torch.device("cuda" if cuda else "cpu")
    args.bf16 = cuda and torch.cuda.is_bf16_supported()
    args.steps = args.steps or (30 if cuda else 4)
    args.warmup_steps = args.warmup_steps if args.warmup_steps is not None else (5 if cuda else 1)
    micro = args.micro_batch_size or (8 if cuda else 4)
    if cuda:
        torch.backends.cuda.matmul.allow_tf32 = True
    else:
        # The 2-layer model gains nothing from more threads; spinning ones turn a busy CPU's numbers to noise.
        torch.set_num_threads(1)

    shape = LLAMA_7B if cuda else TINY
    # As the trainer: LoRA freezes a bf16 base; full fine-tuning keeps fp32 weights under bf16 autocast.
    dtype = torch.bfloat16 if args.bf16 and args.method == "lora" else torch.float32
    model = build_model(
        shape, args.method, device, dtype, checkpointing=cuda and not args.no_gradient_checkpointing
    )
    model.train()

    lengths_path = args.lengths_from or next((p for p in LENGTHS_FILES if p.is_file()), LENGTHS_FILES[0])
    lengths = alpaca_lengths(lengths_path, args.chars_per_token, args.max_length, args.seed)
    source = (
        f"{lengths_path} / {args.chars_per_token} chars per token" if lengths_path.is_file() else "log-normal"
    )
    trainable, total = count_parameters(model)
    n_linear = linear_parameters(model)
    layers, width = shape.num_hidden_layers, shape.hidden_size
    per_token = (4 if args.method == "lora" else 6) * n_linear
    # Attention matmuls per token at sequence length s: forward 2*L*d*s, backward twice that.
    attention_per_position = 6 * layers * width

    device_name = torch.cuda.get_device_name(device) if cuda else "cpu"
    p99 = sorted(lengths)[int(len(lengths) * 0.99)]
    checkpointing = "on" if cuda and not args.no_gradient_checkpointing else "off"
    print(f"device        {device_name} ({'bf16' if args.bf16 else 'fp32'})")
    print(
        f"model         {'LLaMA-7B shape' if cuda else 'tiny LLaMA'}: L={layers} d={width} "
        f"ffn={shape.intermediate_size} vocab={shape.vocab_size}; {_si(total)} parameters, "
        f"N(linear)={_si(n_linear)}, trainable {_si(trainable)} ({args.method})"
    )
    print(
        f"lengths       {source}: median {statistics.median(lengths):.0f}, "
        f"mean {statistics.mean(lengths):.1f}, p99 {p99}, max {max(lengths)}"
    )
    print(
        f"batches       {micro} x {args.accumulation} accumulation; {args.warmup_steps} warmup + "
        f"{args.steps} timed steps; gradient checkpointing {checkpointing}"
    )
    print(
        f"FLOPs/token   {'4N' if args.method == 'lora' else '6N'} + 6*L*d*s = "
        f"{_si(per_token)}FLOP + attention (MFU); 6N = {_si(6 * n_linear)}FLOP (MFU 6N)"
    )

    runs = [("length-grouped (Pasture default)", True)]
    if not args.no_reference:
        runs.append(("random order (reference)", False))
    results = []
    for name, grouped in runs:
        steps = optimizer_steps(lengths, micro, args.accumulation, args.steps, grouped, args.seed)
        results.append(
            measure(
                name,
                model,
                steps,
                shape.vocab_size,
                args,
                device,
                (per_token, 6 * n_linear),
                attention_per_position,
            )
        )

    peak, peak_text = peak_flops(device, args.peak_tflops)
    print(f"peak          {peak_text}")
    print()
    header = (
        f"{'order':34} {'tok/s':>10} {'padding':>8} {'TFLOP/s':>8} {'MFU':>7} {'MFU 6N':>8} {'peak mem':>10}"
    )
    print(header)
    for result in results:
        achieved = result.model_flops / result.seconds
        mfu = f"{achieved / peak:.1%}" if peak else "n/a"
        mfu_6n = f"{result.flops_6n / result.seconds / peak:.1%}" if peak else "n/a"
        memory = f"{result.peak_memory_mb / 1024:.1f} GiB" if result.peak_memory_mb is not None else "-"
        print(
            f"{result.name:34} {result.tokens_per_second:>10,.0f} {result.padding_share:>8.1%} "
            f"{achieved / 1e12:>8.2f} {mfu:>7} {mfu_6n:>8} {memory:>10}"
        )
    best = results[0]
    epoch_tokens = ALPACA_EXAMPLES * statistics.mean(lengths)
    hours = ALPACA_EPOCHS * epoch_tokens / best.tokens_per_second / 3600
    print()
    print(
        f"Alpaca-52K, {ALPACA_EPOCHS} epochs ({ALPACA_EPOCHS * epoch_tokens / 1e6:.1f}M tokens) at "
        f"{best.tokens_per_second:,.0f} tok/s: {hours:.2f} h on this {'GPU' if cuda else 'CPU'}"
    )
    if len(results) > 1:
        speedup = best.tokens_per_second / results[1].tokens_per_second
        print(f"length grouping speed-up over random order: {speedup:.2f}x")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
