from django.contrib import admin

from .models import RecommenderModel


@admin.register(RecommenderModel)
class RecommenderModelAdmin(admin.ModelAdmin):
    """Read-only: each row is a training run; train with `manage.py train-recommender` or the schedule."""

    list_display = ["trained_at", "status", "auc", "auc_low", "auc_high", "base_rate", "n_train", "n_test",
                    "n_purged", "horizon"]
    list_filter = ["status"]
    exclude = ["blob"]

    def get_readonly_fields(self, request, obj=None):
        return [f.name for f in self.model._meta.fields if f.name != "blob"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False
