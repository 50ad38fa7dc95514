"""Cost of evaluating a typical step config (the seed's yaml-update) and a few expressions.

Measured (2 cores): the seed yaml-update config in about 150 us; parses are cached.
"""

from __future__ import annotations

import timeit

from shunter.expressions import evaluate, evaluate_template
from shunter.expressions.functions import FunctionContext, build_environment

FREIGHT = {
    "name": "abc",
    "origin": {"kind": "Warehouse", "name": "example-container"},
    "images": [{"repoURL": "reg/example", "tag": "2026-11-26_1200-abc1234", "digest": "sha256:a"}],
}
CONFIG = {
    "path": "./src/${{ vars.envPath }}/values.yaml",
    "updates": [
        {"key": "general.lmsImageTag", "value": "${{ imageFrom(vars.image).Tag }}"},
        {"key": "general.digest", "value": "${{ imageFrom(vars.image).Digest }}"},
        {"key": "general.stage", "value": "${{ ctx.stage }}"},
        {"key": "general.upper", "value": "${{ upper(vars.envPath) }}"},
        {"key": "general.check", "value": "${{ vars.envPath == 'prod' ? 'yes' : 'no' }}"},
    ],
}


def main() -> None:
    env = build_environment(
        {"vars": {"envPath": "preprod", "image": "reg/example"}, "ctx": {"stage": "preprod"}},
        FunctionContext(freight=[FREIGHT]),
    )
    n = 2000
    per = timeit.timeit(lambda: evaluate_template(CONFIG, env), number=n) / n
    print(f"seed yaml-update config: {per * 1e6:.0f} us per evaluation")
    for text in ("1 + 2 * 3", "filter(1..100, # % 7 == 0)", "imageFrom(vars.image).Tag"):
        per = timeit.timeit(lambda t=text: evaluate(t, env), number=n) / n
        print(f"{text!r}: {per * 1e6:.0f} us")


if __name__ == "__main__":
    main()
