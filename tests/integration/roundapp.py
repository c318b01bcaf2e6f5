"""Jobs for the completion-durability tests (test_completion_durability.py).

``IT_MARKERS`` is a folder the test and the handlers share: a handler announces it started by
creating a file there and waits for the test's go-ahead file.
"""

import asyncio
import os
from pathlib import Path

from conveyor import Conveyor

app = Conveyor()


def markers() -> Path:
    """The shared marker folder."""
    return Path(os.environ["IT_MARKERS"])


@app.job(name="quick", queue="rounds", retries=0)
def quick(ctx, n: int) -> int:
    return n


@app.job(name="crash", queue="rounds", retries=0)
def crash(ctx, n: int) -> None:
    os._exit(3)  # dies at once, without flushing anything


@app.job(name="return_when_told", queue="rounds", retries=2)
async def return_when_told(ctx, name: str) -> str:
    (markers() / f"{name}.started").touch()
    while not (markers() / f"{name}.go").exists():
        await asyncio.sleep(0.01)
    return name
