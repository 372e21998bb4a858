"""`python -m notify` (or `huying-notify`): run the notify service."""

from huying.service import serve
from huying.settings import load_settings
from notify.app import SPEC


def main() -> None:
    serve(SPEC, load_settings(SPEC.settings))


if __name__ == "__main__":
    main()
