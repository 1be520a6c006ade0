"""The compatibility environments: one cached virtual environment per Jupyter stack.

Each environment is a requirements file in ``requirements/`` and a virtual environment
under ``.venv-compat/NAME`` at the repository's root (git-ignored). A venv is reused
while its key is unchanged: the requirements file, the Python version and, for
``oldest``, the lower bounds declared in ``pyproject.toml``. This package goes in
from the working tree as a wheel built once per run (``pip wheel``, which bundles
the front end through ``hatch_build.py``), reinstalled in every environment each run.

``oldest`` pins :data:`OLDEST_PINNED` to the lower bounds of ``pyproject.toml``'s
``dependencies``, so what is declared is what is tested.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

try:
    import tomllib
except ImportError:  # Python 3.10
    import tomli as tomllib  # type: ignore[no-redef]

ROOT = Path(__file__).resolve().parents[2]
REQUIREMENTS = Path(__file__).resolve().parent / "requirements"
#: Where the venvs live; ``K8STTY_COMPAT_VENVS`` moves them (e.g. to a cache outside a clone).
CACHE = Path(os.environ.get("K8STTY_COMPAT_VENVS") or ROOT / ".venv-compat")
KEY_FILE = ".k8stty-compat-key"

#: The dependencies whose declared lower bounds ``oldest`` installs exactly. The
#: others (typing_extensions) resolve freely: kubernetes sets a higher floor for them.
OLDEST_PINNED = ("kubernetes", "ipykernel", "ipywidgets", "anywidget", "traitlets", "websocket-client")

#: Seconds one ``pip install`` may take (a fresh venv downloads a few hundred MB at most).
PIP_TIMEOUT = 900


@dataclass(frozen=True)
class Env:
    """A compatibility environment."""

    name: str
    #: What it stands for, as the run's report says it.
    title: str

    @property
    def requirements(self) -> Path:
        return REQUIREMENTS / f"{self.name}.txt"

    @property
    def prefix(self) -> Path:
        return CACHE / self.name

    @property
    def python(self) -> Path:
        return self.prefix / "bin" / "python"

    @property
    def bin(self) -> Path:
        return self.prefix / "bin"

    def pins(self) -> list[str]:
        """Requirements added to the file's: the declared lower bounds, for ``oldest``."""
        return oldest_pins() if self.name == "oldest" else []

    def key(self) -> str:
        text = json.dumps([self.requirements.read_text(), self.pins(), sys.version_info[:2]])
        return hashlib.sha256(text.encode()).hexdigest()

    def is_current(self) -> bool:
        stamp = self.prefix / KEY_FILE
        return self.python.is_file() and stamp.is_file() and stamp.read_text().strip() == self.key()


ENVS = {
    env.name: env
    for env in (
        Env("notebook7", "Notebook 7 (today's kernel stack)"),
        Env("lab42", "JupyterLab 4.2 with ipykernel 6"),
        Env("lab36", "JupyterLab 3.6 with ipywidgets 7"),
        Env("marimo", "marimo edit"),
        Env("oldest", "the oldest declared dependencies"),
    )
}


def oldest_pins() -> list[str]:
    """``NAME==LOWER`` for each of :data:`OLDEST_PINNED`, from ``pyproject.toml``."""
    with open(ROOT / "pyproject.toml", "rb") as f:
        dependencies = tomllib.load(f)["project"]["dependencies"]
    bounds = {}
    for requirement in dependencies:
        match = re.fullmatch(r"\s*([A-Za-z0-9_.-]+)\s*>=\s*([0-9][0-9A-Za-z.]*)\s*", requirement)
        if match:
            bounds[canonical(match[1])] = match[2]
    missing = [name for name in OLDEST_PINNED if canonical(name) not in bounds]
    if missing:
        raise RuntimeError(f"pyproject.toml declares no 'NAME>=VERSION' lower bound for {missing}")
    return [f"{name}=={bounds[canonical(name)]}" for name in OLDEST_PINNED]


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def log(message: str) -> None:
    print(f"[compat] {message}", file=sys.stderr, flush=True)


def pip(python: Path, *args: str) -> None:
    """Run pip quietly in the venv of ``python``; on failure, show its output and raise."""
    command = [str(python), "-m", "pip", "--disable-pip-version-check", "--no-input", *args]
    done = subprocess.run(command, capture_output=True, text=True, timeout=PIP_TIMEOUT,
                          stdin=subprocess.DEVNULL)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")


def build_wheel() -> Path:
    """Build this package's wheel from the working tree into ``.venv-compat/wheel``; return it."""
    out = CACHE / "wheel"
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    pip(Path(sys.executable), "wheel", "--no-deps", "-q", "-w", str(out), str(ROOT))
    (wheel,) = out.glob("jupyter_k8stty-*.whl")
    return wheel


def prepare(env: Env, wheel: Path) -> bool:
    """Make ``env``'s venv current and install ``wheel`` in it; return whether it was reused.

    A reused venv gets the wheel without dependencies, then ``pip check``: a
    dependency the new metadata no longer accepts rebuilds the venv from scratch.
    """
    if env.is_current():
        pip(env.python, "install", "-q", "--no-deps", "--force-reinstall", str(wheel))
        try:
            pip(env.python, "check")
            return True
        except RuntimeError as exc:
            log(f"{env.name}: rebuilding, the cached venv no longer fits: {exc}")
    shutil.rmtree(env.prefix, ignore_errors=True)
    subprocess.run([sys.executable, "-m", "venv", str(env.prefix)], check=True)
    pip(env.python, "install", "-q", "--upgrade", "pip")
    # One resolution for everything, so the package's metadata must accept the pins.
    pip(env.python, "install", "-q", "-r", str(env.requirements), *env.pins(), str(wheel))
    pip(env.python, "check")
    (env.prefix / KEY_FILE).write_text(env.key() + "\n")
    return False


def versions(env: Env, names: tuple[str, ...]) -> dict[str, str]:
    """Installed versions of ``names`` in ``env`` (missing ones are left out)."""
    code = (
        "import json, sys\nfrom importlib.metadata import version, PackageNotFoundError\n"
        "out = {}\nfor n in sys.argv[1:]:\n"
        "    try: out[n] = version(n)\n    except PackageNotFoundError: pass\nprint(json.dumps(out))"
    )
    done = subprocess.run([str(env.python), "-c", code, *names], capture_output=True, text=True, check=True)
    return json.loads(done.stdout)
