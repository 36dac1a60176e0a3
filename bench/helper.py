#!/usr/bin/env python3
"""Helpers for bench/run (standard library only).

  helper.py tree PID              PID and its descendants
  helper.py cpu PID CORE          CPU ticks (utime+stime) of PID and all its descendants, and
                                  the user+nice+system+steal ticks of CPU CORE
  helper.py mem PID               "VMRSS_KIB PSS_KIB": largest VmRSS in the process tree, and the
                                  sum of Pss over it (counts memory shared after a fork once)
  helper.py wait PORT NAME TYPE T0_NS TIMEOUT_S
                                  polls 127.0.0.1:PORT (from 127.0.0.3) until NAME TYPE is answered
                                  NOERROR with data; prints the milliseconds since T0_NS, or fails
  helper.py ask PORT SOURCE NAME TYPE
                                  one query from SOURCE; prints "RCODE addr,addr,..." (A/AAAA/SRV)
  helper.py dnsperf FILE          parses a dnsperf report: "completed lost qps avg_ms max_ms"
  helper.py edit FORMAT FILE PORT SOURCE KIND HOSTS ROUND [CMD ...]
                                  a 10-line edit served (the 1M part): changes the A records of 10
                                  filler hosts in FILE (FORMAT zone: "hostI A addr" lines, the SOA
                                  serial raised by one if the file has one; geo: Knot's geoip file),
                                  writes FILE.new and renames it into place, runs CMD if given (a
                                  reload command), then polls 127.0.0.1:PORT from SOURCE until the
                                  last changed host answers the new address; prints "MS CMD_MS":
                                  milliseconds from the rename to that answer, and the command's own
                                  time (KIND override: overridden hosts; shared: hosts that are not)
  helper.py report RESULTS.tsv    the tables of medians
  helper.py threads PID           "TID:TICKS:WAKEUPS ..." for every thread of PID (utime+stime,
                                  voluntary context switches: each is a sleep and a wake-up)
  helper.py split BEFORE AFTER    from two `threads` lines: the CPU share of the two busiest
                                  threads in between, "a/b" in percent of the process's CPU,
                                  and the wake-ups of all threads
  helper.py loops-report RESULTS.tsv
                                  bench/loops' table of medians
"""

import os
import re
import socket
import statistics
import struct
import sys
import time

TYPES = {"A": 1, "NS": 2, "MX": 15, "TXT": 16, "AAAA": 28, "SRV": 33}


def server_env(huge_pages, **extra):
    """The environment a benchmarked server starts with: this one, plus glibc's allocator asking
    for transparent huge pages when `huge_pages` (--huge-pages; every server of a run alike), plus
    `extra`."""
    env = dict(os.environ, **extra)
    if huge_pages:
        env["GLIBC_TUNABLES"] = "glibc.malloc.hugetlb=1"
    else:
        env.pop("GLIBC_TUNABLES", None)
    return env


def tree(pid):
    """PID and all its descendants (processes, not threads)."""
    children = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % entry) as f:
                stat = f.read()
        except OSError:
            continue
        ppid = int(stat[stat.rindex(")") + 2:].split()[1])
        children.setdefault(ppid, []).append(int(entry))
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        todo.extend(children.get(p, []))
    return out


def cpu_ticks(pid):
    total = 0
    for p in tree(pid):
        try:
            with open("/proc/%d/stat" % p) as f:
                stat = f.read()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2:].split()
        total += int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15)
    return total


def thread_ticks(pid):
    out = []
    for tid in os.listdir("/proc/%d/task" % pid):
        try:
            with open("/proc/%d/task/%s/stat" % (pid, tid)) as f:
                stat = f.read()
            with open("/proc/%d/task/%s/status" % (pid, tid)) as f:
                wakeups = next(int(line.split()[1]) for line in f
                               if line.startswith("voluntary_ctxt_switches:"))
        except (OSError, StopIteration):
            continue
        fields = stat[stat.rindex(")") + 2:].split()
        out.append("%s:%d:%d" % (tid, int(fields[11]) + int(fields[12]), wakeups))
    return " ".join(out)


