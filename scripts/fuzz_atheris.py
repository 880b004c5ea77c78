"""Coverage-guided fuzzing of the model reader and generator with atheris (libFuzzer).

Every input must end either in C sources that gcc accepts (-std=c11 -Wall -Wextra -Werror)
or in exactly one TinyEngineError. Any other exception, an input that takes longer than
--timeout seconds, or one that makes the process grow past --rss-limit-mb is a finding:
libFuzzer stops and writes the input to the findings directory.

    .venv/bin/python scripts/fuzz_atheris.py --seconds 1200 --keep-going   # a long run, every finding kept
    .venv/bin/python scripts/fuzz_atheris.py --runs 3000 --no-real-models  # the suite's smoke run
    .venv/bin/python scripts/fuzz_atheris.py --replay FINDING...           # rerun saved inputs
    .venv/bin/python scripts/fuzz_atheris.py --corpus DIR -- -jobs=2       # after --: libFuzzer's flags

The corpus directory (a fresh temporary one unless --corpus is given) is seeded at start
with small generated models of every operator family and the real models of
../shared/models (TINYENGINE_MODELS); nothing of it is committed.
"""

from __future__ import annotations

import argparse
import hashlib
import re
import shutil
import subprocess
import sys
import tempfile
import traceback
from pathlib import Path

import atheris

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

# Only our code and the generated flatbuffer accessors feed coverage back to the fuzzer.
with atheris.instrument_imports(include=["platformio_tinyengine", "tflite"]):
    from platformio_tinyengine.errors import TinyEngineError
    from platformio_tinyengine.pipeline import compile_model, emit_sources
    from platformio_tinyengine.resources import C_INCLUDE_DIR

from tests.conftest import shared_models  # noqa: E402
from tests.test_fuzz import GENERATED_SEEDS  # noqa: E402

GCC = ["gcc", "-fsyntax-only", "-std=c11", "-Wall", "-Wextra", "-Werror", "-I", str(C_INCLUDE_DIR)]
# The bodies of constant arrays: values of the array's own C type, and most of the text.
_ARRAY_BODY = re.compile(r"(\] = \{\n).*?(\n\};)", re.DOTALL)


def seed_corpus(corpus: Path, real_models: bool) -> int:
    corpus.mkdir(parents=True, exist_ok=True)
    seeds = {f"gen_{k}.tflite": v for k, v in GENERATED_SEEDS.items()}
    if real_models:
        seeds.update({f"real_{p.name}": p.read_bytes() for p in shared_models()})
    for name, data in seeds.items():
        (corpus / name).write_bytes(data)
    return max(len(v) for v in seeds.values())


_checked: set[bytes] = set()


def check_c(files: dict[str, str]) -> None:
    """gcc must accept the generated sources; constant array bodies are left out (they are
    values of the array's own type) so that real models check in milliseconds."""
    skeleton = {name: _ARRAY_BODY.sub(r"\g<1>    0,\g<2>", text) for name, text in files.items()}
    key = hashlib.sha256(repr(sorted(skeleton.items())).encode()).digest()
    if key in _checked:
        return
    with tempfile.TemporaryDirectory(prefix="te_fuzz_c_") as tmp:
        for name, text in skeleton.items():
            Path(tmp, name).write_text(text)
        result = subprocess.run([*GCC, "-I", tmp, str(Path(tmp, "genModel.c"))], capture_output=True, text=True)
    if result.returncode != 0:
        raise AssertionError(f"the generated C does not compile:\n{result.stderr[:3000]}")
    _checked.add(key)


def test_one_input(data: bytes) -> None:
    try:
        files = emit_sources(compile_model(data))
    except TinyEngineError:
        return
    check_c(files)


class KeepGoing:
    """--keep-going: record each distinct failure (exception type and the line of ours that
    raised it) with its input, instead of stopping at the first."""

    def __init__(self, findings: Path) -> None:
        self.findings = findings
        self.seen: set[tuple[str, str]] = set()

    def __call__(self, data: bytes) -> None:
        try:
            test_one_input(data)
        except Exception as exc:
            frames = [f for f in traceback.extract_tb(exc.__traceback__) if str(ROOT) in f.filename]
            where = f"{Path(frames[-1].filename).name}:{frames[-1].lineno}" if frames else "?"
            key = (type(exc).__name__, where)
            if key in self.seen:
                return
            self.seen.add(key)
            path = self.findings / f"finding-{len(self.seen)}-{type(exc).__name__}-{where.replace(':', '-')}"
            path.write_bytes(data)
            print(f"\n[fuzz_atheris] finding {len(self.seen)}: {type(exc).__name__} at {where}, input {path}\n"
                  + "".join(traceback.format_exception(exc, limit=-6)), flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpus", type=Path, help="corpus directory (default: a new temporary one)")
    parser.add_argument("--findings", type=Path, help="where libFuzzer writes crashing inputs "
                                                      "(default: findings/ beside the corpus)")
    parser.add_argument("--seconds", type=int, help="stop after this many seconds")
    parser.add_argument("--runs", type=int, help="stop after this many executions")
    parser.add_argument("--timeout", type=int, default=30, help="seconds one input may take (default 30)")
    parser.add_argument("--rss-limit-mb", type=int, default=3072, help="memory limit of the process (default 3072)")
    parser.add_argument("--no-real-models", action="store_true", help="seed with generated models only")
    parser.add_argument("--seed", type=int, default=0, help="libFuzzer's random seed (0: from the clock)")
    parser.add_argument("--keep-going", action="store_true",
                        help="record every distinct failure and go on (timeouts and memory still stop the run)")
    parser.add_argument("--replay", type=Path, nargs="+", metavar="FILE", help="run these inputs once, no fuzzing")
    args, libfuzzer_args = parser.parse_known_args()
    if shutil.which("gcc") is None:
        parser.error("gcc is needed to check the generated C")
    if args.replay:
        for path in args.replay:
            test_one_input(path.read_bytes())
            print(f"[fuzz_atheris] {path}: generated C or one TinyEngineError")
        return

    temporary = args.corpus is None
    base = Path(tempfile.mkdtemp(prefix="te_atheris_")) if temporary else args.corpus.parent
    corpus = base / "corpus" if temporary else args.corpus
    findings = args.findings or base / "findings"
    findings.mkdir(parents=True, exist_ok=True)
    max_len = seed_corpus(corpus, real_models=not args.no_real_models)
    print(f"[fuzz_atheris] corpus {corpus}, findings {findings}", flush=True)

    flags = [f"-timeout={args.timeout}", f"-rss_limit_mb={args.rss_limit_mb}", f"-max_len={max_len}",
             f"-artifact_prefix={findings}/", f"-seed={args.seed}", "-print_final_stats=1"]
    if args.seconds is not None:
        flags.append(f"-max_total_time={args.seconds}")
    if args.runs is not None:
        flags.append(f"-runs={args.runs}")
    libfuzzer_args = [a for a in libfuzzer_args if a != "--"]
    target = KeepGoing(findings) if args.keep_going else test_one_input
    atheris.Setup([sys.argv[0], *flags, *libfuzzer_args, str(corpus)], target)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
