"""``zhie timeline`` on synthetic annotation records: seconds and peak memory.

    python benchmarks/timeline.py [--records 100000] [--memory-limit 1GB] [--threads N] [--no-html]

Writes ``--records`` records in the shape ``zhie annotate`` writes (dates,
keys, entities, relations, events; about 24 entities, 10 relations and one
event each, names drawn from pools so that people recur across documents
and change posts over the years, 5 % undated), then runs the timeline (the
tables and, unless ``--no-html``, the pages: 1,000 people, up to 2,000
cited documents) in a fresh process, whose peak resident memory
(``getrusage``) is its own. Prints the figures and writes them to
``benchmarks/results/timeline.json``. Target (issue 12): 100,000 records
in under 60 s and 2 GB on the 2-core machine.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈姚卢"
GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华兰堃山根治正东海波宁志国建文斌鹏辉"
TITLES = ["市委书记", "市长", "市委副书记", "副市长", "市委常委", "区委书记", "区长", "县委书记", "县长", "主任", "副主任",
          "局长", "副局长", "董事长", "总经理", "行长", "秘书长", "部长", "厅长", "记者"]
PLACES = ["许昌市", "建安区", "魏都区", "襄城县", "鄢陵县", "禹州市", "长葛市", "郑州市", "洛阳市", "开封市", "北京", "上海"]
ORG_ENDS = ["银行", "制药有限公司", "科技有限公司", "集团", "工商联", "金融事务中心", "化工科技有限公司", "发展改革委"]


def _names(rng: random.Random, n: int, make) -> list[str]:
    out: set[str] = set()
    while len(out) < n:
        out.add(make(rng))
    return sorted(out)


def write_records(path: Path, n: int, seed: int = 0) -> int:
    """The synthetic JSONL; returns its size in bytes."""
    rng = random.Random(seed)
    people = _names(rng, 20_000, lambda r: r.choice(SURNAMES) + "".join(r.choice(GIVEN) for _ in range(r.randint(1, 2))))
    orgs = _names(rng, 3_000, lambda r: r.choice(PLACES)[:2] + "".join(r.choice(GIVEN) for _ in range(2))
                  + r.choice(ORG_ENDS))
    # each person holds a post from a start year, and moves up once
    career = {p: (rng.choice(TITLES), rng.choice(TITLES), rng.randint(2014, 2024)) for p in people}
    with path.open("w", encoding="utf-8") as f:
        for i in range(n):
            year = rng.randint(2012, 2025)
            date = None if rng.random() < 0.05 else f"{year}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}"
            ents, rels, pos = [], [], 0

            def add(label: str, text: str) -> str:
                nonlocal pos
                eid = f"e{len(ents) + 1}"
                ents.append({"id": eid, "start": pos, "end": pos + len(text), "label": label, "text": text,
                             "key": f"{label}:{text}"})
                pos += len(text) + rng.randint(1, 30)
                return eid

            for _ in range(4):  # posts
                person = rng.choice(people)
                before, after, moved = career[person]
                if rng.random() < 0.3:
                    org = add("ORG", rng.choice(orgs))
                title = add("TITLE", after if year >= moved else before)
                head = add("PERSON", person)
                rels.append({"head": head, "tail": title, "label": "has_title", "score": 0.97})
                if rng.random() < 0.3:
                    rels.append({"head": head, "tail": org, "label": "member_of", "score": 0.9})
            visitor = ents[-1]["id"]
            place = add("GPE", rng.choice(PLACES))
            rels.append({"head": visitor, "tail": place, "label": "visits", "score": 0.8})
            for _ in range(rng.randint(2, 6)):  # people and places without relations
                add(rng.choice(["PERSON", "GPE", "ORG"]), rng.choice(people + PLACES))
            a, b = add("ORG", rng.choice(orgs)), add("ORG", rng.choice(orgs))
            value = rng.randint(1, 5000) * 10_000
            money = add("MONEY", f"{value // 10_000}万元")
            rels += [{"head": a, "tail": b, "label": "agreement_with", "score": 0.9},
                     {"head": a, "tail": money, "label": "amount", "score": 0.9},
                     {"head": b, "tail": money, "label": "amount", "score": 0.9}]
            ents[-1]["money"] = {"value": value, "currency": "CNY", "approximate": False, "low": None, "high": None}
            event = {"type": rng.choice(["预授信", "签约", "投资"]), "trigger": {"start": pos, "end": pos + 3, "text": "预授信"},
                     "parties": [{"entity": a, "role": "receiver"}, {"entity": b, "role": "grantor"}],
                     "amount": {"entity": money, "value": value, "currency": "CNY", "approximate": False, "low": None,
                                "high": None},
                     "date": None, "relations": [len(rels) - 3, len(rels) - 2, len(rels) - 1], "score": 0.9}
            doc_id = f"{year}/{i:07d}.txt"
            f.write(json.dumps({"id": doc_id, "source": f"/archive/{doc_id}", "date": date, "entities": ents,
                                "relations": rels, "events": [event]}, ensure_ascii=False) + "\n")
    return path.stat().st_size


def measure(args: argparse.Namespace) -> None:
    """One run, in its own process: the figures as JSON on stdout."""
    from pipeline.app.timeline import build_timeline

    t0 = time.perf_counter()
    result = build_timeline([args.measure], args.out, html=not args.no_html, memory_limit=args.memory_limit,
                            threads=args.threads)
    wall = time.perf_counter() - t0
    files = [p for p in Path(args.out).rglob("*") if p.is_file()]
    print(json.dumps({**{k: v for k, v in result.summary.items() if k != "inputs"}, "seconds": round(wall, 2),
                      "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
                      "files_written": len(files), "output_mb": round(sum(p.stat().st_size for p in files) / 2**20, 1)}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--records", type=int, default=100_000)
    parser.add_argument("--memory-limit", default="1GB")
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--no-html", action="store_true")
    parser.add_argument("--measure", help=argparse.SUPPRESS)
    parser.add_argument("--out", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure:
        measure(args)
        return
    with tempfile.TemporaryDirectory(prefix="zhie-timeline-") as tmp:
        records = Path(tmp) / "records.jsonl"
        t0 = time.perf_counter()
        size = write_records(records, args.records)
        print(f"{args.records} synthetic records, {size / 2**20:.0f} MiB, written in {time.perf_counter() - t0:.0f} s",
              file=sys.stderr)
        cmd = [sys.executable, __file__, "--measure", str(records), "--out", str(Path(tmp) / "site"),
               "--memory-limit", args.memory_limit] + (["--threads", str(args.threads)] if args.threads else []) \
            + (["--no-html"] if args.no_html else [])
        run = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT)
        if run.returncode:
            sys.exit(run.stderr)
        figures = {"records": args.records, "jsonl_mb": round(size / 2**20, 1), "memory_limit": args.memory_limit,
                   "threads": args.threads or os.cpu_count(), "html": not args.no_html, **json.loads(run.stdout),
                   "machine": f"{platform.machine()}, {os.cpu_count()} cores", "python": platform.python_version()}
    print(json.dumps(figures, ensure_ascii=False, indent=2))
    results = ROOT / "benchmarks" / "results"
    results.mkdir(parents=True, exist_ok=True)
    (results / "timeline.json").write_text(json.dumps(figures, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