def split(before, after):
    start = {}
    for item in before.split():
        tid, ticks, wakeups = item.split(":")
        start[tid] = (int(ticks), int(wakeups))
    ticks, wakeups = [], 0
    for item in after.split():
        tid, t, w = item.split(":")
        t0, w0 = start.get(tid, (0, 0))
        ticks.append(int(t) - t0)
        wakeups += int(w) - w0
    ticks.sort(reverse=True)
    total = sum(ticks) or 1
    top = (ticks + [0, 0])[:2]
    return "%.0f/%.0f %d" % (top[0] * 100 / total, top[1] * 100 / total, wakeups)


def core_busy(cpu):
    """user+nice+system+steal ticks of one CPU: time the server's core was not the server's to use
    once the server's own ticks are subtracted (irq and softirq are left out: loopback delivery
    lands there)."""
    with open("/proc/stat") as f:
        for line in f:
            if line.startswith("cpu%d " % cpu):
                fields = line.split()
                return int(fields[1]) + int(fields[2]) + int(fields[3]) + int(fields[8])
    return 0


def mem(pid):
    rss_max, pss = 0, 0
    for p in tree(pid):
        try:
            with open("/proc/%d/status" % p) as f:
                for line in f:
                    if line.startswith("VmRSS:"):
                        rss_max = max(rss_max, int(line.split()[1]))
            with open("/proc/%d/smaps_rollup" % p) as f:
                for line in f:
                    if line.startswith("Pss:"):
                        pss += int(line.split()[1])
        except OSError:
            continue
    return rss_max, pss


def encode_name(name):
    out = b""
    for label in name.rstrip(".").split("."):
        out += bytes([len(label)]) + label.encode()
    return out + b"\0"


def skip_name(msg, i):
    while True:
        n = msg[i]
        if n == 0:
            return i + 1
        if n & 0xC0 == 0xC0:
            return i + 2
        i += n + 1


def read_name(msg, i):
    labels = []
    while True:
        n = msg[i]
        if n == 0:
            return ".".join(labels) + "."
        if n & 0xC0 == 0xC0:
            i = ((n & 0x3F) << 8) | msg[i + 1]
            continue
        labels.append(msg[i + 1:i + 1 + n].decode())
        i += n + 1


def query_packet(name, qtype, qid=None):
    """A query for NAME QTYPE (class IN, no EDNS, RD clear) in wire format; the id from the clock
    unless given (DoH GETs use 0, RFC 8484 §4.1)."""
    if qid is None:
        qid = int(time.time() * 1000) & 0xFFFF
    return struct.pack(">HHHHHH", qid, 0, 1, 0, 0, 0) + encode_name(name) + struct.pack(">HH", TYPES[qtype], 1)


def answer_data(msg):
    """(rcode, [answer data as text]) of a response in wire format."""
    rcode = msg[3] & 0x0F
    ancount = struct.unpack(">H", msg[6:8])[0]
    i = skip_name(msg, 12) + 4
    data = []
    for _ in range(ancount):
        i = skip_name(msg, i)
        rtype, _, _, rdlen = struct.unpack(">HHIH", msg[i:i + 10])
        i += 10
        rdata = msg[i:i + rdlen]
        if rtype == 1:
            data.append(socket.inet_ntop(socket.AF_INET, rdata))
        elif rtype == 28:
            data.append(socket.inet_ntop(socket.AF_INET6, rdata))
        elif rtype == 33:
            prio, weight, port_ = struct.unpack(">HHH", rdata[:6])
            data.append("%d %d %d %s" % (prio, weight, port_, read_name(msg, i + 6)))
        else:
            data.append("type%d" % rtype)
        i += rdlen
    return rcode, data


def ask(port, source, name, qtype, timeout=0.5):
    """One UDP query; returns (rcode, [answer data as text]) or None on timeout."""
    packet = query_packet(name, qtype)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind((source, 0))
        s.settimeout(timeout)
        s.sendto(packet, ("127.0.0.1", port))
        try:
            msg, _ = s.recvfrom(4096)
        except OSError:
            return None
    return answer_data(msg)


