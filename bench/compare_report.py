#!/usr/bin/python3
"""The comparison benchmark's numbers: one JSON line per fio run (`row`, `failure`, used inside the
VM by bench/vm/compare-guest.sh) and, from those lines, a Markdown table and a PNG chart (`report`,
run by bench/compare.sh on the host). Debian's python3 and python3-matplotlib; nothing else."""
import json
import sys

# Each suite: the paths in the order of its tables, its workloads, and its goals.
SUITES = {
    "compare": {
        "title": "lunkit comparison benchmark",
        "configs": [
            ("lunkit-tcmu-file", "lunkit TCMU (tcm_loop), file handler"),
            ("lunkit-tcmu-ram", "lunkit TCMU (tcm_loop), ram handler"),
            ("lunkit-tcmu-null", "lunkit TCMU (tcm_loop), null handler"),
            ("lunkit-ublk-file", "lunkit ublk, file handler"),
            ("lunkit-ublk-ram", "lunkit ublk, ram handler"),
            ("lunkit-ublk-null", "lunkit ublk, null handler"),
            ("tcmu-runner-qcow", "tcmu-runner 1.5.4 user:qcow, raw image (tcm_loop)"),
            ("kernel-fileio", "kernel fileio backstore (tcm_loop)"),
            ("kernel-ramdisk", "kernel ramdisk backstore (tcm_loop)"),
            ("kernel-loop", "kernel loop device"),
        ],
        "workloads": ["randread-4k-qd1", "randread-4k-qd32", "randwrite-4k-qd1",
                      "randwrite-4k-qd32", "read-128k", "write-128k"],
    },
    "ublk618": {
        "title": "lunkit ublk on Linux 6.18: zero copy",
        "configs": [
            ("lunkit-ublk-file-zc", "lunkit ublk, file handler, zero copy (UBLK_F_AUTO_BUF_REG)"),
            ("lunkit-ublk-file-copy", "lunkit ublk, file handler, --no-zero-copy"),
            ("kernel-loop", "kernel loop device"),
            ("lunkit-ublk-file-zc-direct", "lunkit ublk, file handler direct=1, zero copy"),
            ("lunkit-ublk-file-copy-direct", "lunkit ublk, file handler direct=1, --no-zero-copy"),
            ("kernel-loop-direct", "kernel loop device, --direct-io=on"),
        ],
        "workloads": ["randread-4k-qd32", "randwrite-4k-qd32", "read-128k-qd32",
                      "write-128k-qd32"],
        "backing": "a 256 MiB RAM disk (brd, /dev/ram0) under every path",
    },
    "ublk-imbalance": {
        "title": "lunkit ublk on Linux 6.18: imbalanced load and per-I/O daemons",
        "configs": [
            ("lunkit-ublk-null-per-queue", "lunkit ublk, null handler, one thread per queue"),
            ("lunkit-ublk-null-per-io", "lunkit ublk, null handler, --threads 2 (per-I/O daemons)"),
            ("lunkit-ublk-file-per-queue", "lunkit ublk, file handler, one thread per queue"),
            ("lunkit-ublk-file-per-io", "lunkit ublk, file handler, --threads 2 (per-I/O daemons)"),
        ],
        "workloads": ["randread-4k-qd32", "randwrite-4k-qd32"],
        "backing": "two queues, fio pinned to CPU 0 so that every request lands on queue 0; the "
                   "file handler on a 256 MiB RAM disk (brd, zero copy), null of the same size",
    },
    "rbd": {
        "title": "lunkit rbd benchmark",
        "configs": [
            ("lunkit-tcmu-rbd", "lunkit TCMU (tcm_loop), rbd handler"),
            ("lunkit-ublk-rbd", "lunkit ublk, rbd handler"),
            ("tcmu-runner-rbd", "tcmu-runner 1.5.4 user:rbd (tcm_loop)"),
            ("fio-librbd", "fio's rbd engine: librbd in the benchmark process"),
            ("rbd-bench", "rbd bench (librbd directly; IOPS only)"),
        ],
        "workloads": ["randread-4k-qd1", "randread-4k-qd32", "randwrite-4k-qd1",
                      "randwrite-4k-qd32"],
    },
}

