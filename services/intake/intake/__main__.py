"""`python -m intake` (or `huying-intake`): run the intake service."""

from huying.service import serve
from huying.settings import load_settings
from intake.app import SPEC


def main() -> None:
    serve(SPEC, load_settings(SPEC.settings))


if __name__ == "__main__":
    main()
