"""`medcite ingest|serve|ask|eval`: thin commands over the library (CONTRACT.md, "Command line")."""
from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from pathlib import Path

from service.errors import index_unavailable, one_line
from service.answer_types import SOURCE_DOCUMENTS
from service.settings import Settings

EPILOG = """examples:
  medcite ingest corpus/                       index every supported file under corpus/
  medcite ingest papers/ --prune               ... and drop documents whose files are gone
  medcite ask "What causes buttock pain?"      answer with references, as text
  medcite ask "What causes buttock pain?" --json
  medcite serve --port 8000                    web page at http://127.0.0.1:8000/
  medcite eval --dataset data/medquad-dev --output eval.json --plot eval.png

environment: MEDCITE_INDEX (default index dir, else .medcite/index), MEDCITE_MODEL
(sentence-transformers name or path; 'fake' for tests), MEDCITE_API_KEY (enables write endpoints)."""


class CliError(Exception):
    """A failure to report as one line on stderr with exit status 1."""


def index_arg(p: argparse.ArgumentParser) -> None:
    """The shared --index option."""
    p.add_argument("--index", type=Path, default=None, metavar="DIR",
                   help="index directory (default: $MEDCITE_INDEX, else .medcite/index)")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with its four subcommands."""
    parser = argparse.ArgumentParser(prog="medcite", description="Extractive, cited evidence answers over the "
                                     "medical articles you trust.", epilog=EPILOG,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True, metavar="{ingest,serve,ask,eval}")
    raw = argparse.RawDescriptionHelpFormatter
    p = sub.add_parser("ingest", help="add files to the index", formatter_class=raw,
                       epilog="examples:\n  medcite ingest\n  medcite ingest corpus/ papers/x.pdf --index /data/idx\n"
                              "  medcite ingest corpus/ --prune")
    p.add_argument("paths", nargs="*", type=Path, metavar="PATH", help="files or folders (default: corpus/)")
    index_arg(p)
    p.add_argument("--prune", action="store_true", help="remove documents whose files are no longer given")
    p.add_argument("--ray", nargs="?", const="", default=None, metavar="ADDRESS",
                   help="read, chunk and embed as Ray Data stages (a local Ray without ADDRESS; needs medcite[ray])")
    p = sub.add_parser("serve", help="run the HTTP service and web page", formatter_class=raw,
                       epilog="examples:\n  medcite serve\n  MEDCITE_API_KEY=... medcite serve --host 0.0.0.0 --port 8080")
    index_arg(p)
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8000)
    p = sub.add_parser("ask", help="answer one question", formatter_class=raw,
                       epilog='examples:\n  medcite ask "Is sacroiliac joint pain felt in the buttock?"\n'
                              '  medcite ask "What causes low back pain?" --json | jq .references')
    p.add_argument("question")
    index_arg(p)
    p.add_argument("--json", action="store_true", help="print the answer as the API's JSON")
    p.add_argument("--top-k", type=int, default=SOURCE_DOCUMENTS, help="documents to compose the answer from (1-20)")
    p = sub.add_parser("eval", help="evaluate retrieval (and answers) on a BEIR dataset", formatter_class=raw,
                       epilog="examples:\n  medcite eval --dataset data/medquad-dev\n"
                              "  medcite eval --dataset data/medquad-dev --retrievers bm25,hybrid "
                              "--output eval.json --plot eval.png\n"
                              "  medcite eval --dataset data/pubmedqa --output b.json --baseline a.json --report b.html\n"
                              "  medcite eval --compare a.json b.json --report b.html")
    p.add_argument("--dataset", type=Path, metavar="DIR",
                   help="folder with corpus.jsonl, queries.jsonl and qrels/test.tsv (answers.jsonl optional)")
    index_arg(p)
    p.add_argument("--retrievers", default="bm25,dense,hybrid", help="comma-separated (default: %(default)s)")
    p.add_argument("--measures", default=None, help="ir-measures names, comma-separated (default: the contract's)")
    p.add_argument("--output", type=Path, default=None, metavar="FILE.json")
    p.add_argument("--plot", type=Path, default=None, metavar="FILE.png")
    p.add_argument("--top-k", type=int, default=SOURCE_DOCUMENTS, metavar="N",
                   help="documents each answer is composed from (1-20, default: %(default)s, as /ask)")
    p.add_argument("--max-queries", type=int, default=None, metavar="N",
                   help="evaluate only the first N judged queries (a quick check)")
    p.add_argument("--fusion", default=None, metavar="KEY=VALUE[,...]",
                   help="override hybrid fusion settings for this run, e.g. alpha=0.6 (the index is not changed)")
    p.add_argument("--report", type=Path, default=None, metavar="FILE.html",
                   help="write a self-contained HTML report (tables, curves, comparison, per-query answers)")
    p.add_argument("--baseline", type=Path, default=None, metavar="A.json",
                   help="compare this run with an earlier --output, query by query")
    p.add_argument("--compare", type=Path, nargs=2, default=None, metavar=("A.json", "B.json"),
                   help="compare two earlier --output files (B against A) without running anything")
    return parser


def resolve_index(arg: Path | None, settings: Settings) -> Path:
    """--index, else MEDCITE_INDEX, else .medcite/index."""
    return arg if arg is not None else settings.index


def open_index(index_dir: Path, settings: Settings):
    """Load the embedder and open the index, translating the index's errors into one line."""
    from index.embedder import load_embedder
    from index.errors import IndexCorrupt, IndexMismatch, IndexNotFound
    from index.store import Index

    embedder = load_embedder(**settings.embedder_options())
    try:
        return Index.open(index_dir, embedder, **settings.index_options()), embedder
    except (IndexNotFound, IndexMismatch, IndexCorrupt) as exc:
        raise CliError(index_unavailable(exc, index_dir)) from None


