"""Measure paydiag's throughput and peak memory beside grep, on one generated log.

    python benchmarks/run.py --size 200MB [--jobs 1,2] [--engines pure,literal,hyperscan]

Prints, in one run: grep -E -f MB/s with the catalog's own patterns (`paydiag rules
patterns`), paydiag analyze MB/s with each engine, the ratio to grep, and peak RSS.
Timings are wall-clock on whatever machine runs it; the README records the latest.

Engines: `hyperscan` (Hyperscan and the C speedups: every accelerator), `literal` (the
Aho-Corasick prefilter with the C speedups) and `pure` (no optional accelerator at all:
the literal prefilter and the pure-Python activity scan).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from generate_log import generate, parse_size

from paydiag.parse.activity import ActivityScanner
from paydiag.speedups import NO_SPEEDUPS_VARIABLE

# engine -> (paydiag analyze options, environment)
ENGINES = {
    "hyperscan": (["--engine", "hyperscan"], {}),
    "literal": (["--engine", "literal"], {}),
    "pure": (["--engine", "literal"], {NO_SPEEDUPS_VARIABLE: "1"}),
}

# Output goes to a pipe, never /dev/null: GNU grep treats a /dev/null stdout as -q and
# stops at the first match, which once made it look ten times faster than it is.
_MEASURE = (
    "import resource, subprocess, sys\n"
    "done = subprocess.run(sys.argv[1:], stdout=subprocess.PIPE, stderr=subprocess.PIPE)\n"
    "peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss\n"
    "sys.stdout.write(f'{done.returncode} {peak}')\n"
)


def measure(
    command: list[str], env: dict[str, str] | None = None, repeat: int = 1
) -> tuple[float, float, int]:
    """Best wall seconds of `repeat` runs, the highest peak RSS in MB, and the exit code.

    The best run, not the mean: on a shared machine every other process only ever adds
    time, so the fastest run is the closest to what the code costs.
    """
    runs = []
    for _ in range(repeat):
        start = time.perf_counter()
        result = subprocess.run(
            [sys.executable, "-c", _MEASURE, *command],
            capture_output=True,
            text=True,
            env=env,
            check=True,
        )
        seconds = time.perf_counter() - start
        code, peak_kb = result.stdout.split()
        runs.append((seconds, int(peak_kb) / 1024, int(code)))
    return min(r[0] for r in runs), max(r[1] for r in runs), runs[-1][2]


def _installed_environment() -> dict[str, str]:
    """This environment, but with Python free to write bytecode: an installed paydiag runs
    from compiled modules, while PYTHONDONTWRITEBYTECODE (set on some machines) would make
    every run compile them again, about 0.1 s of start-up that no user pays."""
    return {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}


def log_file(size: int, seed: int, folder: Path) -> Path:
    path = folder / f"payments-{size}-{seed}.log"
    if not path.exists():
        generate(size, seed, path)
    return path


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", type=parse_size, default=parse_size("200MB"))
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--engines", default="pure,literal,hyperscan")
    parser.add_argument("--jobs", default="1")
    parser.add_argument(
        "--modes",
        default="incidents,errors-only",
        help="incidents: the default analysis; errors-only: with --no-incidents",
    )
    parser.add_argument("--repeat", type=int, default=3, help="runs of each; the best counts")
    parser.add_argument("--dir", type=Path, default=Path(tempfile.gettempdir()) / "paydiag-bench")
    args = parser.parse_args(argv)
    if unknown := set(args.engines.split(",")) - ENGINES.keys():
        parser.error(
            f"unknown engine {', '.join(sorted(unknown))}; choose from {', '.join(ENGINES)}"
        )
    args.dir.mkdir(parents=True, exist_ok=True)
    log = log_file(args.size, args.seed, args.dir)
    megabytes = log.stat().st_size / 1e6
    paydiag = [sys.executable, "-m", "paydiag"]

    patterns = args.dir / "patterns.txt"
    patterns.write_text(
        subprocess.run(
            [*paydiag, "rules", "patterns"], capture_output=True, text=True, check=True
        ).stdout
    )
    pattern_count = len(patterns.read_text().splitlines())
    c_locale = {**os.environ, "LC_ALL": "C"}
    grep_seconds, grep_rss, grep_code = measure(
        ["grep", "-c", "-E", "-f", str(patterns), str(log)], c_locale, args.repeat
    )
    if grep_code not in (0, 1):
        print(f"grep exited {grep_code}", file=sys.stderr)
        return 1
    rows = [("grep -E -f", "-", grep_seconds, grep_rss)]
    for mode in args.modes.split(","):
        for engine in args.engines.split(","):
            for jobs in args.jobs.split(","):
                options, environment = ENGINES[engine]
                command = [
                    *paydiag,
                    "analyze",
                    str(log),
                    *options,
                    "--jobs",
                    jobs,
                    "--format",
                    "json",
                    "-o",
                    os.devnull,
                    "--fail-on",
                    "never",
                    "--quiet",
                ]
                if mode == "errors-only":
                    command.append("--no-incidents")
                env = {**_installed_environment(), **environment}
                seconds, rss, code = measure(command, env, repeat=args.repeat)
                if code not in (0, 1):
                    print(f"paydiag exited {code} with engine {engine}", file=sys.stderr)
                    return 1
                rows.append((f"paydiag {engine} {mode}", jobs, seconds, rss))

    print(f"input: {log.name}, {megabytes:,.0f} MB, {pattern_count} catalog patterns")
    built = "built" if ActivityScanner().native is not None else "NOT built"
    print(f"C speedups (paydiag._speedups): {built}")
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} cores, Python "
        f"{platform.python_version()}, {platform.platform(terse=True)}"
    )
    print(f"{'tool':<36} {'jobs':>4} {'seconds':>8} {'MB/s':>8} {'x grep':>7} {'peak RSS MB':>12}")
    for name, jobs, seconds, rss in rows:
        rate = megabytes / seconds
        ratio = grep_seconds / seconds
        print(f"{name:<36} {jobs:>4} {seconds:>8.2f} {rate:>8.1f} {ratio:>7.2f} {rss:>12.0f}")
    summary = {
        name + (f" jobs={jobs}" if jobs != "-" else ""): {
            "seconds": round(seconds, 3),
            "mb_per_s": round(megabytes / seconds, 1),
            "ratio_to_grep": round(grep_seconds / seconds, 3),
            "peak_rss_mb": round(rss),
        }
        for name, jobs, seconds, rss in rows
    }
    (args.dir / "last-run.json").write_text(json.dumps(summary, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
