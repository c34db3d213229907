"""Benchmark: gym's local colocated GRPO backend vs TRL's GRPOTrainer, the same work on both.

Goal: gym ≥ 1.5× TRL in samples/s. Both sides train the IDENTICAL tiny model (gym's
`build_model` of Qwen3-4B's architecture, fp32, same seed, saved with save_pretrained and
loaded back for TRL), with the identical tokenizer (gym's `build_tokenizer` on the texts
`run_local` uses), on the same prompts (`tiny_task_rows()`, gym's tiny task train file),
alternating TRL, gym, TRL, gym, … in one process, and prints samples/s for both and the
ratio gym/TRL.

    .venv/bin/python scripts/bench_local_vs_trl.py [--rollouts 30] [--repeats 2] [--device cpu|cuda]

The work, per rollout (= per TRL generation), on both sides:
  32 prompts × 16 samples = 512 completions of at most 2 tokens (temperature 1.0, top_p 1.0,
  no top_k), reward 1.0 when the first number in the completion equals the label, advantages
  (r − group mean) / (group std + eps), then 2 optimizer steps of 256 completions each with
  PPO's clipped loss (eps 0.2 low, 0.28 high), per-sample token mean then mean over samples,
  AdamW (lr 1e-3, betas 0.9/0.98, weight decay 0.1, constant lr), grad-norm clip 1.0, no KL,
  no entropy bonus. samples/s = completions made / seconds (both sides must make the same number).

TRL's batch arithmetic (trl 1.16.0, one CPU process): per_device_train_batch_size counts
completions, so per_device_train_batch_size=256 with steps_per_generation=2 gives
generation_batch_size = 256 × 1 process × 2 = 512 completions per generation
(= 32 prompts × num_generations 16, which TRL's checks require to be divisible), and
gradient_accumulation_steps=1 makes each 256-completion slice one optimizer step; max_steps =
2 × rollouts. TRL accepts this split as is: no re-arrangement was needed.

TRL settings, as an expert would set them for a tiny CPU model (TRL at its best, not its
defaults): fp32 (bf16=False, fp16=False; TRL defaults bf16 to True), activation (gradient)
checkpointing off (TRL's default is on), no torch.compile, no vLLM, no continuous batching,
beta=0.0 (no reference model is loaded), num_iterations=1, loss_type="grpo", scale_rewards="group",
epsilon 0.2 / epsilon_high 0.28, mask_truncated_completions=False (gym trains on truncated
samples too), report_to="none", save_strategy="no", eval_strategy="no", disable_tqdm,
logging_steps = max_steps (one log, at the end), logging_nan_inf_filter off,
dataloader_num_workers=0, no pin_memory, lr_scheduler_type="constant" (TRL's default is
linear decay; gym's lr is constant), log_completions off, disable_dropout (the model has no
dropout anyway), and the prompts given as text with the chat template already applied
(`--trl-prompts text`, the default: the same token ids, asserted, but TRL then only tokenizes
them each generation instead of rendering the Jinja template 512 times, about 35 ms saved per
generation here; `--trl-prompts messages` gives TRL the chat messages instead), and, on CPU,
eager attention for TRL's model (`--trl-attn`; on 2 CPU cores, TRL alone, alternating, 3 × 15
rollouts each: eager 10.2 s median vs sdpa 11.7 s, its training and old-log-prob passes faster).
gym's model keeps transformers' default, sdpa (gym is measured as it is; it could gain the same).
On CUDA TRL keeps sdpa (not compared there). The optimizer is passed in: torch.optim.AdamW with gym's
settings and gym's parameter groups (Megatron's: no weight decay on biases and 1-D parameters,
gym.local.grpo.adamw_param_groups), so the update is identical.
Threads: torch.set_num_threads(--threads, default 2) before each side runs.

What is timed (imports, model/tokenizer building and trainer construction excluded):
  gym: History.wall_seconds(), from the first rollout's start to the last training phase's
       end (checkpoint saves and evals are switched off: save_interval=None, --skip-eval-before-train, eval_interval
       beyond the run). run_local's total, with its setup, is printed too.
  TRL: from the on_train_begin callback to the last on_step_end (the training loop: data,
       generation, scoring, loss, backward, optimizer). trainer.train()'s total (which also
       creates the dataloader and scheduler and logs at the end) is printed too.
The ratio of medians uses those loop times; the ratio of the outer totals is printed beside it.

Known differences in the work done, not removed because they are how each implementation
does the same algorithm:
  - gym runs each prompt once and shares its KV cache among its 16 samples, in generation and
    in training; TRL runs prompt + completion for each of the 512 completions.
  - TRL computes old log-probs for all 512 completions in a no-grad pass (steps_per_generation
    > gradient_accumulation_steps makes it necessary); gym computes them only for the second
    step's 256 (the first step's equal the current ones, detached), which is exact.
  - TRL re-tokenizes the 512 prompts every generation (and with `--trl-prompts messages`
    re-renders the chat template too); gym tokenizes its prompt file once, before the loop.
  - TRL shuffles the 512 completions before splitting them into 2 steps; gym takes them in
    prompt order. Both are valid splits of the same rollout.
  - TRL computes log-probs through its fused LM head (only completion positions are
    projected); gym projects every position it runs (its 32 prompts, once, and the
    responses). With a vocabulary of a few dozen tokens the LM head costs little either way.
  - On CUDA, gym draws its samples on the CPU (torch.multinomial with a CPU generator, for
    reproducibility), one host round trip per generated token; TRL samples on the GPU.

Also printed per repeat: optimizer steps and completions made by each side (TRL: state.global_step,
completions counted in its reward function, tokens from its log), reward over the first and last
10% of rollouts (both should learn alike), and where the time goes: generation (model sampling
only), scoring (rollout bookkeeping: tokenizing, decoding, reward, advantages), old log-probs
(no-grad pass) and training (forward, backward, optimizer and framework overhead), and
cpu_wait%: the share of the run in which some task waited for a CPU (Linux PSI,
/proc/pressure/cpu). On this shared 2-core machine another job makes torch's 2 threads
oversubscribed and everything several times slower: compare only repeats with a low cpu_wait%.

--device cuda runs both on the GPU with a larger tiny model (hidden 256, 4 layers) through
run_local(model_dims=...) and build_model(**dims); on CPU the defaults (hidden 64, 2 layers).
Everything is written under a temporary directory, removed at the end.
"""

