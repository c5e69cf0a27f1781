#!/usr/bin/env python3
"""Benchmarks `runner` against the shell peers it replaces, in one run, on the same data.

usage: python3 benches/peers.py [--size-mib 256] [--runs 5] [--rss-gib 4] [--cases etl,checksum,rss,chunks]
       python3 benches/peers.py --gen-logs OUT_FILE SIZE_MIB   (only write the corpus; other benches use it)

Cases (medians of --runs, MB = 10^6 bytes, each figure printed beside its peer's and the ratio):
  etl       the flagship chain, runner with 1 worker vs the shell pipeline of tee, sha256sum, tr,
            gzip -6 (../shared/peers/shell-etl.sh, re-created below); and runner with 2 workers vs the
            same pipeline with pigz -6 -p 2
  checksum  checksum(sha256, sidecar) | write(copy) vs `sha256sum` + `cp`

Each case also prints the ceiling of this machine, measured in the same run, so that a ratio can be
read against what the hardware allows:
  etl       `gzip(level = 6) | write` on 1 worker (one core of zlib-rs deflate, which is 87% of the
            etl chain's cycles) times the worker count: no chain with gzip -6 on N cores can pass it
  checksum  `openssl dgst -sha256` of the file: reading and hashing at the hardware's speed, with no
            copy and no fsync (skipped if openssl is not installed)
  rss       peak RSS of runner on a 16 MiB and a --rss-gib GiB input (generated here, deleted after),
            with the etl-like chain on 1 worker and the etl chain on 2 workers
  chunks    the etl chain with 2 workers at chunk sizes 16 KiB to 1 MiB (how the default was picked)

Needs: a release build (this script runs `cargo build --release`), gzip, pigz and GNU time
(apt-get install pigz time).
Data is generated under $TMPDIR and removed at the end; nothing is committed.
"""
import argparse
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RUNNER = os.path.join(ROOT, "target", "release", "runner")
TIME = "/usr/bin/time"  # GNU time (apt-get install time), for the peak RSS of one command

# The shell equivalent of the etl chain (same commands as ../shared/peers/shell-etl.sh).
SHELL_ETL = r'''
set -euo pipefail
in=$1 out=$2 gz=$3
name=$(basename "$in")
mkdir -p "$out/sums" "$out/plain" "$out/a" "$out/b"
case $gz in
  gzip) zip=(gzip -6) ;;
  pigz) zip=(pigz -6 -p "$(nproc)") ;;
esac
tee >(sha256sum | sed "s|-\$|$name|" > "$out/sums/$name.sha256") < "$in" \
  | tee "$out/plain/$name" \
  | tr 'a-z' 'A-Z' \
  | "${zip[@]}" \
  | tee "$out/a/$name.gz" > "$out/b/$name.gz"
wait
'''

SHELL_CHECKSUM = r'''
set -euo pipefail
in=$1 out=$2
mkdir -p "$out/sums" "$out/copy"
(cd "$(dirname "$in")" && sha256sum "$(basename "$in")") > "$out/sums/$(basename "$in").sha256"
cp "$in" "$out/copy/"
'''

ETL_CHAIN = ('checksum(sha256, sidecar = "out/sums/{name}.sha256") | tee("out/plain/{name}") | upper '
             '| gzip(level = 6) | multiwrite("out/a/{name}.gz", "out/b/{name}.gz")')
CHECKSUM_CHAIN = 'checksum(sha256, sidecar = "out/sums/{name}.sha256") | write("out/copy/{name}")'
GZIP_CHAIN = 'gzip(level = 6) | write("out/gz/{name}.gz")'
RSS_CHAIN = ('checksum(sha256) | tee("out/plain/{name}") | upper | gzip(level = 1) '
             '| multiwrite("out/a/{name}.gz", "out/b/{name}.gz")')


