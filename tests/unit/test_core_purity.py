import subprocess
import sys

FORBIDDEN = ["huggingface_hub", "litestar", "sqlite3", "httpx", "platformdirs", "click", "rich"]


def test_importing_the_core_pulls_in_no_adapter_library() -> None:
    probe = (
        "import sys, devon_core; "
        f"print(sorted({{m.split('.')[0] for m in sys.modules}} & set({FORBIDDEN!r})))"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