from __future__ import annotations

import os

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["HF_DATASETS_OFFLINE"] = "1"
os.environ["WANDB_MODE"] = "disabled"
os.environ.setdefault("TRANSFORMERS_NO_ADVISORY_WARNINGS", "1")

import argparse  # noqa: E402
import functools  # noqa: E402
import gc  # noqa: E402
import platform  # noqa: E402
import shutil  # noqa: E402
import statistics  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
import warnings  # noqa: E402
from pathlib import Path  # noqa: E402

PROMPTS_PER_ROLLOUT = 32
GROUP = 16
SAMPLES_PER_ROLLOUT = PROMPTS_PER_ROLLOUT * GROUP
SAMPLES_PER_STEP = 256
CUDA_DIMS = {"hidden": 256, "layers": 4}


# ---- shared setup ----------------------------------------------------------------------------------

def gym_config(tmp: Path, rollouts: int):
    """gym's tiny config, with checkpoint saves and evals off (TRL does neither)."""
    from gym.local.tiny import tiny_config

    return tiny_config(data_dir=tmp / "data", name="bench", num_rollout=rollouts, save_interval=None,
                       eval_interval=10 ** 9, extra_args=["--skip-eval-before-train"])


def build_shared(tmp: Path, config, seed: int, dims: dict):
    """The tokenizer and model run_local builds, saved under tmp/model for TRL."""
    from gym.local.data import local_files
    from gym.local.runner import TOKENIZER_MERGES, _tokenizer_texts
    from gym.local.tiny import build_model, build_tokenizer

    r = config.resolve()
    prompt_path, eval_path = local_files(r.dataset, tmp / "data")
    tok = build_tokenizer(_tokenizer_texts(prompt_path, eval_path, r.config), merges=TOKENIZER_MERGES)
    model = build_model(r.config.model.architecture, len(tok), seed, tok.pad_token_id, **dims)
    model_dir = tmp / "model"
    model.save_pretrained(model_dir)
    tok.save_pretrained(model_dir)
    reference = {k: v.clone() for k, v in model.state_dict().items()}
    attn = model.config._attn_implementation  # what run_local's model uses
    del model
    return model_dir, tok, reference, attn


