"""Recovery codes: 10 single-use codes of 80 bits, stored only as salted hashes."""

import secrets

from django.contrib.auth.hashers import PBKDF2PasswordHasher
from django.db import transaction
from django.utils import timezone

from ..models import RecoveryCode, User

COUNT = 10
ALPHABET = "abcdefghijklmnopqrstuvwxyz234567"  # base32, lower case: 5 bits a character
GROUPS, GROUP_LENGTH = 4, 4  # 16 characters = 80 bits


class RecoveryCodeHasher(PBKDF2PasswordHasher):
    """PBKDF2 with few iterations: an 80-bit random code needs no slow hash against
    guessing, and a sign-in may have to check all ten codes."""

    algorithm = "pbkdf2_sha256_recovery"
    iterations = 20_000


HASHER = RecoveryCodeHasher()


def recovery_code_normalize(raw: str) -> str:
    """Return the code as 16 lower-case characters, dropping spaces and dashes."""
    return "".join(ch for ch in raw.lower() if ch not in " -\t")


def recovery_code_format(compact: str) -> str:
    """Return "abcdefghijklmnop" as "abcd-efgh-ijkl-mnop"."""
    return "-".join(compact[i : i + GROUP_LENGTH] for i in range(0, len(compact), GROUP_LENGTH))


def recovery_codes_generate(user: User) -> list[str]:
    """Replace the user's recovery codes with 10 new ones and return them in clear, once."""
    codes = [
        "".join(secrets.choice(ALPHABET) for _ in range(GROUPS * GROUP_LENGTH))
        for _ in range(COUNT)
    ]
    with transaction.atomic():
        RecoveryCode.objects.filter(user=user).delete()
        RecoveryCode.objects.bulk_create(
            RecoveryCode(user=user, code_hash=HASHER.encode(code, HASHER.salt())) for code in codes
        )
    return [recovery_code_format(code) for code in codes]


def recovery_codes_left(user: User) -> int:
    """Return how many unused recovery codes the user has."""
    return RecoveryCode.objects.filter(user=user).unused().count()


def recovery_code_use(*, user: User, code: str) -> int | None:
    """Use up the matching unused code. Returns how many codes are left, or None if no code
    matched (the caller counts that as a failed attempt)."""
    compact = recovery_code_normalize(code)
    if len(compact) != GROUPS * GROUP_LENGTH:
        return None
    with transaction.atomic():
        candidates = RecoveryCode.objects.select_for_update().filter(user=user).unused()
        match = next((c for c in candidates if HASHER.verify(compact, c.code_hash)), None)
        if match is None:
            return None
        match.used_at = timezone.now()
        match.save(update_fields=["used_at"])
    return recovery_codes_left(user)
