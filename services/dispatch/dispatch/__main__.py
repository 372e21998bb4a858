"""`python -m dispatch` (or `huying-dispatch`): run the dispatch service."""

from dispatch.app import SPEC
from huying.service import serve
from huying.settings import load_settings


def main() -> None:
    serve(SPEC, load_settings(SPEC.settings))


if __name__ == "__main__":
    main()
