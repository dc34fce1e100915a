"""`python -m eval ...` is `medcite eval ...`."""
import sys


def run() -> int:
    """Hand the arguments to the eval command of the medcite CLI."""
    from service.cli import main

    return main(["eval", *sys.argv[1:]])


if __name__ == "__main__":
    sys.exit(run())
