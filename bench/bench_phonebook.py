"""Phonebook benchmark: a 100,000-entry directory in the ITFlow simulator, pulled, built and published in
every format, with the daemon's own page size (``directory.page_size``, 500); then the unchanged path
as every scheduled sync runs it (pull again, publish: no build, no writes), timed with its pull.

The simulator runs in a child process (its tables are not ours), so the peak memory printed is this
process's: pull + snapshot + entries + rendering. Targets (issue 19): all formats <= 10 s and
<= 200 MB; an unchanged sync writes nothing. Figures are printed, never asserted.

    .venv/bin/python bench/bench_phonebook.py [--entries 100000] [--keep DIR]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import resource
import shutil
import sys
import tempfile
import time
from pathlib import Path

from lxml import etree

SIM_SCRIPT = r"""
import asyncio, json, sys
from itflow_sim import Simulator

async def main(n):
    sim = Simulator("v1-head")
    db = sim.db
    clients = [db.add_client(f"Client {c:04d} & Sons") for c in range(max(1, n // 50))]
    contacts = n * 8 // 10
    locations = n // 10
    vendors = n - contacts - locations
    for i in range(contacts):
        db.add_contact(clients[i % len(clients)], f"Person {i:06d} <{i % 7}>",
                       phone=f"412{(2 * i) % 10**7:07d}", mobile=f"724{(2 * i + 1) % 10**7:07d}")
    for i in range(locations):
        db.add_location(clients[i % len(clients)], f"Site {i:06d}", phone=f"650{i % 10**7:07d}")
    for i in range(vendors):
        db.add_vendor(f"Vendor {i:06d} \"Q\"", phone=f"800{i % 10**7:07d}")
    await sim.start()
    print(json.dumps({"url": sim.url, "key": sim.keys["all"]}), flush=True)
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)
    await sim.stop()

asyncio.run(main(int(sys.argv[1])))
"""


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def check(spec, out) -> tuple[bool, int]:
    """Parse every page back (XML strictly; multi-root formats as fragments; CSV/vCard by counting)."""
    strict = etree.XMLParser(recover=False, huge_tree=True)
    count = 0
    try:
        for n in range(1, out.page_count + 1):
            body = out.page(n)
            if spec.id == "vcard":
                count += body.count(b"BEGIN:VCARD\r\n")
                ok = body.count(b"BEGIN:VCARD") == body.count(b"END:VCARD")
                if not ok:
                    return False, count
            elif not spec.xml:
                text = body[2:].decode("utf-16-le") if body[:2] == b"\xff\xfe" else body.decode("utf-8")
                count += len(text.splitlines()) - (1 if spec.id == "csv" else 0)
            elif spec.single_rooted:
                root = etree.fromstring(body, strict)
                count += sum(1 for _ in root.iter(*_RECORD_TAGS))
            else:
                text = re.sub(r"^<\?xml[^>]*\?>\s*(<!DOCTYPE [A-Za-z]+>\s*)?", "", body.decode("utf-8"))
                root = etree.fromstring(f"<w>{text}</w>".encode(), strict)
                count += sum(1 for _ in root.iter("contact", "entry"))
    except (etree.XMLSyntaxError, UnicodeDecodeError):
        return False, count
    return count == out.records, count


_RECORD_TAGS = ("DirectoryEntry", "Unit", "Contact", "item", "contact", "Personnel")


async def run(entries: int, workdir: Path) -> int:
    from pbx_bridge.directory.service import DirectorySync
    from pbx_bridge.itflow.backend import Itflow
    from pbx_bridge.numbers import NumberPlan
    from pbx_bridge.phonebook.search import yealink_search
    from pbx_bridge.phonebook.service import PhonebookService
    from pbx_bridge.settings import parse_settings
    from pbx_bridge.store import Store

    t0 = time.perf_counter()
    sim = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        SIM_SCRIPT,
        str(entries),
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
    )
    assert sim.stdout is not None and sim.stdin is not None
    line = await asyncio.wait_for(sim.stdout.readline(), timeout=600)
    info = json.loads(line)
    print(f"simulator seeded with {entries} parties in {time.perf_counter() - t0:.1f} s ({info['url']})")
    out_dir = workdir / "out"
    settings = parse_settings(
        json.dumps(
            {
                "itflow": {"url": info["url"], "api_key": info["key"], "timeout": 120},
                "state_dir": str(workdir / "state"),
                "phonebook": {"output_dir": str(out_dir)},
            }
        )
    )
    itflow = Itflow.from_settings(settings.itflow)
    store = Store.in_state_dir(settings.state_dir)
    plan = NumberPlan(settings.numbers)
    directory = DirectorySync(settings.directory, itflow, store, plan)
    directory.load()
    service = PhonebookService(
        settings.phonebook, directory, plan, http=settings.http, state_dir=settings.state_dir
    )
    publisher = service.publisher
    try:
        base_mb = peak_mb()
        t, cpu = time.perf_counter(), time.process_time()
        snapshot = await directory.sync()
        pull_s, pull_cpu = time.perf_counter() - t, time.process_time() - cpu
        pull_mb = peak_mb()
        print(
            f"pull: {len(snapshot.parties)} parties in {pull_s:.2f} s (simulator over loopback HTTP; "
            f"{pull_cpu:.2f} s CPU in this process, the rest is the simulator serving pages); "
            f"peak RSS after the pull {pull_mb:.0f} MB"
        )

        cpu = time.process_time()
        result = await service._publish(snapshot, force=False, progress=None)
        publish_cpu = time.process_time() - cpu
        publish_mb = peak_mb()  # before the parse-back checks below, which raise the peak themselves
        print(
            f"build + render all {len(result.records)} formats + write: {result.seconds:.2f} s, "
            f"{len(result.written)} files written, {result.entries} entries ({publish_cpu:.2f} s CPU)"
        )
        print(
            f"peak memory (RSS, this process): {peak_mb():.0f} MB (before the pull: {base_mb:.0f} MB, "
            f"after the pull: {pull_mb:.0f} MB)"
        )
        # a Yealink #SEARCH answer streams the whole published book
        yealink = publisher.outputs.get("yealink")
        if yealink is not None:  # before the parse-back checks, which raise the peak themselves
            book = yealink.page(1)
            before = peak_mb()
            cpu = time.process_time()
            hits = yealink_search(book, "zzzz-nobody")
            print(
                f"yealink search (no match, the whole book read): {time.process_time() - cpu:.3f} s CPU, "
                f"{len(hits)} bytes answered, peak RSS {before:.0f} -> {peak_mb():.0f} MB"
            )
            del book
        correct = 0
        print(f"{'format':16} {'records':>8} {'pages':>6} {'bytes':>11}  parsed back")
        for fid, out in publisher.outputs.items():
            ok, count = check(out.spec, out)
            correct += ok
            size = sum(len(out.page(n)) for n in range(1, out.page_count + 1))
            print(
                f"{fid:16} {out.records:>8} {out.page_count:>6} {size:>11}  {'ok' if ok else 'MISMATCH'}"
                f" ({count})"
            )
        print(f"formats parsed back with the expected record count: {correct}/{len(publisher.outputs)}")

        # The unchanged path: the same directory pulled again (a new Snapshot object, equal content).
        writes = publisher.writes
        t = time.perf_counter()
        snapshot2 = await directory.sync()
        pull2_s = time.perf_counter() - t
        again = await service._publish(snapshot2, force=False, progress=None)
        print(
            f"unchanged directory, as every scheduled sync runs it: {pull2_s + again.seconds:.2f} s "
            f"(pull {pull2_s:.2f} s + {again.seconds:.3f} s of publishing work), status {again.status}, "
            f"{publisher.writes - writes} files written   [target: 0 writes]"
        )
        total = pull_s + result.seconds
        print(
            f"total wall time (pull + build + all formats): {total:.2f} s, peak RSS {publish_mb:.0f} MB "
            f"(this process's CPU: {pull_cpu + publish_cpu:.2f} s)   [target: <= 10 s, <= 200 MB: "
            f"{total / 10:.2f}x, {publish_mb / 200:.2f}x of it]"
        )
        return 0 if correct == len(publisher.outputs) and again.status == "unchanged" else 1
    finally:
        await itflow.aclose()
        store.close()
        sim.stdin.close()
        try:
            await asyncio.wait_for(sim.wait(), timeout=30)
        except TimeoutError:
            sim.kill()
            await sim.wait()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--entries", type=int, default=100_000)
    parser.add_argument("--keep", metavar="DIR", help="keep the published files here")
    args = parser.parse_args()
    workdir = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="bench-phonebook-"))
    try:
        return asyncio.run(run(args.entries, workdir))
    finally:
        if not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
