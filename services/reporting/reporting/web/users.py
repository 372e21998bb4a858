"""The dashboard's local users (`make run`): a YAML file of username, argon2id hash, role and teams.

A deployment signs people in through its identity provider instead and mints the same tokens (`huying.token`).
`python -m reporting.web.users` hashes a password (read from stdin) for the file.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from pathlib import Path

import yaml
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from huying.access import Role

HASHER = PasswordHasher()  # argon2id with argon2-cffi's defaults (RFC 9106 low-memory profile)
# Verified when the username is unknown, so a wrong name takes as long as a wrong password (no user enumeration).
_DUMMY = HASHER.hash("no such user")


@dataclass(frozen=True)
class User:
    username: str
    password_hash: str
    role: Role
    teams: list[str] = field(default_factory=list)
    name: str = ""


def hash_password(password: str) -> str:
    return HASHER.hash(password)


def load_users(path: Path) -> dict[str, User]:
    """Users by username; ValueError naming the entry for a bad one."""
    data = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
    users: dict[str, User] = {}
    for i, raw in enumerate(data.get("users", [])):
        try:
            user = User(str(raw["username"]), str(raw["password_hash"]), Role(raw["role"]),
                        [str(t) for t in raw.get("teams", [])], str(raw.get("name", "")))  # fmt: skip
        except (KeyError, ValueError, TypeError) as error:
            raise ValueError(f"{path}: user #{i + 1} is not username, password_hash, role, teams: {error}") from None
        if user.username in users:
            raise ValueError(f"{path}: user {user.username!r} appears twice")
        users[user.username] = user
    return users


DEMO_USERS = Path(__file__).resolve().parents[1] / "config" / "users.yaml"


def demo_refused(users_file: Path, env: str, allowed: bool) -> bool:
    """True when sign-in must be refused: the demo users file (every password `huying-demo`, in the repository)
    outside development, unless explicitly allowed (HUYING_REPORTING_DEMO_USERS, for tests)."""
    return env != "development" and not allowed and Path(users_file).resolve() == DEMO_USERS


def authenticate(users: dict[str, User], username: str, password: str) -> User | None:
    """The user whose password this is, or None (unknown name or wrong password, told apart by nobody)."""
    user = users.get(username)
    try:
        HASHER.verify(user.password_hash if user else _DUMMY, password)
    except (VerificationError, InvalidHashError):
        return None
    return user


if __name__ == "__main__":
    print(hash_password(sys.stdin.readline().rstrip("\n")))
