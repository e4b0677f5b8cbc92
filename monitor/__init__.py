"""The monitor path: the real-time correction engine (offline and live), verification of the
calibrated room and its history.  Imports ``calib`` and the backend *protocol* of
``hardware``; the concrete backend is injected."""
