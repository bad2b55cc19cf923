"""manage.py verify_audit_trail: walk the hash chain and name the first broken link.

Prints "OK: N entries, head <hash>" and exits 0, or names the first entry whose link or content
does not match (seq, expected and found) and exits 1.
"""

from django.core.management.base import BaseCommand, CommandError

from apps.audit.selectors import chain_verify


class Command(BaseCommand):
    help = "Recompute the audit trail's hash chain; name the first broken link."

    def add_arguments(self, parser):
        parser.add_argument("--chunk-size", type=int, default=2000,
                            help="Entries read per database round trip (default 2000).")

    def handle(self, *args, chunk_size: int, **options):
        if chunk_size < 1:
            raise CommandError("--chunk-size must be at least 1.")
        result = chain_verify(chunk_size=chunk_size)
        if not result.ok:
            raise CommandError(
                f"BROKEN at seq {result.broken_seq}: {result.problem}. "
                f"{result.count} entries before it verified (last good: {result.head})."
            )
        self.stdout.write(f"OK: {result.count} entries, head {result.head.hash} "
                          f"(seq {result.head.seq})")