def row(fio_json, config, workload, bs, qd, server_ticks, busy_ticks, tick):
    with open(fio_json) as f:
        job = json.load(f)["jobs"][0]
    side = job["read"] if job["read"]["total_ios"] else job["write"]
    ios = job["read"]["total_ios"] + job["write"]["total_ios"]
    pct = side["clat_ns"].get("percentile", {})
    per_mio = lambda ticks: (float(ticks) / int(tick)) / ios * 1e6 if ios else None
    if str(server_ticks).startswith("seconds:"):  # librbd inside fio: fio's whole process
        server_ticks = float(server_ticks[8:]) * int(tick)
    out = {
        "config": config, "workload": workload, "bs": bs, "iodepth": int(qd),
        "iops": round(side["iops"], 1), "mib_s": round(side["bw"] / 1024, 2),
        "p50_us": round(pct.get("50.000000", 0) / 1000, 1),
        "p99_us": round(pct.get("99.000000", 0) / 1000, 1),
        "ios": ios, "errors": job.get("error", 0),
        "server_cpu_s_per_mio": None if float(server_ticks) == 0 and config.startswith("kernel")
        else round(per_mio(server_ticks), 1),
        "vm_cpu_s_per_mio": round(per_mio(busy_ticks), 1),
    }
    print(json.dumps(out))


def rbd_bench_row(output_file, config, workload, bs, qd, cpu_seconds):
    """A row from `rbd bench` output: its summary line has elapsed seconds, ops and ops/sec."""
    import re
    text = open(output_file).read()
    m = re.search(r"elapsed:\s*([\d.]+)\s+ops:\s*(\d+)\s+ops/sec:\s*([\d.]+)\s+bytes/sec:\s*([\d.]+)", text)
    if not m:
        return failure(config + "/" + workload, "no summary in rbd bench output: " + text[-200:])
    ios = int(m.group(2))
    out = {
        "config": config, "workload": workload, "bs": bs, "iodepth": int(qd),
        "iops": round(float(m.group(3)), 1), "mib_s": round(float(m.group(4)) / 1048576, 2),
        "p50_us": None, "p99_us": None, "ios": ios, "errors": 0,
        "server_cpu_s_per_mio": round(float(cpu_seconds) / ios * 1e6, 1) if ios else None,
        "vm_cpu_s_per_mio": None,
    }
    print(json.dumps(out))


def failure(config, why):
    print(json.dumps({"config": config, "failure": why}))