class Clock:
    """Accumulated seconds per named part, from thin wrappers (one perf_counter pair per call)."""

    def __init__(self, device: str):
        self.device = device
        self.seconds: dict[str, float] = {}

    def sync(self):
        if self.device == "cuda":
            import torch

            torch.cuda.synchronize()

    def wrap(self, fn, name, split_on_grad: bool = False):
        import torch

        @functools.wraps(fn)
        def timed(*args, **kwargs):
            self.sync()
            start = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                self.sync()
                key = name if not split_on_grad else (name if not torch.is_grad_enabled() else name + "_grad")
                self.seconds[key] = self.seconds.get(key, 0.0) + time.perf_counter() - start
        return timed


# ---- TRL -------------------------------------------------------------------------------------------

def run_trl(model_dir: Path, rows: list[dict], rollouts: int, seed: int, threads: int, device: str, out: Path,
            prompt_format: str, attn: str, reference: dict | None = None) -> dict:
    import torch
    from datasets import Dataset
    from transformers import AutoModelForCausalLM, AutoTokenizer, PrinterCallback, TrainerCallback
    from trl import GRPOConfig, GRPOTrainer

    from gym.local import grpo
    from gym.local.tiny import FIRST_NUMBER

    torch.set_num_threads(threads)
    tok = AutoTokenizer.from_pretrained(model_dir)
    tok.padding_side = "left"
    model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32, attn_implementation=attn)
    if reference is not None:  # TRL trains exactly the weights gym builds
        state = model.state_dict()
        assert all(torch.equal(state[k], v) for k, v in reference.items()), "TRL's model differs from gym's"
    if prompt_format == "messages":
        data = [{"prompt": r["messages"], "label": r["label"]} for r in rows]
    else:  # the chat template applied once, here, instead of on every generation: the same token ids
        data = [{"prompt": tok.apply_chat_template(r["messages"], tokenize=False, add_generation_prompt=True),
                 "label": r["label"]} for r in rows]
        templated = tok.apply_chat_template([rows[0]["messages"]], add_generation_prompt=True, tokenize=True,
                                            return_dict=True)["input_ids"][0]
        assert tok(text=[data[0]["prompt"]])["input_ids"][0] == list(templated)
    dataset = Dataset.from_list(data)

    made = {"completions": 0, "rewards": []}

    def first_number_reward(prompts, completions, label, **kwargs) -> list[float]:
        out = []
        for completion, answer in zip(completions, label):
            text = completion[-1]["content"] if isinstance(completion, list) else completion
            match = FIRST_NUMBER.search(text)
            out.append(float(match is not None and float(match.group()) == float(answer)))
        made["completions"] += len(out)
        made["rewards"].append(sum(out) / len(out))
        return out

    clock = Clock(device)

    class LoopTimer(TrainerCallback):
        begin = last_end = None

        def on_train_begin(self, args, state, control, **kwargs):
            LoopTimer.threads = torch.get_num_threads()
            clock.sync()
            LoopTimer.begin = time.perf_counter()

        def on_step_end(self, args, state, control, **kwargs):
            clock.sync()
            LoopTimer.last_end = time.perf_counter()

    steps = 2 * rollouts
    args = GRPOConfig(
        output_dir=str(out), seed=seed, use_cpu=device == "cpu",
        # the algorithm, as gym's tiny config
        learning_rate=1e-3, adam_beta1=0.9, adam_beta2=0.98, weight_decay=0.1, max_grad_norm=1.0,
        lr_scheduler_type="constant", warmup_steps=0,
        per_device_train_batch_size=SAMPLES_PER_STEP, steps_per_generation=2, gradient_accumulation_steps=1,
        num_generations=GROUP, max_completion_length=2, max_steps=steps, num_iterations=1,
        temperature=1.0, top_p=1.0, top_k=0, min_p=None, repetition_penalty=1.0,
        beta=0.0, loss_type="grpo", scale_rewards="group", epsilon=0.2, epsilon_high=0.28,
        importance_sampling_level="token", mask_truncated_completions=False, entropy_coef=0.0,
        top_entropy_quantile=1.0, shuffle_dataset=True,
        # no overhead beyond the algorithm
        bf16=False, fp16=False, activation_checkpointing=False, torch_compile=False, use_vllm=False,
        use_transformers_continuous_batching=False, disable_dropout=True, cast_lm_head_to_fp32=False,
        report_to="none", save_strategy="no", eval_strategy="no", disable_tqdm=True,
        logging_strategy="steps", logging_steps=steps, logging_nan_inf_filter=False, log_completions=False,
        dataloader_num_workers=0, dataloader_pin_memory=False, remove_unused_columns=False,
        include_num_input_tokens_seen="no",
    )
    optimizer = torch.optim.AdamW(grpo.adamw_param_groups(model, 0.1), lr=1e-3, betas=(0.9, 0.98))
    assert not args.gradient_checkpointing and not args.bf16 and not args.fp16
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        trainer = GRPOTrainer(model=model, reward_funcs=first_number_reward, args=args, train_dataset=dataset,
                              processing_class=tok, callbacks=[LoopTimer()], optimizers=(optimizer, None))
    trainer.remove_callback(PrinterCallback)  # the log is read from trainer.state.log_history instead
    # where the time goes (thin wrappers on the instance; TRL's code is unchanged)
    trainer._generate_and_score_completions = clock.wrap(trainer._generate_and_score_completions, "rollout")
    trainer._generate_single_turn = clock.wrap(trainer._generate_single_turn, "generate")
    trainer._get_per_token_logps_and_entropies = clock.wrap(trainer._get_per_token_logps_and_entropies, "logp",
                                                            split_on_grad=True)
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        trainer.train()
    outer = time.perf_counter() - start
    loop = LoopTimer.last_end - LoopTimer.begin
    logs = [entry for entry in trainer.state.log_history if "num_tokens" in entry]
    gen, old = clock.seconds.get("generate", 0.0), clock.seconds.get("logp", 0.0)
    parts = {"generate": gen, "score": clock.seconds.get("rollout", 0.0) - gen - old, "old_logp": old}
    parts["train"] = loop - sum(parts.values())
    result = {"seconds": loop, "outer": outer, "steps": trainer.state.global_step,
              "completions": made["completions"], "rewards": made["rewards"], "parts": parts,
              "tokens": logs[-1]["num_tokens"] if logs else None,
              "optim": type(trainer.optimizer.optimizer if hasattr(trainer.optimizer, "optimizer")
                            else trainer.optimizer).__name__,
              "attn": model.config._attn_implementation, "threads": LoopTimer.threads}
    del trainer, model
    gc.collect()
    return result


