"""The API example of docs/reference.md runs as written (write, read, cancel, wait, close)."""

import os
import re
from pathlib import Path

DOC = Path(__file__).resolve().parents[1] / "docs" / "reference.md"


def test_api_example_runs(tmp_path, monkeypatch):
    block = re.findall(r"```python\n(.*?)```", DOC.read_text(), re.S)[0]
    assert "from aiospec.reference import" in block
    monkeypatch.chdir(tmp_path)
    ns: dict = {}
    exec(compile(block, "docs/reference.md", "exec"), ns)
    assert ns["cb"] is ns["r"] and ns["status"] == 5  # aio_waitcomplete handed back the read of "hello"
    assert os.path.getsize(tmp_path / "data") == 512  # the lio write of 512 bytes at offset 0 landed
