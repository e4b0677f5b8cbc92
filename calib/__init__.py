"""roomtruth's measurement and analysis core.

Imports only numpy, scipy, soundfile and itself.  Holds the core data types
(:mod:`calib.types`, :mod:`calib.profile`), signals and deconvolution, analysis and
correction design.
"""

from calib.errors import (  # noqa: F401
    ConfigError,
    DeviceError,
    MeasurementError,
    ProfileError,
    RoomtruthError,
    SignalError,
    StorageError,
    VerificationError,
)

__version__ = "0.1.0"