# ---- gym -------------------------------------------------------------------------------------------

def run_gym(config, rollouts: int, seed: int, threads: int, device: str, out: Path, dims: dict,
            tok=None, prompt_len: int | None = None) -> dict:
    import torch
    from transformers import AutoTokenizer

    from gym.local import grpo
    from gym.local.runner import run_local

    torch.set_num_threads(threads)
    clock = Clock(device)
    originals = grpo.generate, grpo.response_logprobs
    # where the time goes: thin wrappers on two module functions, restored afterwards
    grpo.generate = clock.wrap(grpo.generate, "generate")
    grpo.response_logprobs = clock.wrap(grpo.response_logprobs, "logp", split_on_grad=True)
    try:
        start = time.perf_counter()
        history = run_local(config, seed=seed, out_dir=out, progress=False, threads=threads, device=device,
                            num_rollout=rollouts, model_dims=dims or None)
        outer = time.perf_counter() - start
    finally:
        grpo.generate, grpo.response_logprobs = originals
    if tok is not None:  # gym's own tokenizer is the one TRL got
        assert AutoTokenizer.from_pretrained(history.run_dir / "tokenizer").get_vocab() == tok.get_vocab()
    phases = history.phase_seconds()
    loop = history.wall_seconds()
    gen, old = clock.seconds.get("generate", 0.0), clock.seconds.get("logp", 0.0)
    parts = {"generate": gen, "score": phases.get("rollout", 0.0) - gen, "old_logp": old}
    parts["train"] = loop - sum(parts.values())
    c = config.resolve().config
    per_rollout = c.rollout_batch_size * c.n_samples_per_prompt
    tokens = (sum(per_rollout * (prompt_len + r["rollout/response_length"]) for r in history.rows)
              if prompt_len else None)
    return {"seconds": loop, "outer": outer, "steps": int(sum(r["train/steps"] for r in history.rows)),
            "completions": len(history.rows) * per_rollout, "rewards": history.metric("rollout/raw_reward"),
            "parts": parts, "tokens": tokens, "phases": phases, "threads": torch.get_num_threads()}


