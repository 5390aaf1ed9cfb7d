"""Turns the measurements bench/engine-bench.sh recorded (store, server, key, value per line) into its Markdown
report: one table per store with the ratios this build / previous build and this build / s3backer, a table of store
requests per GiB and peak RSS per job, and the run's conditions. A figure that was not measured prints as "-"."""
import argparse
import collections
import statistics

GIB = 1 << 30
MIB = 1 << 20

p = argparse.ArgumentParser()
p.add_argument("results")
for name in ("title", "machine", "load", "minutes", "this", "prev", "s3backer", "tools", "cache", "command"):
    p.add_argument("--" + name, required=True)
for name in ("cache-bytes", "ws", "warm", "randwrite-s", "each-s", "smoke"):
    p.add_argument("--" + name, type=int, required=True)
a = p.parse_args()

data = collections.defaultdict(lambda: collections.defaultdict(list))
for line in open(a.results):
    store, who, key, value = line.rstrip("\n").split("\t")
    data[(store, who)][key].append(value)  # more than one: the rounds of job (e) and the raw figures


def last(store, who, key):
    """The value recorded last, as text (None: not measured)."""
    vs = data[(store, who)].get(key)
    return vs[-1] if vs else None


def nums(store, who, key):
    """Every round's value, in order (empty: not measured or not a number)."""
    vs = data[(store, who)].get(key) or []
    return [] if any(v.startswith(">") for v in vs) else [float(v) for v in vs]


def num(store, who, key):
    """The figure: the one value, or over rounds the median (a peak RSS: the largest)."""
    xs = nums(store, who, key)
    if not xs:
        return None
    return max(xs) if key.endswith(".rss") else statistics.median(xs)


def fmt(v, digits=0):
    if v is None:
        return "-"
    if isinstance(v, str):
        return v
    return f"{v:,.{digits}f}"


def div(x, y):
    return None if x is None or y in (None, 0) else x / y


def metrics(store, who):
    """name -> (value, digits, better) for one server on one store."""
    n = lambda k: num(store, who, k)
    m = {}
    writes = div(n("randwrite.client_bytes"), 4096)
    m["a_iops"] = (n("randwrite.iops"), 0, "up")
    m["a_iops_flush"] = (div(writes, n("randwrite.wall_s")), 0, "up")
    settle = last(store, who, "randwrite.settle_s")
    m["a_settle"] = (settle if settle and settle.startswith(">") else n("randwrite.settle_s"), 1, "down")
    m["a_amp"] = (div(n("randwrite.put_bytes"), n("randwrite.client_bytes")), 2, "down")
    m["b_iops"] = (n("randread.iops"), 0, "up")
    m["b_fetch"] = (div(div(n("randread.get_bytes"), div(n("randread.client_bytes"), 4096)), 1024), 1, "down")
    m["c_iops"] = (n("warmread.iops"), 0, "up")
    m["c_vs_mem"] = (div(n("warmread.iops"), num("all", "memory", "warmread.iops")), 2, "up")
    lat = None
    if n("syncwrite.write_us") is not None and n("syncwrite.flush_us") is not None:
        lat = n("syncwrite.write_us") + n("syncwrite.flush_us")
    m["d_mean"] = (lat, 0, "down")
    m["d_p99"] = (n("syncwrite.flush_p99_us"), 0, "down")
    m["d_wp99"] = (n("syncwrite.write_p99_us"), 0, "down")
    m["d_puts"] = (div(n("syncwrite.puts"), n("syncwrite.flushes")), 2, "down")
    sw = div(div(n("seqwrite.client_bytes"), MIB), n("seqwrite.wall_s"))
    m["e_write"] = (sw, 1, "up")
    ss = n("seqwrite.settle_s")
    m["e_stored"] = (div(div(n("seqwrite.client_bytes"), MIB), n("seqwrite.wall_s") + ss)
                     if ss is not None and n("seqwrite.wall_s") is not None else None, 1, "up")
    m["e_write_raw"] = (div(m["e_stored"][0], num(store, "raw", "put_mib_s")), 2, "up")
    sr = div(div(n("seqread.client_bytes"), MIB), n("seqread.wall_s"))
    m["e_read"] = (sr, 1, "up")
    m["e_read_raw"] = (div(sr, num(store, "raw", "get_mib_s")), 2, "up")
    m["e_read_fresh_raw"] = (div(sr, num(store, "raw", "fresh_get_mib_s")), 2, "up")
    sr2 = div(div(n("seqread2.client_bytes"), MIB), n("seqread2.wall_s"))
    m["e_read2"] = (sr2, 1, "up")
    m["e_read2_raw"] = (div(sr2, num(store, "raw", "get_mib_s")), 2, "up")
    m["e_read2_warm_raw"] = (div(sr2, num(store, "raw", "get_again_mib_s")), 2, "up")
    rss = [n(j + ".rss") for j in JOBS if n(j + ".rss") is not None]
    m["rss"] = (max(rss) / MIB if rss else None, 0, "down")
    m["rss_cache"] = (max(rss) / a.cache_bytes if rss else None, 1, "down")
    m["probe"] = (last(store, who, "probe"), 0, "")
    return m


