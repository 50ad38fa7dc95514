"""How much registry traffic N Warehouses watching one repository cost.

Pushes 60 tags to a local registry (htpasswd auth), then runs N concurrent discoveries of
the seed's Lexical subscription through one Discoverer, and prints the requests the registry
saw by kind and the wall time. Run twice within max_age to show the cache.

Measured (2 cores): N=50 -> 1 tag listing, 20 manifest HEADs, 20 manifest and 20 config GETs
(discoveryLimit 20) in 2.2 s cold; 0 requests and 0.12 s warm.
"""

from __future__ import annotations

import asyncio
import sys
import time
from datetime import UTC, datetime, timedelta

from pydantic import SecretStr

from shunter.api.v1alpha1.warehouse import WarehouseSpec
from shunter.credentials.types import Credentials
from shunter.registries.discovery import Discoverer
from shunter_devenv.registry import Registry

N = int(sys.argv[1]) if len(sys.argv) > 1 else 50


async def main() -> None:
    with Registry(users={"ci": "pw"}) as registry:
        base = datetime.now(UTC) - timedelta(days=30)
        for day in range(60):
            tag = (base + timedelta(days=day)).strftime("%Y-%m-%d_%H%M") + f"-{day:07x}"
            registry.push_image("example", tag, base + timedelta(days=day))
        spec = WarehouseSpec.model_validate(
            {
                "subscriptions": [
                    {
                        "image": {
                            "repoURL": f"{registry.host}/example",
                            "imageSelectionStrategy": "Lexical",
                            "allowTags": r"^\d{4}-\d{2}-\d{2}_\d{4}-\w{7}$",
                        }
                    }
                ]
            }
        )
        creds = Credentials(username="ci", password=SecretStr("pw"))

        async def lookup(kind: str, url: str) -> Credentials | None:
            return creds

        discoverer = Discoverer()
        for round_ in ("cold", "warm"):
            registry.reset_requests()
            began = time.perf_counter()
            results = await asyncio.gather(
                *(discoverer.discover(spec, lookup, max_age=300) for _ in range(N))
            )
            elapsed = time.perf_counter() - began
            best = {r.images[0].references[0].tag for r in results if r.images}
            counts = dict(sorted(registry.request_counts().items()))
            print(f"{round_}: {N} Warehouses in {elapsed:.3f}s, best tag {best}, requests {counts}")
        await discoverer.aclose()


if __name__ == "__main__":
    asyncio.run(main())
