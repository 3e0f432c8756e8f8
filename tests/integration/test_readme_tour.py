"""What the README promises a new user (issue 31, item 9): `make serve` on another port, and a
tour that leaves nothing behind in the checkout."""

import re
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_make_serve_takes_the_port_the_readme_names() -> None:
    readme = (ROOT / "README.md").read_text()
    assert "make serve PORT=9000" in readme
    planned = subprocess.run(
        ["make", "--no-print-directory", "-n", "-W", "pyproject.toml", "serve", "PORT=9000"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert planned.splitlines()[-1].endswith("devon serve --port 9000")


def test_the_tour_writes_its_export_outside_the_checkout() -> None:
    readme = (ROOT / "README.md").read_text()
    outputs = re.findall(r"devon export[^\n#]*-o\s+(\S+)", readme)
    assert outputs
    assert all(path.startswith("/") for path in outputs)