# ---- report ----------------------------------------------------------------------------------------

def cpu_stall_us() -> float | None:
    """Linux PSI: total µs some task waited for a CPU (None where /proc/pressure is absent)."""
    try:
        with open("/proc/pressure/cpu") as f:
            return float(f.readline().split("total=")[1])
    except (OSError, IndexError, ValueError):
        return None


def window(values: list[float], last: bool) -> float:
    k = max(1, round(len(values) * 0.1))
    part = values[-k:] if last else values[:k]
    return sum(part) / len(part) if part else float("nan")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rollouts", type=int, default=30, help="rollouts (TRL generations) per run")
    parser.add_argument("--repeats", type=int, default=2, help="runs of each side, alternating TRL, gym, …")
    parser.add_argument("--device", choices=["cpu", "cuda"], default="cpu")
    parser.add_argument("--threads", type=int, default=2, help="torch threads, both sides")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--warmup", type=int, default=2,
                        help="rollouts of an untimed warm-up run of each side first (0: none)")
    parser.add_argument("--trl-prompts", choices=["messages", "text"], default="text",
                        help="TRL dataset prompts: chat messages (TRL templates them every generation) or the "
                             "templated text (rendered once, up front)")
    parser.add_argument("--trl-attn", choices=["sdpa", "eager"], default=None,
                        help="TRL's attention implementation (default: eager on CPU, the faster there for TRL; "
                             "sdpa on CUDA). gym's model uses transformers' default, sdpa")
    args = parser.parse_args()
    args.trl_attn = args.trl_attn or ("eager" if args.device == "cpu" else "sdpa")

    import datasets
    import torch
    import transformers
    import trl

    from gym.local.tiny import tiny_task_rows

    datasets.disable_progress_bars()
    transformers.logging.set_verbosity_error()
    transformers.utils.logging.disable_progress_bar()
    datasets.logging.set_verbosity_error()
    if args.device == "cuda" and not torch.cuda.is_available():
        raise SystemExit("--device cuda: no CUDA device is visible")
    dims = CUDA_DIMS if args.device == "cuda" else {}
    torch.set_num_threads(args.threads)

    tmp = Path(tempfile.mkdtemp(prefix="bench_local_vs_trl-"))
    try:
        config = gym_config(tmp, args.rollouts)
        model_dir, tok, reference, gym_attn = build_shared(tmp, config, args.seed, dims)
        rows = tiny_task_rows()
        lengths = {len(tok.apply_chat_template([r["messages"]], add_generation_prompt=True, tokenize=True,
                                               return_dict=True)["input_ids"][0]) for r in rows}
        prompt_len = lengths.pop() if len(lengths) == 1 else None  # every prompt has the same length
        n_params = sum(v.numel() for v in reference.values())
        arch = {"hidden": 64, "layers": 2, **dims}

        print(f"machine: {platform.platform()}, {platform.machine()}, {os.cpu_count()} cores, "
              f"Python {platform.python_version()}")
        print(f"torch {torch.__version__} ({torch.get_num_threads()} threads), "
              f"transformers {transformers.__version__}, trl {trl.__version__}, device {args.device}"
              + (f" ({torch.cuda.get_device_name()})" if args.device == "cuda" else ""))
        print(f"model: tiny Qwen3 (hidden {arch['hidden']}, {arch['layers']} layers, {n_params:,} parameters, "
              f"vocab {len(tok)}), fp32; {len(rows)} prompt rows")
        print(f"work per run: {args.rollouts} rollouts × {PROMPTS_PER_ROLLOUT} prompts × {GROUP} samples = "
              f"{args.rollouts * SAMPLES_PER_ROLLOUT} completions (≤ 2 tokens), "
              f"{2 * args.rollouts} optimizer steps of {SAMPLES_PER_STEP}; TRL prompts: {args.trl_prompts}, "
              f"TRL attention: {args.trl_attn}")

        def trl_run(rollouts, name, check=False):
            return run_trl(model_dir, rows, rollouts, args.seed, args.threads, args.device, tmp / name,
                           args.trl_prompts, args.trl_attn, reference if check else None)

        def gym_run(rollouts, name, check=False):
            return run_gym(config, rollouts, args.seed, args.threads, args.device, tmp / name, dims,
                           tok if check else None, prompt_len)

        if args.warmup:
            trl_run(args.warmup, "warm-trl")
            gym_run(args.warmup, "warm-gym")
            print(f"(warm-up: {args.warmup} rollouts of each side, untimed)")

        results = {"TRL": [], "gym": []}
        print()
        print("repeat  side  loop_s  samples/s  outer_s  steps  completions  reward first10%->last10%  "
              "generate  score  old_logp  train (s)  cpu_wait%")
        for i in range(args.repeats):
            for side, fn in (("TRL", trl_run), ("gym", gym_run)):
                stall, began = cpu_stall_us(), time.perf_counter()
                res = fn(args.rollouts, f"{side}-{i}", check=i == 0)
                if stall is not None:  # share of the run in which something waited for a CPU (contention)
                    res["stall"] = 100 * (cpu_stall_us() - stall) / 1e6 / (time.perf_counter() - began)
                # samples/s from the completions each side actually made (TRL: counted in its reward
                # function; gym: rows logged × samples per rollout), not from the intended count
                res["samples_per_s"] = res["completions"] / res["seconds"]
                results[side].append(res)
                p = res["parts"]
                print(f"{i:>6}  {side:>4}  {res['seconds']:6.2f}  {res['samples_per_s']:9.0f}  {res['outer']:7.2f}  "
                      f"{res['steps']:>5}  {res['completions']:>11}  "
                      f"{window(res['rewards'], False):>10.2f} -> {window(res['rewards'], True):.2f}        "
                      f"{p['generate']:8.2f}  {p['score']:5.2f}  {p['old_logp']:8.2f}  {p['train']:9.2f}  "
                      f"{res.get('stall', float('nan')):9.0f}", flush=True)

        trl_res, gym_res = results["TRL"], results["gym"]
        made = {(r["completions"],) for rs in results.values() for r in rs}
        if len(made) != 1:  # a ratio of two runs that did different work measures nothing
            raise SystemExit(f"the two sides made different numbers of completions: "
                             f"TRL {[r['completions'] for r in trl_res]}, gym {[r['completions'] for r in gym_res]}")
        med = {side: statistics.median(r["samples_per_s"] for r in rs) for side, rs in results.items()}
        med_outer = {side: statistics.median(r["completions"] / r["outer"] for r in rs)
                     for side, rs in results.items()}
        ratio = med["gym"] / med["TRL"]
        print()
        print(f"TRL: optimizer {trl_res[0]['optim']}, attention {trl_res[0]['attn']}, {trl_res[0]['threads']} "
              f"threads, {trl_res[0]['steps']} steps (trainer.state.global_step), {trl_res[0]['completions']} "
              f"completions (reward calls), {trl_res[0]['tokens']:.0f} prompt+completion tokens (its log's num_tokens)")
        gym_tokens = f"{gym_res[0]['tokens']:.0f}" if gym_res[0]["tokens"] else "?"
        print(f"gym: optimizer AdamW, attention {gym_attn}, {gym_res[0]['threads']} threads, "
              f"{gym_res[0]['steps']} steps (sum of train/steps), {gym_res[0]['completions']} completions, "
              f"{gym_tokens} prompt+completion tokens ({prompt_len} per prompt + mean response length), "
              f"phases {', '.join(f'{k} {v:.2f} s' for k, v in gym_res[0]['phases'].items())}")
        print(f"median samples/s (training loop): TRL {med['TRL']:.0f}, gym {med['gym']:.0f}; "
              f"ratio gym/TRL {ratio:.2f}x (goal >= 1.5x: {'met' if ratio >= 1.5 else 'NOT met'})")
        print(f"median samples/s (outer: trainer.train() vs run_local() with its setup): TRL {med_outer['TRL']:.0f}, "
              f"gym {med_outer['gym']:.0f}; ratio {med_outer['gym'] / med_outer['TRL']:.2f}x")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
