from django.contrib import admin

from .models import DeadmanState


@admin.register(DeadmanState)
class DeadmanStateAdmin(admin.ModelAdmin):
    """Read-only: what the dead-man check last announced and what it still has to send."""

    list_display = ("__str__", "since", "pending_kind", "last_sent_at")
    readonly_fields = [f.name for f in DeadmanState._meta.fields]

    def has_add_permission(self, request):
        return False
