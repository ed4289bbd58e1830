"""Errors that speak to the user: one line naming what was wrong, where, and the fix."""


class MlpzooError(ValueError):
    """Base class for every error mlpzoo raises on purpose."""


class DataError(MlpzooError):
    """A data file or data value is missing, malformed or out of range."""


class DataMissingError(DataError, FileNotFoundError):
    """A data set file is not in the data directory (and could not be fetched)."""


class ConfigError(MlpzooError):
    """A configuration key or value is unknown or of the wrong type."""


class CheckpointError(MlpzooError):
    """A checkpoint file is truncated, corrupt or does not match the model."""


class TrainingError(MlpzooError):
    """Training cannot go on: it would take no step, or the loss became NaN or infinite."""
