"""Feature extractors, one concern per module. Each takes a j2a.audio.Audio and returns a dataclass
from j2a.analysis. Heavy models load once per process and are cached at module level."""
