from rest_framework import serializers

from apps.audit.models import AuditEntry


class AuditEntryOutputSerializer(serializers.ModelSerializer):
    """One entry as stored; `changes` parsed from its canonical JSON text."""

    changes = serializers.JSONField(source="changes_data", read_only=True)

    class Meta:
        model = AuditEntry
        fields = (
            "seq", "timestamp", "actor_id", "actor_name", "actor_role", "action",
            "object_type", "object_id", "object_repr", "team_id", "changes", "ip",
            "request_id", "interface", "prev_hash", "hash",
        )
        read_only_fields = fields


class ChainHeadOutputSerializer(serializers.Serializer):
    seq = serializers.IntegerField()
    hash = serializers.CharField()