JOBS = ("seqwrite", "seqread", "seqread2", "randread", "randwrite", "syncwrite", "warmread")
ws = f"{a.ws / MIB:.0f} MiB"
warm = f"{a.warm / MIB:.0f} MiB"
ROWS = [
    ("a_iops", f"(a) 4k randwrite QD32 over {ws}, {a.randwrite_s} s: IOPS during the run"),
    ("a_iops_flush", "(a) same, IOPS counting the final FLUSH (writes / fio wall time)"),
    ("a_settle", "(a) s after the FLUSH until the store is quiet (s3backer: until no dirty block)"),
    ("a_amp", "(a) store bytes PUT / bytes written (to quiet)"),
    ("b_iops", f"(b) 4k randread QD32 over {ws}, {a.each_s} s: IOPS"),
    ("b_fetch", "(b) KiB fetched from the store per 4 KiB read"),
    ("c_iops", f"(c) 4k randread QD32 warm over {warm} (80% of cache): IOPS"),
    ("c_vs_mem", "(c) / memory export (the front end's own figure)"),
    ("d_mean", "(d) 4k write + FLUSH QD1: mean latency, us (write + flush)"),
    ("d_p99", "(d) FLUSH p99 latency, us"),
    ("d_wp99", "(d) write p99 latency, us"),
    ("d_puts", "(d) PUTs per FLUSH"),
    ("e_write", f"(e) 1 MiB seq write QD8 of {ws} + FLUSH: MiB/s (until the FLUSH returns)"),
    ("e_stored", "(e) same, MiB/s until the store is quiet"),
    ("e_write_raw", "(e) until quiet / raw PUT"),
    ("e_read", f"(e) 1 MiB seq read QD8 of {ws}, cold: MiB/s"),
    ("e_read_raw", "(e) cold read / raw GET"),
    ("e_read_fresh_raw", "(e) cold read / raw GET by a fresh process"),
    ("e_read2", "(e) the same read again in the same process (warm runtime, cold data: see its GETs): MiB/s"),
    ("e_read2_raw", "(e) read again / raw GET"),
    ("e_read2_warm_raw", "(e) read again / raw GET, second pass (warm)"),
    ("rss", "peak RSS of the server process, MiB (max over the jobs)"),
    ("rss_cache", "peak RSS / --cache-size"),
    ("probe", "FLUSH honest? 1 MiB write, FLUSH, SIGKILL, restart, read back"),
]

stores = sorted({s for s, w in data if s not in ("all",)}, key=lambda s: ("dir", "s3").index(s))
out = [f"# {a.title}", ""]
if a.smoke:
    out += ["**Smoke settings** (tiny working set, seconds-long jobs): these figures check the instrument; they are",
            "not the issue's measurements.", ""]
