"""Write the argv of every preset × {1, 2, 4} nodes × {colocated, split} that validates, plus
the layouts and options the lessons use, as JSON for scripts/check_argv_with_slime_parser.py.

    .venv/bin/python scripts/emit_argvs.py > /tmp/argvs.json
"""

import json
import sys

from gym import SlimeConfig, WandbConfig
from gym.models import MODELS


def configs():
    for name in MODELS:
        for nodes in (1, 2, 4):
            for colocate in (True, False):
                yield SlimeConfig(model=name, num_nodes=nodes, colocate=colocate)
    # Options the lessons and the README show.
    yield SlimeConfig(num_nodes=4, global_batch_size=128, rollout_batch_size=64, num_rollout=3000,
                      wandb=WandbConfig(project="slime-grpo", group="qwen3-4b-scaled", random_suffix=False))
    yield SlimeConfig(num_nodes=4, colocate=False, global_batch_size=96, rollout_batch_size=48,
                      update_weights_interval=2, use_kl_loss=True, kl_loss_coef=0.001)
    yield SlimeConfig(recompute_granularity="off", use_dynamic_batch_size=False, micro_batch_size=2,
                      global_batch_size=16, rollout_batch_size=8, entropy_coef=0.001, lr_warmup_iters=5)
    yield SlimeConfig(rm_type="boxed_deepscaler", rollout_max_prompt_len=1024, eval_interval=10,
                      eval_max_response_len=8192, n_samples_per_eval_prompt=4, gpu_type="H200")
    yield SlimeConfig(advantage_estimator="reinforce_plus_plus", normalize_advantages=True,
                      recompute_granularity="selective", lr_decay_style="cosine", extra_args=["--rollout-top-k", "20"])


def main() -> None:
    argvs, skipped = [], 0
    for config in configs():
        if any(p.severity == "error" for p in config.problems()):
            skipped += 1
            continue
        argvs.append(config.slime_argv())
    json.dump(argvs, sys.stdout)
    print(f"{len(argvs)} argvs ({skipped} invalid layouts skipped)", file=sys.stderr)


if __name__ == "__main__":
    main()
