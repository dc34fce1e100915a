"""`python -m index [PATH ...]` builds the index: it is `medcite ingest ...`."""
import sys


def run() -> int:
    """Hand the arguments to the ingest command of the medcite CLI."""
    from service.cli import main

    return main(["ingest", *sys.argv[1:]])


if __name__ == "__main__":
    sys.exit(run())