def gen_logs(path, size_mib):
    """The corpus of ../shared/peers/gen-logs.py: deterministic, realistic log lines."""
    rng = random.Random(7)
    words = ("alpha beta gamma delta epsilon zeta eta theta iota kappa lambda mu nu xi omicron pi rho "
             "sigma tau upsilon phi chi psi omega request response GET POST user id session latency ms "
             "error warn info debug payment order invoice").split()
    lines = []
    for _ in range(200_000):
        ts = (f"2026-12-04T{rng.randint(0, 23):02d}:{rng.randint(0, 59):02d}:{rng.randint(0, 59):02d}"
              f".{rng.randint(0, 999):03d}Z")
        lvl = rng.choice(["INFO", "WARN", "ERROR", "DEBUG"])
        msg = " ".join(rng.choice(words) for _ in range(rng.randint(5, 20)))
        lines.append(f"{ts} {lvl} svc-{rng.randint(1, 40)} id={rng.getrandbits(48):x} {msg} π=3.14 naïve Ünïcödé\n")
    block = "".join(lines).encode()
    target = size_mib * 1024 * 1024
    with open(path, "wb") as f:
        written = 0
        while written < target:
            part = block[: target - written]
            f.write(part)
            written += len(part)


def run(cmd, cwd):
    """Runs a command; returns (seconds, peak RSS in KiB of the command itself).

    The peak RSS comes from GNU time, which forks the command from its own small process: a child
    forked from this Python process would carry Python's RSS into its `ru_maxrss`.
    """
    with tempfile.NamedTemporaryFile(mode="r") as rss:
        start = time.perf_counter()
        proc = subprocess.run([TIME, "-f", "%M", "-o", rss.name, *cmd], cwd=cwd,
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        elapsed = time.perf_counter() - start
        if proc.returncode != 0:
            sys.exit(f"command failed ({proc.returncode}): {' '.join(cmd)}\n{proc.stderr.decode(errors='replace')}")
        return elapsed, int(rss.read().split()[-1])


def pipeline(work, chain, workers, inbox, chunk="64KiB"):
    path = os.path.join(work, f"bench-{workers}-{chunk}.yaml")
    with open(path, "w") as f:
        f.write(f"version: 1\nworkers: {workers}\nchunk: {chunk}\njobs:\n  bench:\n"
                f"    source: {{dir: {inbox}}}\n    chain: '{chain}'\n")
    return path


def median_mbs(size, cmd, cwd, runs, clean):
    times = []
    for _ in range(runs):
        shutil.rmtree(clean, ignore_errors=True)
        t, _ = run(cmd, cwd)
        times.append(t)
    return size / 1e6 / statistics.median(times), statistics.median(times)


def row(name, ours, peer_name, theirs):
    print(f"| {name} | {ours:8.1f} | {peer_name} | {theirs:8.1f} | {ours / theirs:5.2f}x |", flush=True)


def ceiling(name, mbs, peer_name, theirs):
    """A row for the most any program could do here: its MB/s, and that as a ratio to the peer."""
    print(f"| ceiling: {name} | {mbs:8.1f} | {peer_name} | {theirs:8.1f} | {mbs / theirs:5.2f}x |", flush=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--size-mib", type=int, default=256)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--rss-gib", type=int, default=4)
    ap.add_argument("--cases", default="etl,checksum,rss")
    ap.add_argument("--gen-logs", nargs=2, metavar=("OUT_FILE", "SIZE_MIB"),
                    help="only write the corpus (as ../shared/peers/gen-logs.py does) and exit")
    args = ap.parse_args()
    if args.gen_logs:
        gen_logs(args.gen_logs[0], int(args.gen_logs[1]))
        return
    cases = set(args.cases.split(","))
    subprocess.run(["cargo", "build", "--release", "-q"], cwd=ROOT, check=True)
    work = tempfile.mkdtemp(prefix="runner-bench-")
    try:
        inbox = os.path.join(work, "inbox")
        os.makedirs(inbox)
        corpus = os.path.join(inbox, "corpus.log")
        gen_logs(corpus, args.size_mib)
        size = os.path.getsize(corpus)
        with open(corpus, "rb") as f:  # warm the page cache for everyone alike
            while f.read(1 << 20):
                pass
        out = os.path.join(work, "out")
        shell = os.path.join(work, "shell-out")
        print(f"corpus: {size / 1e6:.0f} MB of generated logs, median of {args.runs} runs, MB/s\n")
        print("| case | runner MB/s | peer | peer MB/s | ratio |")
        print("|---|---|---|---|---|")
        if "etl" in cases:
            deflate = None
            for workers, zipper in [(1, "gzip"), (2, "pigz")]:
                if shutil.which(zipper) is None:
                    print(f"| etl chain | skipped: `{zipper}` is not installed | | | |")
                    continue
                ours, _ = median_mbs(size, [RUNNER, "-q", pipeline(work, ETL_CHAIN, workers, inbox)], work, args.runs, out)
                theirs, _ = median_mbs(size, ["bash", "-c", SHELL_ETL, "etl", corpus, shell, zipper], work, args.runs, shell)
                row(f"etl chain, {workers} worker(s)", ours, f"shell-etl.sh {zipper}", theirs)
                if deflate is None:
                    deflate, _ = median_mbs(size, [RUNNER, "-q", pipeline(work, GZIP_CHAIN, 1, inbox)], work,
                                            args.runs, out)
                ceiling(f"{workers} x one core of gzip -6 alone", workers * deflate, f"shell-etl.sh {zipper}",
                        theirs)
        if "checksum" in cases:
            ours, _ = median_mbs(size, [RUNNER, "-q", pipeline(work, CHECKSUM_CHAIN, 1, inbox)], work, args.runs, out)
            theirs, _ = median_mbs(size, ["bash", "-c", SHELL_CHECKSUM, "ck", corpus, shell], work, args.runs, shell)
            row("checksum(sha256) + copy", ours, "sha256sum + cp", theirs)
            if shutil.which("openssl") is None:
                print("| ceiling | skipped: `openssl` is not installed | | | |")
            else:
                hashed, _ = median_mbs(size, ["openssl", "dgst", "-sha256", corpus], work, args.runs, out)
                ceiling("openssl dgst -sha256 alone (no copy)", hashed, "sha256sum + cp", theirs)
        if "chunks" in cases:
            print("\n| chunk | etl chain, 2 workers, MB/s |")
            print("|---|---|")
            for chunk in ["16KiB", "64KiB", "256KiB", "1MiB"]:
                ours, _ = median_mbs(size, [RUNNER, "-q", pipeline(work, ETL_CHAIN, 2, inbox, chunk)], work,
                                     args.runs, out)
                print(f"| {chunk} | {ours:.1f} |", flush=True)
        os.remove(corpus)
        if "rss" in cases:
            print("\n| input | peak RSS (MiB) | MB/s |")
            print("|---|---|---|")
            peaks = []
            for label, mib in [("16 MiB", 16), (f"{args.rss_gib} GiB", args.rss_gib * 1024)]:
                big = os.path.join(inbox, "big.log")
                gen_logs(big, mib)
                for name, chain, workers in [("etl-like, gzip -1, 1 worker", RSS_CHAIN, 1),
                                             ("etl chain, 2 workers", ETL_CHAIN, 2)]:
                    shutil.rmtree(out, ignore_errors=True)
                    t, rss = run([RUNNER, "-q", pipeline(work, chain, workers, inbox)], work)
                    peaks.append((name, rss))
                    print(f"| {label}, {name} | {rss / 1024:.1f} | {mib * 1024 * 1024 / 1e6 / t:.0f} |",
                          flush=True)
                os.remove(big)
            for i in range(2):
                print(f"\npeak RSS difference, {peaks[i][0]}: {(peaks[i + 2][1] - peaks[i][1]) / 1024:.2f} MiB")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
