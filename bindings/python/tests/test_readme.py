"""The README's five-line example runs as written."""

import contextlib
import io
import os
import re

README = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "README.md")


def test_five_line_example_runs():
    text = open(README, encoding="utf-8").read()
    section = text.split("## Five lines", 1)[1]
    code = re.search(r"```python\n(.*?)```", section, re.S).group(1)
    assert len(code.strip().splitlines()) == 5
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(code, "README.md", "exec"), {})
    printed = out.getvalue()
    assert "'concurrency'" in printed and "MAKEFLAGS" in printed and "History: 300 runs" in printed