def median(values):
    v = sorted(values)
    n = len(v)
    return v[n // 2] if n % 2 else (v[n // 2 - 1] + v[n // 2]) / 2


def load(path):
    """Rows by (config, workload). A suite that runs each pair in several rounds gets the median
    of every number, and its spread (min, max, rounds) for IOPS and MiB/s in rows' "spread"."""
    meta, runs, failures = {}, {}, []
    with open(path) as f:
        for line in f:
            line = line.strip()
            if not line.startswith("{"):
                continue
            r = json.loads(line)
            if "meta" in r:
                meta = r["meta"]
            elif "failure" in r:
                failures.append(r)
            else:
                runs.setdefault((r["config"], r["workload"]), []).append(r)
    rows = {}
    for key, rs in runs.items():
        m = dict(rs[0])
        for field, value in rs[0].items():
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                present = [r[field] for r in rs if r.get(field) is not None]
                m[field] = median(present) if present else None
        m["spread"] = {f: (min(r[f] for r in rs), max(r[f] for r in rs), len(rs))
                       for f in ("iops", "mib_s")}
        rows[key] = m
    return meta, rows, failures


def fmt(v, digits=0):
    if v is None:
        return "—"
    return f"{v:,.{digits}f}"


def ratio(rows, a, b, workload, key="iops"):
    ra, rb = rows.get((a, workload)), rows.get((b, workload))
    if not ra or not rb or not rb.get(key) or ra.get(key) is None:
        return None
    return ra[key] / rb[key]


def goal_lines(suite, rows):
    lines = []
    def check(text, value, want, above=True):
        if value is None:
            lines.append(f"| {text} | not measured | {'≥' if above else '≤'} {want} | — |")
        else:
            met = value >= want if above else value <= want
            lines.append(f"| {text} | {value:.2f}× | {'≥' if above else '≤'} {want}× | "
                         f"{'met' if met else '**not met**'} |")
    def info(text, value):
        lines.append(f"| {text} | {'not measured' if value is None else f'{value:.2f}×'} | "
                     "no goal | — |")
    if suite == "ublk618":
        for io, suffix in (("buffered", ""), ("direct", "-direct")):
            for w in SUITES[suite]["workloads"]:
                key, unit = ("mib_s", "MiB/s") if "128k" in w else ("iops", "IOPS")
                want = 1.0 if "128k" in w else 0.9
                check(f"zero copy / kernel loop {unit}, {w}, {io}",
                      ratio(rows, "lunkit-ublk-file-zc" + suffix, "kernel-loop" + suffix, w, key),
                      want)
        for io, suffix in (("buffered", ""), ("direct", "-direct")):
            for w in SUITES[suite]["workloads"]:
                key, unit = ("mib_s", "MiB/s") if "128k" in w else ("iops", "IOPS")
                info(f"zero copy / copy {unit}, {w}, {io} (what the copy costs)",
                     ratio(rows, "lunkit-ublk-file-zc" + suffix, "lunkit-ublk-file-copy" + suffix,
                           w, key))
        return lines
    if suite == "ublk-imbalance":
        for handler in ("null", "file"):
            for w in SUITES[suite]["workloads"]:
                check(f"{handler}: per-I/O daemons / one thread per queue IOPS, {w}",
                      ratio(rows, f"lunkit-ublk-{handler}-per-io",
                            f"lunkit-ublk-{handler}-per-queue", w), 1.5)
        for handler in ("null", "file"):
            for w in SUITES[suite]["workloads"]:
                info(f"{handler}: per-I/O daemons / one thread per queue, server CPU per I/O, {w}",
                     ratio(rows, f"lunkit-ublk-{handler}-per-io",
                           f"lunkit-ublk-{handler}-per-queue", w, "server_cpu_s_per_mio"))
        return lines
    if suite == "rbd":
        for w in ("randread-4k-qd32", "randwrite-4k-qd32"):
            check(f"lunkit TCMU rbd / rbd bench IOPS, {w}",
                  ratio(rows, "lunkit-tcmu-rbd", "rbd-bench", w), 0.8)
            check(f"lunkit TCMU rbd / tcmu-runner rbd IOPS, {w}",
                  ratio(rows, "lunkit-tcmu-rbd", "tcmu-runner-rbd", w), 1.0)
        return lines
    for w in ("randread-4k-qd32", "randwrite-4k-qd32"):
        check(f"lunkit TCMU file / tcmu-runner IOPS, {w}",
              ratio(rows, "lunkit-tcmu-file", "tcmu-runner-qcow", w), 1.5)
        check(f"lunkit TCMU file / tcmu-runner server CPU per I/O, {w}",
              ratio(rows, "lunkit-tcmu-file", "tcmu-runner-qcow", w, "server_cpu_s_per_mio"),
              0.5, above=False)
    for w in SUITES["compare"]["workloads"]:
        key = "iops" if "4k" in w else "mib_s"
        check(f"lunkit ublk file / kernel loop {'IOPS' if key == 'iops' else 'MiB/s'}, {w}",
              ratio(rows, "lunkit-ublk-file", "kernel-loop", w, key), 0.9)
    return lines


def rounds_note(rows):
    n = max((r["spread"]["iops"][2] for r in rows.values()), default=1)
    if n <= 1:
        return ""
    return (f"Each path ran each workload in {n} rounds, the paths' order alternating from round "
            "to round; tables show the median, with the lowest and highest in brackets, and the "
            "ratios are of medians. ")


def report(suite, jsonl, outdir, build_note):
    import os
    meta, rows, failures = load(jsonl)
    configs, workloads = SUITES[suite]["configs"], SUITES[suite]["workloads"]
    os.makedirs(outdir, exist_ok=True)
    md = [f"# {SUITES[suite]['title']}", "",
          f"Linux {meta.get('kernel', '?')} in QEMU (software emulation, {meta.get('cpus', '?')} "
          f"vCPUs), one boot; fio libaio, direct I/O, one job, {meta.get('runtime_s', '?')} s per "
          f"workload, {meta.get('size_mib', '?')} MiB devices ("
          + SUITES[suite].get("backing", "file-backed ones on the same tmpfs-backed image")
          + "). " + rounds_note(rows) + build_note, "",
          "Absolute numbers are those of an emulated CPU: compare rows, not machines. "
          "*server CPU* is the serving process's user+system time (lunkitd, `lunkit ublk`, "
          "tcmu-runner; the kernel's backstores have none), *VM CPU* all busy CPU time in the "
          "guest, both in seconds per million I/Os.", ""]
    md += ["## Goals (ratios from this boot)", "", "| comparison | measured | goal | |",
           "|---|---|---|---|"] + goal_lines(suite, rows) + [""]
    for w in workloads:
        big = "128k" in w
        md += [f"## {w}", "",
               f"| path | {'MiB/s' if big else 'IOPS'} | p50 µs | p99 µs | server CPU s/MIO | "
               "VM CPU s/MIO |", "|---|---:|---:|---:|---:|---:|"]
        for name, label in configs:
            r = rows.get((name, w))
            if not r:
                md.append(f"| {label} | — | — | — | — | — |")
                continue
            value = fmt(r['mib_s'] if big else r['iops'], 1 if big else 0)
            lo, hi, n = r["spread"]["mib_s" if big else "iops"]
            if n > 1:
                value += f" ({fmt(lo, 1 if big else 0)}–{fmt(hi, 1 if big else 0)})"
            md.append(f"| {label} | {value} | "
                      f"{fmt(r['p50_us'], 1)} | {fmt(r['p99_us'], 1)} | "
                      f"{fmt(r['server_cpu_s_per_mio'], 1)} | {fmt(r['vm_cpu_s_per_mio'], 1)} |")
        md.append("")
    if failures:
        md += ["## What did not run", ""]
        md += [f"- **{f['config']}**: {f['failure']}" for f in failures]
        md.append("")
    md += [f"![chart]({suite}.png)", ""]
    with open(os.path.join(outdir, f"{suite}.md"), "w") as f:
        f.write("\n".join(md))
    chart(suite, rows, os.path.join(outdir, f"{suite}.png"), meta)


def chart(suite, rows, path, meta):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    names = [c for c, _ in SUITES[suite]["configs"]]
    workloads = SUITES[suite]["workloads"]
    panels = [(workloads[:4], "iops", "IOPS (4 KiB random)")]
    if suite == "ublk618":
        small = [w for w in workloads if "4k" in w]
        big = [w for w in workloads if "128k" in w]
        panels = [(small, "iops", "IOPS (4 KiB random, depth 32; median of the rounds)"),
                  (big, "mib_s", "MiB/s (128 KiB sequential, depth 32; median of the rounds)"),
                  (workloads, "server_cpu_s_per_mio",
                   "serving process CPU seconds per million I/Os (lower is better)")]
    elif len(workloads) > 4:
        panels.append((workloads[4:], "mib_s", "MiB/s (128 KiB sequential)"))
        panels.append((["randread-4k-qd32", "randwrite-4k-qd32"], "vm_cpu_s_per_mio",
                       "VM CPU seconds per million I/Os (4 KiB, depth 32; lower is better)"))
    else:
        panels.append((workloads, "server_cpu_s_per_mio",
                       "serving process CPU seconds per million I/Os (lower is better)"))
    fig, axes = plt.subplots(len(panels), 1, figsize=(13, 4 * len(panels)))
    for ax, (workloads, key, title) in zip(axes, panels):
        width = 0.8 / len(names)
        for i, name in enumerate(names):
            values = [(rows.get((name, w)) or {}).get(key) or 0 for w in workloads]
            ax.bar([x + i * width for x in range(len(workloads))], values, width, label=name)
        ax.set_xticks([x + 0.4 - width / 2 for x in range(len(workloads))])
        ax.set_xticklabels(workloads)
        ax.set_title(title)
        ax.grid(axis="y", alpha=0.3)
    axes[0].legend(ncol=4, fontsize=8)
    fig.suptitle(f"{SUITES[suite]['title']} — Linux {meta.get('kernel', '?')} under QEMU TCG, one boot")
    fig.tight_layout()
    fig.savefig(path, dpi=90)


if __name__ == "__main__":
    cmd, args = sys.argv[1], sys.argv[2:]
    if cmd == "row":
        row(*args)
    elif cmd == "rbd-bench-row":
        rbd_bench_row(*args)
    elif cmd == "failure":
        failure(*args)
    elif cmd == "report":  # report SUITE JSONL OUTDIR [NOTE]
        report(args[0], args[1], args[2], args[3] if len(args) > 3 else "")
    else:
        sys.exit(f"compare_report.py: unknown command {cmd}")