def cmd_ingest(args, settings: Settings) -> int:
    """Index files; print the summary line, with one FAILED line per failure on stderr as it happens."""
    from index.embedder import load_embedder
    from service.console import ConsoleProgress
    from service.pipeline import ingest_paths

    paths = args.paths or [Path("corpus")]
    missing = [str(p) for p in paths if not p.exists()]
    if missing:
        raise CliError(f"no such file or directory: {', '.join(missing)}")
    reader = None
    if args.ray is not None:
        from service.distributed import RayMissing, import_ray, ray_reader

        try:
            import_ray()
        except RayMissing as exc:
            raise CliError(str(exc)) from None
        reader = ray_reader(settings.embedder_options(), address=args.ray or None)
    report = ingest_paths(paths, resolve_index(args.index, settings), load_embedder(**settings.embedder_options()),
                          prune=args.prune, progress=ConsoleProgress(bars=sys.stderr.isatty()), reader=reader,
                          **settings.ingest_options())
    print(report.summary_line())
    if report.failed and not (report.added or report.updated or report.unchanged):
        raise CliError(f"no file could be ingested ({len(report.failed)} failed)")
    return 0


def cmd_ask(args, settings: Settings) -> int:
    """Answer one question as readable text or the API's JSON."""
    from service.answer import answer
    from service.render import answer_to_dict, answer_to_text

    question = args.question.strip()
    index, embedder = open_index(resolve_index(args.index, settings), settings)
    result = answer(question, index, embedder, top_k=args.top_k)
    if args.json:
        print(json.dumps(answer_to_dict(result), indent=2, ensure_ascii=False))
    else:
        print(answer_to_text(result))
    return 0


def cmd_serve(args, settings: Settings) -> int:
    """Run uvicorn on the app; SIGTERM drains in-flight requests before exiting."""
    import uvicorn

    from service.app import create_app
    from service.middleware import server_options

    settings = settings.model_copy(update={"index": resolve_index(args.index, settings)})
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    uvicorn.run(create_app(settings), host=args.host, port=args.port, access_log=False, log_level="info",
                **server_options(settings))
    return 0


def cmd_eval(args, settings: Settings) -> int:
    """Delegate to eval.runner (it prints its tables and writes the files)."""
    from eval.compare import CompareError
    from eval.runner import compare_outputs, run_eval

    try:
        if args.compare:
            compare_outputs(*args.compare, output=args.output, report=args.report)
        else:
            evaluate(args, run_eval, settings)
    except CompareError as exc:
        raise CliError(str(exc)) from None
    for path in (args.output, args.report):
        if path:
            print(f"wrote {path}", file=sys.stderr)
    return 0


def evaluate(args, run_eval, settings: Settings) -> None:
    """One evaluation run of `medcite eval --dataset`."""
    if not args.dataset.is_dir():
        raise CliError(f"no dataset folder at {args.dataset}")
    if args.max_queries is not None and args.max_queries < 1:
        raise CliError("--max-queries must be at least 1")
    kwargs = {"measures": args.measures} if args.measures else {}
    if args.max_queries is not None:
        kwargs["max_queries"] = args.max_queries
    # without --index and MEDCITE_INDEX, eval keeps its own index per dataset and model (eval.runner)
    index_dir = args.index or (settings.index if "index" in settings.model_fields_set else None)
    run_eval(args.dataset, index_dir, args.retrievers, output=args.output, plot=args.plot, fusion=args.fusion,
             baseline=args.baseline, report=args.report, progress=sys.stderr.isatty(), settings=settings,
             top_k=args.top_k, **kwargs)


COMMANDS = {"ingest": cmd_ingest, "serve": cmd_serve, "ask": cmd_ask, "eval": cmd_eval}


def main(argv: list[str] | None = None) -> int:
    """Entry point of the `medcite` console script; returns the exit status."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command == "ask" and not args.question.strip():
        parser.error("the question must not be empty")
    if args.command in ("ask", "eval") and not 1 <= args.top_k <= 20:
        parser.error("--top-k must be between 1 and 20")
    if args.command == "eval" and (args.dataset is None) == (args.compare is None):
        parser.error("eval needs --dataset DIR, or --compare A.json B.json (not both)")
    settings = None
    try:
        settings = Settings()
        return COMMANDS[args.command](args, settings)
    except CliError as exc:
        print(f"medcite: {exc}", file=sys.stderr)
    except KeyboardInterrupt:
        print("medcite: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # noqa: BLE001 - one readable line instead of a traceback
        print(f"medcite: {one_line(exc)}", file=sys.stderr)
        if settings is not None and settings.debug:
            raise
    return 1


if __name__ == "__main__":
    sys.exit(main())
