"""`python -m dispatch` (or `huying-dispatch`): run the dispatch service."""

from huying.service import serve
from huying.settings import load_settings
from dispatch.app import SPEC


def main() -> None:
    serve(SPEC, load_settings(SPEC.settings))


if __name__ == "__main__":
    main()
