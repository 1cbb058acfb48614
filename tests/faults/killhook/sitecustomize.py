"""Start-up hook of the kill tests (tests/faults/test_faults_kill.py), not a test module.

Python imports `sitecustomize` in every process whose PYTHONPATH holds this folder. With
PIPELINE_KILL_AT set, the process writes the moment to the file PIPELINE_KILL_MARK and kills its
process group with SIGKILL when that moment comes, so a moment lasting a millisecond is never missed:
  moving   stages/$PIPELINE_KILL_STAGE.py moves its first output into place (an os.replace whose
           destination is outside the temporary folder $PIPELINE_KILL_TMP)
  locking  a process opens dvc.lock for writing (DVC rewriting it after a stage ran)
Without PIPELINE_KILL_AT it changes nothing.
"""
import builtins
import os
import signal
import sys

_MOMENT = os.environ.get("PIPELINE_KILL_AT")
_REAL_OPEN, _REAL_REPLACE = builtins.open, os.replace


def _kill() -> None:
    with _REAL_OPEN(os.environ["PIPELINE_KILL_MARK"], "w") as f:
        f.write(_MOMENT)
    os.killpg(os.getpgid(0), signal.SIGKILL)


def _replace(src, dst, **kwargs):
    script = f"stages/{os.environ['PIPELINE_KILL_STAGE']}.py"
    if sys.argv and sys.argv[0].endswith(script) and os.environ["PIPELINE_KILL_TMP"] not in os.fspath(dst):
        _kill()
    return _REAL_REPLACE(src, dst, **kwargs)


def _open(file, mode="r", *args, **kwargs):
    if isinstance(file, (str, bytes, os.PathLike)) and os.fsdecode(file).endswith("dvc.lock") \
            and any(c in mode for c in "wa+"):
        _kill()
    return _REAL_OPEN(file, mode, *args, **kwargs)


if _MOMENT == "moving":
    os.replace = _replace
elif _MOMENT == "locking":
    builtins.open = _open