def wait(port, name, qtype, t0_ns, timeout_s):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            answer = ask(port, "127.0.0.3", name, qtype, timeout=0.05)
        except OSError:
            answer = None
        if answer and answer[0] == 0 and answer[1]:
            print("%.0f" % ((time.time_ns() - t0_ns) / 1e6))
            return 0
        time.sleep(0.002)
    print("timeout", file=sys.stderr)
    return 1


EDIT_LINES = 10


def edit_hosts(kind, n, rnd):
    """The 10 filler hosts an edit changes, spread over the zone and different in each round:
    overridden ones (50, 150, ...: 1% of the hosts, all with an A record) for the internal
    override data, or hosts 100j + 11 (an A record, never overridden) for the shared zone."""
    slots = max(1, n // 100)
    step = max(1, slots // EDIT_LINES)
    base = 50 if kind == "override" else 11
    return sorted({base + 100 * ((k * step + rnd) % slots) for k in range(EDIT_LINES)})


def edit(fmt, path, port, source, kind, n, rnd, cmd, timeout_s=60.0, max_polls=30000):
    """Makes the edit, renames it into place, runs `cmd`, polls for the new answer (bounded in
    time and count). Returns (ms from the rename to the answer, ms the command took)."""
    hosts = edit_hosts(kind, n, rnd)
    address = "192.0.2.%d" % (rnd % 250 + 1)
    with open(path) as f:
        lines = f.read().split("\n")
    todo = {("host%d" % i) if fmt == "zone" else ("host%d.bench.example:" % i): i for i in hosts}
    changed = 0
    for idx, line in enumerate(lines):
        if fmt == "zone":
            if line.startswith("@ SOA "):
                fields = line.split()
                fields[4] = str(int(fields[4]) + 1)  # @ SOA mname rname SERIAL ...
                lines[idx] = " ".join(fields)
                continue
            key = line.split(" ", 1)[0]
            if key in todo and line.startswith(key + " A "):
                lines[idx] = "%s A %s" % (key, address)
                changed += 1
        elif line in todo:
            # Knot's geoip file: "hostI.bench.example:", "  - net: SRC/32", "    A: addr"
            assert lines[idx + 2].startswith("    A: "), "unexpected geoip entry for " + line
            lines[idx + 2] = "    A: " + address
            changed += 1
    if changed != len(hosts):
        raise SystemExit("edit: %d of the %d hosts found in %s" % (changed, len(hosts), path))
    tmp = path + ".new"
    with open(tmp, "w") as f:
        f.write("\n".join(lines))
    name = "host%d.bench.example" % hosts[-1]
    t0 = time.monotonic()
    os.rename(tmp, path)
    cmd_ms = float("nan")
    if cmd:
        import subprocess
        done = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=timeout_s)
        cmd_ms = (time.monotonic() - t0) * 1000
        if done.returncode != 0:
            raise SystemExit("edit: %s failed: %s" % (" ".join(cmd), done.stdout.decode(errors="replace").strip()))
    deadline = t0 + timeout_s
    for _ in range(max_polls):
        try:
            answer = ask(port, source, name, "A", timeout=0.05)
        except OSError:
            answer = None
        if answer and answer[0] == 0 and address in answer[1]:
            ms = (time.monotonic() - t0) * 1000
            break
        if time.monotonic() > deadline:
            raise SystemExit("edit: %s not answered with %s within %.0f s" % (name, address, timeout_s))
        time.sleep(0.001)
    else:
        raise SystemExit("edit: %s not answered with %s after %d queries" % (name, address, max_polls))
    # Not timed: every changed host answers the new data (one snapshot, not part of the edit).
    for i in hosts:
        answer = ask(port, source, "host%d.bench.example" % i, "A", timeout=0.5)
        if not (answer and answer[0] == 0 and answer[1] == [address]):
            raise SystemExit("edit: host%d answers %s after the edit, not %s" % (i, answer, address))
    return ms, cmd_ms


def parse_dnsperf(path):
    text = open(path).read()

    def grab(pattern):
        m = re.search(pattern, text)
        return m.group(1) if m else "nan"

    completed = grab(r"Queries completed:\s+(\d+)")
    lost = grab(r"Queries lost:\s+(\d+)")
    qps = grab(r"Queries per second:\s+([\d.]+)")
    avg = grab(r"Average Latency \(s\):\s+([\d.]+)")
    mx = grab(r"Average Latency \(s\):.*max ([\d.]+)\)")
    ms = lambda v: "nan" if v == "nan" else "%.3f" % (float(v) * 1000)
    return "%s %s %s %s %s" % (completed, lost, qps, ms(avg), ms(mx))


# ---- report ---------------------------------------------------------------------------------

def median(values):
    values = [v for v in values if v == v]  # drop NaN
    return statistics.median(values) if values else float("nan")


def fmt(v, spec):
    return "-" if v != v else format(v, spec)


def ratio(v, ref):
    if v != v or ref != ref or ref == 0:
        return "-"
    return "%.2f×" % (v / ref)


def percent_change(before, after):
    if before != before or after != after or before == 0:
        return "-"
    return "%+.1f%%" % ((after / before - 1) * 100)


def report(path):
    rows = []
    with open(path) as f:
        for line in f:
            if line.startswith("#") or not line.strip():
                continue
            rows.append(line.rstrip("\n").split("\t"))
    # columns: test server view round values...
    def vals(test, server, view, col):
        out = []
        for r in rows:
            if r[0] == test and r[1] == server and r[2] == view:
                try:
                    out.append(float(r[4 + col]))
                except (ValueError, IndexError):
                    out.append(float("nan"))
        return out

    servers = []
    for r in rows:
        if r[1] not in servers:
            servers.append(r[1])
    rounds = len({r[3] for r in rows if r[0] == "fixed"})

    def table(header, lines):
        widths = [max(len(str(x)) for x in col) for col in zip(header, *lines)]
        print("| " + " | ".join(h.ljust(w) for h, w in zip(header, widths)) + " |")
        print("|" + "|".join("-" * (w + 2) for w in widths) + "|")
        for line in lines:
            print("| " + " | ".join(str(x).ljust(w) for x, w in zip(line, widths)) + " |")

    main = [s for s in servers if s in ("splitdns", "nsd", "knot")]
    ref = "nsd" if "nsd" in servers else None
    # bench/run --baseline REV: REV's splitdns, "splitdns@REV", in the 1k-zone tests only.
    baseline = next((s for s in servers if s.startswith("splitdns@")), None)
    main_1k = list(main)
    if baseline:
        main_1k.insert(main_1k.index("splitdns") + 1 if "splitdns" in main_1k else len(main_1k), baseline)

    lines = []
    if any(r[0] == "fixed" for r in rows):
        print()
        print("1k-record zone, two views, UDP, mixed queries; medians of %d interleaved rounds" % rounds)
        print()
    for s in main_1k if any(r[0] == "fixed" for r in rows) else []:
        cpu = median(vals("fixed", s, "internal", 5))
        avg = median(vals("fixed", s, "internal", 3))
        mx = median(vals("fixed", s, "internal", 4))
        lost = median(vals("fixed", s, "internal", 1))
        q_in = median(vals("sat", s, "internal", 2))
        q_ex = median(vals("sat", s, "external", 2))
        c_in = median(vals("sat", s, "internal", 6))
        c_ex = median(vals("sat", s, "external", 6))
        r_cpu = ratio(cpu, median(vals("fixed", ref, "internal", 5))) if ref else "-"
        r_in = ratio(q_in, median(vals("sat", ref, "internal", 2))) if ref else "-"
        r_ex = ratio(q_ex, median(vals("sat", ref, "external", 2))) if ref else "-"
        lines.append([s, fmt(cpu, ".1f"), r_cpu, fmt(avg, ".3f"), fmt(mx, ".2f"), fmt(lost, ".0f"),
                      fmt(q_in, ",.0f"), r_in, fmt(q_ex, ",.0f"), r_ex,
                      "%s/%s" % (fmt(c_in, ".0f"), fmt(c_ex, ".0f"))])
    if lines:
        table(["server", "CPU µs/query @25k", "vs NSD", "avg ms", "max ms", "lost",
               "max qps (internal src)", "vs NSD", "max qps (external src)", "vs NSD",
               "server CPU % at max (int/ext)"], lines)

    if "floor" in servers:
        floor = median(vals("fixed", "floor", "internal", 5))
        nsd = median(vals("fixed", ref, "internal", 5)) if ref else float("nan")
        ours = median(vals("fixed", "splitdns", "internal", 5))
        print()
        print("floor at 25k (bench/udp_floor.c: the same recvmmsg/sendmmsg loop, no DNS work): %s µs/query"
              " = %s NSD; above the floor: splitdns %s µs, NSD %s µs"
              % (fmt(floor, ".1f"), ratio(floor, nsd), fmt(ours - floor, ".1f"), fmt(nsd - floor, ".1f")))
        # Issue 23's floor goals. Queries per core-second at saturation is 1 / CPU per query
        # there (dnsperf's core, not the server's, is usually the limit on this machine).
        def per_core_second(server, view):
            cpu = median(vals("sat", server, view, 5))
            return 1e6 / cpu if cpu == cpu and cpu > 0 else float("nan")
        print("against the floor (issue 23: CPU per query at 25k <= 1.05x, queries per core-second"
              " at saturation >= 0.95x):")
        # The same ratio round by round: a server and the floor measured in the same round saw the
        # same machine (medians of the whole run mix rounds that did not).
        def by_round(test, server, view, col):
            out = {}
            for r in rows:
                if r[0] == test and r[1] == server and r[2] == view:
                    try:
                        out[r[3]] = float(r[4 + col])
                    except (ValueError, IndexError):
                        pass
            return out
        floor_rounds = by_round("fixed", "floor", "internal", 5)
        for s in [x for x in main_1k if x.startswith("splitdns")] + (["nsd"] if ref else []):
            cpu = median(vals("fixed", s, "internal", 5))
            print("  %-16s CPU/query at 25k %s the floor's; queries per core-second at saturation"
                  " %s (internal src), %s (external src) the floor's"
                  % (s, ratio(cpu, floor), ratio(per_core_second(s, "internal"), per_core_second("floor", "internal")),
                     ratio(per_core_second(s, "external"), per_core_second("floor", "external"))))
            ours_rounds = by_round("fixed", s, "internal", 5)
            paired = [ours_rounds[k] / floor_rounds[k] for k in sorted(ours_rounds, key=int)
                      if k in floor_rounds and floor_rounds[k] > 0]
            if paired:
                print("  %-16s   at 25k round by round: %s (median %.2f×)"
                      % ("", " ".join("%.2f" % x for x in paired), median(paired)))

    if baseline:
        print()
        print("splitdns vs baseline %s (1k zone, same rounds)" % baseline.split("@", 1)[1])
        print()
        lines = []
        for label, test, view, col, spec in (("CPU µs/query @25k", "fixed", "internal", 5, ".2f"),
                                             ("max qps (internal src)", "sat", "internal", 2, ",.0f"),
                                             ("max qps (external src)", "sat", "external", 2, ",.0f")):
            before = median(vals(test, baseline, view, col))
            after = median(vals(test, "splitdns", view, col))
            lines.append([label, fmt(before, spec), fmt(after, spec), percent_change(before, after)])
        table(["measure", baseline, "splitdns", "change"], lines)
        print("(change: splitdns against the baseline, medians; lower CPU per query and higher qps are better;")
        print(" single rounds vary by about ±10% on a VM, so a change smaller than that needs more rounds)")

    if any(r[0] == "load" for r in rows):
        print()
        print("200k-record zone, two views (1% overridden inside)")
        print()
        lines = []
        for s in main:
            load = median(vals("load", s, "-", 0))
            rss = median(vals("mem", s, "-", 0)) / 1024
            pss = median(vals("mem", s, "-", 1)) / 1024
            qps = median(vals("sat200k", s, "internal", 2))
            lines.append([s, fmt(load, ".0f"), ratio(load, median(vals("load", ref, "-", 0))) if ref else "-",
                          fmt(rss, ".0f"), fmt(pss, ".0f"), fmt(qps, ",.0f"),
                          ratio(qps, median(vals("sat200k", ref, "internal", 2))) if ref else "-"])
        table(["server", "load ms", "vs NSD", "VmRSS MiB", "PSS MiB (all processes)",
               "mixed max qps (internal src)", "vs NSD"], lines)
        two = median(vals("mem", "splitdns", "-", 0))
        one = median(vals("mem", "splitdns-1view", "-", 0))
        if one == one:
            print("splitdns VmRSS, 200k zone in two views (1%% overridden inside) vs one view: %s vs %s MiB = %s"
                  % (fmt(two / 1024, ".1f"), fmt(one / 1024, ".1f"), ratio(two, one)))

    if any(r[0] == "load1m" for r in rows):
        million(rows, vals, table)

    if any(r[1] == "splitdns-10k" for r in rows):
        print()
        print("splitdns view selection: 10,000 client prefixes vs 3 (1k zone, same rounds)")
        print()
        lines = []
        for view in ("internal", "external"):
            plain = median(vals("sat", "splitdns", view, 2))
            many = median(vals("sat", "splitdns-10k", view, 2))
            change = percent_change(plain, many)
            cpu_plain = median(vals("sat", "splitdns", view, 5))
            cpu_many = median(vals("sat", "splitdns-10k", view, 5))
            cpu_change = percent_change(cpu_plain, cpu_many)
            fixed_plain = median(vals("fixed100k", "splitdns", view, 5))
            fixed_many = median(vals("fixed100k", "splitdns-10k", view, 5))
            fixed_change = percent_change(fixed_plain, fixed_many)
            lines.append([view + " source", fmt(plain, ",.0f"), fmt(many, ",.0f"), change,
                          fmt(cpu_plain, ".2f"), fmt(cpu_many, ".2f"), cpu_change,
                          fmt(fixed_plain, ".2f"), fmt(fixed_many, ".2f"), fixed_change])
        table(["client", "max qps, 3 prefixes", "max qps, 10,000 prefixes", "change",
               "CPU µs/q at max, 3", "at max, 10,000", "change",
               "CPU µs/q @100k, 3", "@100k, 10,000", "change"], lines)
        print("(max qps is capped by dnsperf's core when the server's core is not saturated, and the CPU per")
        print(" query at max then depends on how bursty dnsperf is; at a fixed 100k qps both configs get the")
        print(" same load, so CPU per query there is the measure of what the prefixes cost: the server's")
        print(" capacity is 1 / CPU per query)")
    others = []
    for r in rows:
        if r[0] in ("fixed", "sat", "sat200k", "sat1m") and len(r) > 11:
            try:
                others.append(float(r[11]))
            except ValueError:
                pass
    if others:
        print()
        print("Other processes (and hypervisor steal) on the server's core during the tests: median %.0f%%, max %.0f%%%s"
              % (statistics.median(others), max(others),
                 "" if max(others) < 5 else " (a busy machine: latency and max qps are skewed; CPU µs/query much less so)"))
    print()


def million(rows, vals, table):
    """The 1,000,000-record part (bench/run --million): load, memory, saturation, edits served."""
    hosts = next((int(r[4]) for r in rows if r[0] == "hosts1m"), 1_000_000)
    size = "1,000,000" if hosts == 1_000_000 else "{:,}".format(hosts)
    servers = [s for s in ("splitdns", "knot", "nsd") if any(r[0] == "load1m" and r[1] == s for r in rows)]
    ref = "knot" if "knot" in servers else None
    rounds = len({r[3] for r in rows if r[0] == "sat1m"})
    loads = len({r[3] for r in rows if r[0] == "load1m"})

    def med(test, server, view, col):
        return median(vals(test, server, view, col))

    def vs_knot(test, server, view, col):
        return ratio(med(test, server, view, col), med(test, ref, view, col)) if ref else "-"

    print()
    print("%s-record zone (%s filler hosts), two views, 1%% overridden inside (NSD: one zone, the external"
          " data); load: median of %d, qps: median of %d interleaved rounds" % (size, size, loads, rounds))
    print()
    lines = []
    for s in servers:
        lines.append([s, fmt(med("load1m", s, "-", 0), ",.0f"), vs_knot("load1m", s, "-", 0),
                      fmt(med("mem1m", s, "load", 0) / 1024, ",.0f"), fmt(med("mem1m", s, "queries", 0) / 1024, ",.0f"),
                      vs_knot("mem1m", s, "queries", 0),
                      fmt(med("mem1m", s, "load", 1) / 1024, ",.0f"), fmt(med("mem1m", s, "queries", 1) / 1024, ",.0f"),
                      fmt(med("sat1m", s, "internal", 2), ",.0f"), vs_knot("sat1m", s, "internal", 2),
                      fmt(med("sat1m", s, "internal", 5), ".2f"), fmt(med("sat1m", s, "internal", 6), ".0f")])
    table(["server", "load ms", "vs Knot", "VmRSS MiB after load", "after queries", "vs Knot",
           "PSS MiB after load", "after queries", "mixed max qps (internal src)", "vs Knot",
           "CPU µs/q at max", "server CPU %"], lines)

    kinds = [("splitdns", "override", "internal override file", "file watcher", "internal", "knot"),
             ("splitdns", "shared", "shared zone file", "file watcher", "external", "knot"),
             ("knot", "override", "geoip override file", "`knotc reload`", "internal", "knot"),
             ("knot", "shared", "zone file", "`knotc zone-reload`", "external", "knot"),
             ("nsd", "shared", "zone file", "`nsd-control reload`", "external", "knot")]
    lines = []
    for s, kind, what, how, src, _ in kinds:
        served = vals("edit1m", s, kind, 0)
        if not served:
            continue
        spread = [v for v in served if v == v]
        cmd = med("edit1m", s, kind, 1)
        log = med("edit1m", s, kind, 2)
        lines.append([s, what, how, src, fmt(median(served), ",.0f"),
                      "%s–%s" % (fmt(min(spread), ",.0f"), fmt(max(spread), ",.0f")) if spread else "-",
                      ratio(median(served), median(vals("edit1m", ref, kind, 0))) if ref else "-",
                      fmt(cmd, ",.0f"), fmt(log, ",.0f")])
    if lines:
        edits = len({r[3] for r in rows if r[0] == "edit1m"})
        print()
        print("A 10-line edit beside the %s-record zone: the file renamed into place (and the reload command"
              " run, for Knot and NSD), to the first answer with the new data; median of %d edit%s"
              % (size, edits, "" if edits == 1 else "s"))
        print()
        table(["server", "file edited", "picked up by", "asked from", "ms to new answer", "range",
               "vs Knot (same file kind)", "command ms", "reload ms (server's log)"], lines)
        print("(splitdns's file watcher first waits 20 ms for other files of the same save, src/reload/watch.rs")
        print(" GATHER; Knot and NSD reload when told to, and their commands run right after the rename;")
        print(" Knot's geoip file is module configuration, which `knotc reload` reloads without the zone)")
    if ref and "splitdns" in servers:
        def verdict(value, goal, below):
            if value != value:
                return "-"
            return "met" if (value <= goal if below else value >= goal) else "not met"

        def r(test, view, col):
            a, b = med(test, "splitdns", view, col), med(test, ref, view, col)
            return a / b if a == a and b == b and b else float("nan")

        load, rss, qps = r("load1m", "-", 0), r("mem1m", "queries", 0), r("sat1m", "internal", 2)
        edit_ms = median(vals("edit1m", "splitdns", "override", 0))
        print()
        if hosts != 1_000_000:
            print("(the goals below are for 1,000,000 hosts; this run had %s)" % size)
        print("Goals of issue 23 (this run, splitdns vs Knot): load %s (≤ 0.80×: %s), VmRSS after queries %s"
              " (≤ 0.80×: %s), mixed qps %s (≥ 1.10×: %s), override edit served in %s ms (< 200 ms: %s)"
              % (fmt(load, ".2f") + "×", verdict(load, 0.8, True), fmt(rss, ".2f") + "×", verdict(rss, 0.8, True),
                 fmt(qps, ".2f") + "×", verdict(qps, 1.1, False), fmt(edit_ms, ",.0f"), verdict(edit_ms, 200 - 1e-9, True)))

def loops_report(path):
    """bench/loops: per placement, medians over rounds of 1 loop and 2 loops, and their ratios."""
    rows = []
    with open(path) as f:
        for line in f:
            if not line.startswith("#") and line.strip():
                rows.append(line.rstrip("\n").split("\t"))
    # columns: test placement loops round completed lost qps avg_ms max_ms cpu_us split
    # wakeups_per_query
    placements = []
    for r in rows:
        if r[1] not in placements:
            placements.append(r[1])
    rounds = len({r[3] for r in rows})

    def of(test, placement, loops):
        return [r for r in rows if r[0] == test and r[1] == placement and r[2] == loops]

    def col(mine, i):
        return median([float(r[i]) for r in mine])

    print()
    print("1 receive loop vs 2; medians of %d interleaved rounds" % rounds)
    print()
    header = ["placement", "loops", "CPU µs/query at fixed rate", "2 loops / 1", "wake-ups/query",
              "avg ms", "max ms", "lost (sum)", "busiest two threads' CPU share %, per round",
              "max qps", "2 loops / 1"]
    lines = []
    for placement in placements:
        base = None
        for loops in ("1", "2"):
            fixed, sat = of("fixed", placement, loops), of("sat", placement, loops)
            cpu, qps = col(fixed, 9), col(sat, 6)
            if loops == "1":
                base = (cpu, qps)
            lines.append([placement, loops, fmt(cpu, ".2f"), "" if loops == "1" else ratio(cpu, base[0]),
                          fmt(col(fixed, 11), ".2f"), fmt(col(fixed, 7), ".3f"), fmt(col(fixed, 8), ".2f"),
                          fmt(sum(float(r[5]) for r in fixed), ".0f"), " ".join(r[10] for r in fixed),
                          fmt(qps, ",.0f"), "" if loops == "1" else ratio(qps, base[1])])
    widths = [max(len(str(x)) for x in c) for c in zip(header, *lines)]
    print("| " + " | ".join(h.ljust(w) for h, w in zip(header, widths)) + " |")
    print("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    for line in lines:
        print("| " + " | ".join(str(x).ljust(w) for x, w in zip(line, widths)) + " |")
    print()


def main():
    cmd, args = sys.argv[1], sys.argv[2:]
    if cmd == "tree":
        print(" ".join(str(p) for p in tree(int(args[0]))))
    elif cmd == "cpu":
        # ticks of the process tree, then the busy ticks of the given core
        print(cpu_ticks(int(args[0])), core_busy(int(args[1])))
    elif cmd == "mem":
        print("%d %d" % mem(int(args[0])))
    elif cmd == "wait":
        return wait(int(args[0]), args[1], args[2], int(args[3]), float(args[4]))
    elif cmd == "ask":
        answer = ask(int(args[0]), args[1], args[2], args[3])
        if answer is None:
            print("timeout")
        else:
            print({0: "NOERROR", 3: "NXDOMAIN", 5: "REFUSED", 2: "SERVFAIL"}.get(answer[0], str(answer[0])),
                  ",".join(sorted(answer[1])))
    elif cmd == "edit":
        ms, cmd_ms = edit(args[0], args[1], int(args[2]), args[3], args[4], int(args[5]), int(args[6]), args[7:])
        print("%.1f %.1f" % (ms, cmd_ms))
    elif cmd == "dnsperf":
        print(parse_dnsperf(args[0]))
    elif cmd == "report":
        report(args[0])
    elif cmd == "threads":
        print(thread_ticks(int(args[0])))
    elif cmd == "split":
        print(split(args[0], args[1]))
    elif cmd == "loops-report":
        loops_report(args[0])
    else:
        print(__doc__, file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
