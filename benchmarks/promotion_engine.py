"""The seed's PromotionTask run by the engine N times at once into one branch of a local git
server (each promotion a different values file), with the real steps: clone, yaml-update,
commit, push (with rebase on a rejected push). Prints wall time and promotions per second.

Measured (2 cores): N=1 in 0.61 s; N=10 in 4.5 s (2.2 promotions/s), all 10 commits landed.
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
import time
from pathlib import Path

from pydantic import SecretStr

from shunter.api.v1alpha1 import Freight, Promotion, PromotionPhase, PromotionStep
from shunter.api.v1alpha1.common import PromotionTaskReference
from shunter.api.v1alpha1.promotion import PromotionSpec, PromotionStatus
from shunter.api.v1alpha1.promotion_task import PromotionTaskSpec
from shunter.controllers.collections import freight_reference, with_freight
from shunter.credentials.types import Credentials, CredentialsDatabase, CredentialType
from shunter.promotion.context import PromotionContext
from shunter.promotion.engine import Engine
from shunter.promotion.step import Capabilities
from shunter.promotion.tasks import inflate_steps
from shunter.steps import load_builtin_steps
from shunter_devenv.gitserver import GitServer

N = int(sys.argv[1]) if len(sys.argv) > 1 else 10
VALUES = "general:\n  lmsImageTag: old # bumped by promotions\n"


class Creds:
    async def get(self, namespace: str, cred_type: CredentialType, url: str) -> Credentials:
        return Credentials(username="kargo", password=SecretStr("pw"))


def _task(url: str) -> PromotionTaskSpec:
    return PromotionTaskSpec.model_validate(
        {
            "vars": [{"name": "envPath"}],
            "steps": [
                {
                    "uses": "git-clone",
                    "config": {"repoURL": url, "checkout": [{"branch": "master", "path": "./src"}]},
                },
                {
                    "uses": "yaml-update",
                    "as": "update",
                    "config": {
                        "path": "./src/${{ vars.envPath }}/values.yaml",
                        "updates": [
                            {
                                "key": "general.lmsImageTag",
                                "value": "${{ imageFrom('reg/app').Tag }}",
                            }
                        ],
                    },
                },
                {
                    "uses": "git-commit",
                    "config": {
                        "path": "./src",
                        "message": "${{ task.outputs['update'].commitMessage }}",
                    },
                },
                {"uses": "git-push", "config": {"path": "./src"}},
            ],
        }
    )


async def main() -> None:
    load_builtin_steps()
    with GitServer(users={"kargo": "pw"}) as git, tempfile.TemporaryDirectory() as tmp:
        git.create_repo("bench", {f"env{i}/values.yaml": VALUES for i in range(N)}, branch="master")
        task = _task(git.url("bench"))
        creds: CredentialsDatabase = Creds()
        engine = Engine(capabilities=Capabilities(credentials=creds), work_root=Path(tmp))

        async def lookup(project: str, ref: PromotionTaskReference) -> PromotionTaskSpec:
            return task

        async def one(i: int) -> PromotionPhase | None:
            template = [
                PromotionStep.model_validate(
                    {"task": {"name": "t"}, "vars": [{"name": "envPath", "value": f"env{i}"}]}
                )
            ]
            steps = await inflate_steps("bench", template, [], lookup)
            freight = Freight.model_validate(
                {
                    "kind": "Freight",
                    "metadata": {"name": f"f{i}"},
                    "origin": {"kind": "Warehouse", "name": "w"},
                    "images": [{"repoURL": "reg/app", "tag": f"tag-{i}", "digest": "sha256:aa"}],
                }
            )
            promotion = Promotion(
                metadata={"name": f"p{i}", "namespace": "bench", "uid": f"u{i}"},
                spec=PromotionSpec(stage="s", freight=f"f{i}", steps=steps),
            )
            ref = freight_reference(freight)
            pctx = PromotionContext.from_promotion(
                promotion,
                stage=None,
                target_freight=ref,
                freight=with_freight(None, ref, ["Warehouse/w"]),
            )
            result = await engine.run(pctx, PromotionStatus())
            return result.status.phase

        began = time.perf_counter()
        phases = await asyncio.gather(*(one(i) for i in range(N)))
        elapsed = time.perf_counter() - began
        landed = len(git.log("bench", "master")) - 1
        print(
            f"{N} promotions in {elapsed:.2f}s ({N / elapsed:.1f}/s); phases {set(phases)}; "
            f"{landed} commits landed"
        )


if __name__ == "__main__":
    asyncio.run(main())