out += [
    f"Machine: {a.machine}; load average {a.load}; the run took {a.minutes} min.",
    f"Tools: {a.tools}; {a.s3backer}.",
    f"Command: `{a.command}`.",
    "",
    f"- **this**: `bucketdisk gateway --store URL --cache-size {a.cache}` from this tree, build {a.this}.",
    f"- **prev**: the same command from the previous build, {a.prev}.",
    f"- **s3backer**: `s3backer --blockSize=1M --blockCacheSize={a.cache_bytes // MIB}` ({a.cache} of 1 MiB blocks; "
    "other options at their defaults) on FUSE against the same s3proxy, fio on its file with libaio and O_DIRECT. "
    "Not run on the directory store: its only local backend, `--test`, sleeps 0-200 ms per block I/O on purpose.",
    f"- Volume and working set {ws} (4x the cache); every server starts on an empty volume, writes it with job (e), "
    "and restarts (cold cache) before the cold read (read twice: the second pass shows the same read in a process that "
    "has run for a while) and before (b). fio 1 job, nbd engine over loopback TCP for the "
    "gateways.",
    "- Store requests and bytes: on s3proxy counted by the S3 server itself (bench/CountingS3Proxy.java, the same "
    "meter for all three); on the directory store the gateway's own `/metrics` (every attempt as sent).",
    "- Raw PUT/GET: the gateway's own store client (AWS SDK v2 for s3proxy), 4 MiB objects, 8 in flight, the "
    "same parallelism as the gateway's uploads: PUTs, then GETs twice in the same process (the second pass warm), "
    "then by a new process as its first work (what a fresh gateway's cold read compares with); then 1,000 PUTs of "
    "8 KiB one at a time (after 50 unmeasured).",
    "",
]
mem = num("all", "memory", "warmread.iops")
for store in stores:
    name = {"dir": "Directory store (file://, fsync on)", "s3": "s3proxy on loopback (filesystem blob store)"}[store]
    raw_put, raw_get = num(store, "raw", "put_mib_s"), num(store, "raw", "get_mib_s")
    out += [f"## {name}", "",
            f"Raw store: PUT {fmt(raw_put, 1)} MiB/s, GET {fmt(raw_get, 1)} MiB/s (after the PUTs; second pass "
            f"{fmt(num(store, 'raw', 'get_again_mib_s'), 1)}, by a fresh process "
            f"{fmt(num(store, 'raw', 'fresh_get_mib_s'), 1)}); one 8 KiB PUT at a time (the "
            f"floor under (d)'s FLUSH): mean {fmt(num(store, 'raw', 'small_put_mean_us'))} us, p99 "
            f"{fmt(num(store, 'raw', 'small_put_p99_us'))} us. Memory export (c): {fmt(mem)} IOPS.", "",
            "| job | this | prev | s3backer | this/prev | this/s3backer | better |",
            "|---|---:|---:|---:|---:|---:|:---:|"]
    ms = {w: metrics(store, w) for w in ("this", "prev", "s3backer")}
    for key, label in ROWS:
        cells = [ms[w][key] for w in ("this", "prev", "s3backer")]
        digits, better = cells[0][1], cells[0][2]
        vals = [c[0] for c in cells]
        num_vals = [v if isinstance(v, float) else None for v in vals]
        r1 = div(num_vals[0], num_vals[1])
        r2 = div(num_vals[0], num_vals[2])
        arrow = {"up": "higher", "down": "lower", "": ""}[better]
        out.append(f"| {label} | {fmt(vals[0], digits)} | {fmt(vals[1], digits)} | {fmt(vals[2], digits)} | "
                   f"{fmt(r1, 2)} | {fmt(r2, 2)} | {arrow} |")
    rounds = max(len(nums(store, w, "seqread.wall_s")) for w in ("this", "prev", "s3backer"))
    if rounds > 1:
        out += ["", f"Job (e) and the raw figures ran {rounds} times, the servers' order reversed every other round; "
                "the table gives each figure's median (peak RSS: the largest). MiB/s per round:", ""]
        per = lambda w, job: ", ".join(fmt(b / MIB / t, 0) for b, t in zip(nums(store, w, job + ".client_bytes"),
                                                                          nums(store, w, job + ".wall_s")))
        for w in ("this", "prev", "s3backer"):
            if nums(store, w, "seqread.wall_s"):
                out.append(f"- {w}: write + FLUSH {per(w, 'seqwrite')}; cold read {per(w, 'seqread')}; "
                           f"read again {per(w, 'seqread2')}")
        raw = lambda k: ", ".join(fmt(x, 0) for x in nums(store, "raw", k))
        out.append(f"- raw: PUT {raw('put_mib_s')}; GET {raw('get_mib_s')}; second pass {raw('get_again_mib_s')}; "
                   f"fresh process {raw('fresh_get_mib_s')}")
    out += ["", f"Store requests per GiB the client moved, and peak RSS, per job ({store}):", "",
            "| job | server | client MiB | GETs/GiB | GET GiB/GiB | PUTs/GiB | PUT GiB/GiB | DELETEs/GiB | peak RSS MiB "
            "| CPU s/GiB: server | s3proxy | fio |",
            "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for job in JOBS:
        for w in ("this", "prev", "s3backer"):
            n = lambda k: num(store, w, f"{job}.{k}")
            gib = div(n("client_bytes"), GIB)
            if gib is None:
                continue
            out.append(f"| {job} | {w} | {fmt(n('client_bytes') / MIB)} | {fmt(div(n('gets'), gib))} | "
                       f"{fmt(div(div(n('get_bytes'), GIB), gib), 2)} | {fmt(div(n('puts'), gib))} | "
                       f"{fmt(div(div(n('put_bytes'), GIB), gib), 2)} | {fmt(div(n('deletes'), gib))} | "
                       f"{fmt(div(n('rss'), MIB))} | {fmt(div(n('server_cpu_s'), gib), 2)} | "
                       f"{fmt(div(n('s3_cpu_s'), gib), 2)} | {fmt(div(n('fio_cpu_s'), gib), 2)} |")
    out.append("")
out += [
    "Notes: ratios are plain quotients this/other; the `better` column says which direction is good for that row.",
    "(a) and (e) count store requests until the store is quiet after the FLUSH (3 s without a request, at most "
    "SETTLE_MAX), so background uploads and folding are included, and so does the CPU (user + system, from "
    "/proc/PID/stat) of the server and of s3proxy; fio's CPU is fio's own report for the job. (d)'s mean is the mean write latency plus the "
    "mean FLUSH latency (fio reports them separately); its p99 rows are per operation. A FLUSH-honesty `lost` "
    "means data acknowledged by a successful fsync/FLUSH was gone after SIGKILL and restart. s3backer 1.5's fsync "
    "returns at once without uploading (fuse_op_fsync is empty in 1.5.4; the probe row shows what that costs), so its "
    "(d) latency and (e) write-until-FLUSH figures do not include S3: compare (e) until quiet instead.",
]
print("\n".join(out))
