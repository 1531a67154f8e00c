"""Helpers of the release tests: a Python process where this project is NOT importable, and a
Space started in such a process.

The child gets a ``sitecustomize.py`` (run by ``site`` at start-up, after the editable install's
``.pth`` hook) that drops the editable finder and puts a finder first on ``sys.meta_path`` that
refuses ``modeling_neuronarrator``, ``dataset_builder`` and ``neuronarrator_eval`` unless they lie
in one of the folders named in ``NEURONARRATOR_ISOLATE_ALLOWED`` (the exported Space folder). So an
exported folder that leaned on the project would fail in the child.
"""

from __future__ import annotations

import os
import queue
import subprocess
import sys
import threading
import time
from pathlib import Path

PROJECT_PACKAGES = ("modeling_neuronarrator", "dataset_builder", "neuronarrator_eval")

_SITECUSTOMIZE = r'''
import os, sys
from importlib.machinery import PathFinder

_PROJECT = {"modeling_neuronarrator", "dataset_builder", "neuronarrator_eval"}
_ALLOWED = [p for p in os.environ.get("NEURONARRATOR_ISOLATE_ALLOWED", "").split(os.pathsep) if p]


def _is_editable(finder):
    names = (getattr(finder, "__module__", "") or "", type(finder).__module__, getattr(finder, "__name__", "") or "")
    return any("editable" in name for name in names)


class _ProjectBlocker:
    """Project packages come only from the allowed folders."""

    @classmethod
    def find_spec(cls, fullname, path=None, target=None):
        if fullname not in _PROJECT:
            return None
        spec = PathFinder.find_spec(fullname, _ALLOWED) if _ALLOWED else None
        if spec is None:
            raise ModuleNotFoundError(f"No module named {fullname!r} (the project is hidden in this process)", name=fullname)
        return spec


sys.meta_path[:] = [f for f in sys.meta_path if not _is_editable(f)]
sys.meta_path.insert(0, _ProjectBlocker)
'''


def isolated_env(tmp_path: Path, allowed: tuple[Path, ...] = ()) -> dict[str, str]:
    """Environment of a child process where the project cannot be imported (except from ``allowed``)."""
    hook = tmp_path / "isolate_hook"
    hook.mkdir(exist_ok=True)
    (hook / "sitecustomize.py").write_text(_SITECUSTOMIZE, encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if k not in {"PYTHONPATH", "GRADIO_SERVER_PORT", "PYTHONSTARTUP"}}
    env.update(
        PYTHONPATH=str(hook),
        NEURONARRATOR_ISOLATE_ALLOWED=os.pathsep.join(str(p) for p in allowed),
        HF_HUB_OFFLINE="1",
        HF_DATASETS_OFFLINE="1",
        TRANSFORMERS_OFFLINE="1",
        HF_MODULES_CACHE=str(tmp_path / "hf_modules"),
        HF_DATASETS_CACHE=str(tmp_path / "hf_datasets"),
        GRADIO_ANALYTICS_ENABLED="False",
        PYTHONUNBUFFERED="1",
        TRANSFORMERS_VERBOSITY="error",
        OMP_NUM_THREADS="1",
    )
    return env


def run_isolated(code: str, args: list[str], cwd: Path, env: dict[str, str], timeout: float = 300) -> subprocess.CompletedProcess:
    """``python -c code args...`` in the isolated environment; the code starts by proving that the
    project does not import."""
    guard = (
        "import importlib\n"
        f"for _name in {PROJECT_PACKAGES!r}:\n"
        "    try:\n"
        "        importlib.import_module(_name)\n"
        "    except ImportError:\n"
        "        continue\n"
        "    raise SystemExit(f'{_name} is still importable in the isolated process')\n"
    )
    return subprocess.run(
        [sys.executable, "-c", guard + code, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout, check=False
    )


class SpaceProcess:
    """``python app.py`` in ``folder`` (isolated); ``url`` is known once Gradio printed it."""

    def __init__(self, folder: Path, env: dict[str, str], timeout: float = 240):
        self.process = subprocess.Popen(
            [sys.executable, "app.py"], cwd=folder, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
        )
        self.lines: list[str] = []
        self._queue: queue.Queue = queue.Queue()
        threading.Thread(target=self._pump, daemon=True).start()
        self.url = self._wait_for_url(timeout)

    def _pump(self) -> None:
        for line in self.process.stdout:
            self._queue.put(line)
        self._queue.put(None)

    def _wait_for_url(self, timeout: float) -> str:
        """Readiness: Gradio prints its local URL once the server accepts connections."""
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                self.stop()
                raise TimeoutError(f"the Space printed no URL within {timeout:.0f} s; output:\n{''.join(self.lines)[-4000:]}")
            try:
                line = self._queue.get(timeout=remaining)
            except queue.Empty:
                continue
            if line is None:
                raise RuntimeError(f"the Space exited with {self.process.wait()} before serving; output:\n{''.join(self.lines)[-4000:]}")
            self.lines.append(line)
            if "Running on local URL:" in line:
                return line.split("Running on local URL:", 1)[1].strip()

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
