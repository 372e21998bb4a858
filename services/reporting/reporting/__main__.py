"""`python -m reporting` (or `huying-reporting`): run the reporting service."""

from huying.service import serve
from huying.settings import load_settings
from reporting.app import SPEC


def main() -> None:
    serve(SPEC, load_settings(SPEC.settings))


if __name__ == "__main__":
    main()
