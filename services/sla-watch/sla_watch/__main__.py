"""`python -m sla_watch` (or `huying-sla-watch`): run the sla-watch service."""

from huying.service import serve
from huying.settings import load_settings
from sla_watch.app import SPEC


def main() -> None:
    serve(SPEC, load_settings(SPEC.settings))


if __name__ == "__main__":
    main()
