"""The production static files storage: whitenoise's hashed, pre-compressed copies."""
from whitenoise.storage import CompressedManifestStaticFilesStorage


class StaticStorage(CompressedManifestStaticFilesStorage):
    """Like whitenoise's, but JavaScript is not searched for `sourceMappingURL`: the vendored
    Chart.js build names a source map we do not ship, which would otherwise fail collectstatic.
    CSS references (url(), @import) are still rewritten to the hashed names."""

    patterns = tuple((glob, rules) for glob, rules in CompressedManifestStaticFilesStorage.patterns if glob != "*.js")
